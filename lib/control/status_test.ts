import { strict as assert } from "node:assert";
import { encodeKey } from "../config/base64_key.ts";
import { DROP_REASONS } from "../core/drops.ts";
import { ipv4Packet } from "../../tests/_packets.ts";
import { Sim } from "../../tests/_sim.ts";
import { hostPort, interfaceStatus, snakeCase, STATUS_SCHEMA } from "./status.ts";

const BACKENDS = { tun: "ffi", udp: "deno", aead: "noble" };

/** Two links (5 ms and 20 ms one way), handshake done, 100 packets A->B. */
function runningSim(): Sim {
  const sim = new Sim([{ delayMs: 5 }, { delayMs: 20 }]);
  sim.a.device.start(sim.now);
  sim.run(3_000);
  for (let i = 0; i < 100; i++) {
    sim.send("a", ipv4Packet("10.77.0.1", "10.77.0.2", i));
    sim.run(2);
  }
  sim.run(500);
  return sim;
}

function statusOf(sim: Sim, side: "a" | "b") {
  const s = side === "a" ? sim.a : sim.b;
  return interfaceStatus({
    name: `wg${side}`,
    device: s.device,
    listen: s.addresses.map((e) => ({ hostname: e.hostname, port: e.port })),
    backends: BACKENDS,
    now: sim.now,
    startedAt: 1_000,
  });
}

Deno.test("status: interface fields", () => {
  const sim = runningSim();
  const status = statusOf(sim, "a");
  assert.equal(status.schema, STATUS_SCHEMA);
  assert.equal(status.interface, "wga");
  assert.equal(status.public_key, encodeKey(sim.a.device.publicKey));
  assert.deepEqual(status.listen, [
    { index: 0, address: "10.0.0.1:51820", backup: false, priority: 0, stats: null },
    { index: 1, address: "10.0.1.1:51820", backup: false, priority: 0, stats: null },
  ]);
  assert.deepEqual(status.backends, BACKENDS);
  assert.equal(status.uptime_seconds, (sim.now - 1_000) / 1000);
  assert.deepEqual(Object.keys(status.drops), DROP_REASONS.map(snakeCase));
  assert.ok("unknown_index" in status.drops && "tun_write_failed" in status.drops);
  assert.equal(status.peers.length, 1);
});

Deno.test("status: every path field mirrors the core's path", () => {
  const sim = runningSim();
  for (const side of ["a", "b"] as const) {
    const core = (side === "a" ? sim.a : sim.b).device.peers[0];
    const peer = statusOf(sim, side).peers[0];
    assert.equal(peer.paths.length, core.paths.length);
    for (const p of peer.paths) {
      const c = core.paths.find((x) =>
        x.local === p.local_index && hostPort(x.remote.hostname, x.remote.port) === p.remote
      )!;
      assert.ok(c, `core path for ${p.remote}`);
      assert.equal(p.local_address, statusOf(sim, side).listen[c.local].address);
      assert.equal(p.state, c.state);
      assert.equal(p.configured, c.configured);
      assert.equal(p.backup, c.backup);
      assert.equal(p.priority, c.priority);
      assert.equal(p.packets_sent, c.packetsSent);
      assert.equal(p.bytes_sent, c.bytesSent);
      assert.equal(p.packets_received, c.packetsReceived);
      assert.equal(p.bytes_received, c.bytesReceived);
      assert.equal(p.duplicates, c.duplicates);
      assert.equal(p.first_arrivals, c.firstArrivals);
      if (c.srttMs === 0) {
        assert.equal(p.rtt_ms, null);
        assert.equal(p.loss, null);
      } else {
        assert.ok(Math.abs(p.rtt_ms! - c.srttMs) < 0.001);
        assert.ok(Math.abs(p.rttvar_ms! - c.rttvarMs) < 0.001);
        assert.ok(Math.abs(p.loss! - c.lossRate) < 1e-6);
      }
      const heard = c.lastReceiveAt === -Infinity ? null : (sim.now - c.lastReceiveAt) / 1000;
      assert.equal(p.last_heard_seconds_ago, heard === null ? null : Math.round(heard * 1e3) / 1e3);
    }
    // Stable order: local index, then remote address.
    const order = peer.paths.map((p) => `${p.local_index} ${p.remote}`);
    assert.deepEqual(order, [...order].sort());
  }
});

Deno.test("status: peer of the initiator (configured endpoints)", () => {
  const sim = runningSim();
  const peer = statusOf(sim, "a").peers[0];
  const core = sim.a.device.peers[0];
  assert.equal(peer.public_key, encodeKey(core.publicKey));
  assert.equal(peer.name, "B");
  assert.equal(peer.mode, "duplicate");
  assert.equal(peer.redundancy, 0);
  assert.equal(peer.failover_path, null);
  assert.ok(peer.handshakes_completed >= 1);
  assert.equal(peer.handshakes_completed, core.counters.handshakesCompleted);
  assert.ok(peer.latest_handshake_seconds_ago !== null && peer.latest_handshake_seconds_ago > 0);
  assert.ok(peer.session_age_seconds !== null);
  // Both simulated clocks agree: B's response timestamp is behind by the 10 ms it took to come.
  assert.equal(peer.clock_offset_seconds, Math.round(core.clockOffsetMs!) / 1000);
  assert.ok(peer.clock_offset_seconds! <= 0 && peer.clock_offset_seconds! > -0.05);
  assert.equal(peer.timestamp_ahead_seconds, 0);
  assert.equal(peer.packets_sent, 100);
  assert.equal(peer.packets_received, 0);
  assert.ok(peer.paths.every((p) => p.configured));
  const active = peer.paths.filter((p) => p.state === "active");
  assert.equal(active.length, 2, "one path per link");
  assert.deepEqual(active.map((p) => Math.round(p.rtt_ms!)), [10, 40]);
  assert.ok(
    active.every((p) => p.last_heard_seconds_ago! < 5 && p.state_since_seconds_ago !== null),
  );
  const silent = peer.paths.filter((p) => p.state !== "active");
  assert.ok(silent.every((p) => p.rtt_ms === null && p.last_heard_seconds_ago === null));
  assert.ok(peer.paths.every((p) => p.first_arrival_share === null), "A received no packets");
  assert.equal(peer.bytes_sent, peer.paths.reduce((s, p) => s + p.bytes_sent, 0));
  assert.equal(peer.bytes_received, peer.paths.reduce((s, p) => s + p.bytes_received, 0));
});

Deno.test("status: first arrivals and shares on the receiver (learned paths)", () => {
  const sim = runningSim();
  const status = statusOf(sim, "b");
  const peer = status.peers[0];
  const core = sim.b.device.peers[0];
  assert.equal(peer.packets_received, sim.b.delivered.length);
  assert.equal(peer.packets_received, 100);
  assert.equal(peer.duplicates_dropped, core.counters.duplicatesDropped);
  assert.ok(peer.paths.reduce((s, p) => s + p.duplicates, 0) <= peer.duplicates_dropped);
  assert.equal(status.drops.duplicate, sim.b.device.drops.duplicate);
  assert.equal(peer.paths.length, 2);
  assert.ok(peer.paths.every((p) => !p.configured && p.state === "active"));
  assert.deepEqual(peer.paths.map((p) => p.remote), ["10.0.0.1:51820", "10.0.1.1:51820"]);
  assert.equal(peer.paths.reduce((s, p) => s + p.first_arrivals, 0), 100);
  for (const p of peer.paths) assert.equal(p.first_arrival_share, p.first_arrivals / 100);
  const [fast, slow] = peer.paths;
  assert.ok(fast.first_arrivals > slow.first_arrivals, "the 5 ms link wins");
});

Deno.test("status: failover mode names the path carrying the traffic", () => {
  const sim = runningSim();
  sim.a.device.peers[0].scheduler.mode = "failover";
  for (let i = 0; i < 20; i++) {
    sim.send("a", ipv4Packet("10.77.0.1", "10.77.0.2", 1000 + i));
    sim.run(5);
  }
  const peer = statusOf(sim, "a").peers[0];
  assert.equal(peer.mode, "failover");
  assert.equal(peer.failover_path, "0->10.0.0.2:51820");
});

Deno.test("status: JSON round trip is lossless (plain data only)", () => {
  const sim = runningSim();
  for (const side of ["a", "b"] as const) {
    const status = statusOf(sim, side);
    assert.deepEqual(JSON.parse(JSON.stringify(status)), status);
  }
});

Deno.test("status: a peer that never completed a handshake", () => {
  const sim = new Sim([{ delayMs: 5, up: false }]);
  sim.a.device.start(sim.now);
  sim.run(1_500);
  const peer = statusOf(sim, "a").peers[0];
  assert.equal(peer.latest_handshake_seconds_ago, null);
  assert.equal(peer.session_age_seconds, null);
  assert.equal(peer.handshakes_completed, 0);
  assert.equal(peer.clock_offset_seconds, null);
  assert.equal(peer.timestamp_ahead_seconds, 0);
  assert.equal(peer.paths[0].state, "validating");
  assert.equal(peer.paths[0].state_since_seconds_ago, null);
  assert.equal(peer.paths[0].last_heard_seconds_ago, null);
});

Deno.test("status: socket counters and out-of-range local index", () => {
  const sim = runningSim();
  const status = interfaceStatus({
    name: "wg0",
    device: sim.a.device,
    listen: [{
      hostname: "::",
      port: 51820,
      stats: { sent: 5, sendErrors: 1, sendDropped: 2, receiveErrors: 3, lastSendError: "boom" },
    }],
    backends: {},
    now: sim.now,
    startedAt: sim.now + 5, // a clock oddity never gives a negative uptime
  });
  assert.deepEqual(status.listen, [{
    index: 0,
    address: "[::]:51820",
    backup: false,
    priority: 0,
    stats: {
      datagrams_sent: 5,
      send_errors: 1,
      send_dropped: 2,
      receive_errors: 3,
      segmented_sends: 0,
      coalesced_receives: 0,
      last_send_error: "boom",
    },
  }]);
  assert.equal(status.uptime_seconds, 0);
  const paths = status.peers[0].paths;
  assert.equal(paths[0].local_address, "[::]:51820");
  assert.equal(paths[3].local_address, null);
});

Deno.test("status: helpers", () => {
  assert.equal(hostPort("2001:db8::1", 1), "[2001:db8::1]:1");
  assert.equal(hostPort("192.0.2.1", 51820), "192.0.2.1:51820");
  assert.equal(snakeCase("unknownIndex"), "unknown_index");
  assert.equal(snakeCase("tunWriteFailed"), "tun_write_failed");
  assert.equal(snakeCase("truncated"), "truncated");
});
