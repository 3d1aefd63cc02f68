/**
 * The split data plane without threads: B's control plane is a `Device`, its data plane a
 * `Lane` running on the plan B's `LaneLedger` builds, and what the lane counts comes back
 * through the ledger. A is a whole `Device`. Datagrams are handed over synchronously.
 */
import { strict as assert } from "node:assert";
import { nobleAead } from "../core/aead_noble.ts";
import { DATA_HEADER_BYTES, TAG_BYTES } from "../core/constants.ts";
import { publicKeyOf } from "../core/crypto.ts";
import { Device, type DevicePeer } from "../core/device.ts";
import { Lane } from "../core/lane.ts";
import { laneStatsMemory } from "../core/lane_plan.ts";
import type { Endpoint } from "../core/path.ts";
import { ipv4Packet, packetId, SeededRng } from "../../tests/_packets.ts";
import { LaneLedger } from "./lane_ledger.ts";

const A: Endpoint = { hostname: "192.0.2.1", port: 51820 };
const B: Endpoint = { hostname: "192.0.2.2", port: 51820 };
const ip = (s: string) => new Uint8Array(s.split(".").map(Number));

function peerOf(seed: number, endpoint: Endpoint | null, address: string): DevicePeer {
  return {
    publicKey: publicKeyOf(new Uint8Array(32).fill(seed)),
    name: `peer${seed}`,
    endpoints: endpoint ? [endpoint] : [],
    persistentKeepaliveSeconds: 0,
    allowedIps: [{ bytes: ip(address), prefixLength: 32 }],
  };
}

/** A and B (device + lane), a queue of datagrams in flight, and what each side delivered. */
function pair() {
  const inFlight: { to: Endpoint; bytes: Uint8Array }[] = [];
  const delivered = { a: [] as Uint8Array[], b: [] as Uint8Array[] };
  const common = {
    locals: [{ family: 4 as const, backup: false, priority: 0 }],
    backend: nobleAead,
    epochOffsetMs: 1.7e12,
  };
  const output = (to: Endpoint, into: Uint8Array[]) => ({
    transmit: (_l: number, _to: Endpoint, buf: Uint8Array, length: number) =>
      void inFlight.push({ to, bytes: buf.slice(0, length) }),
    deliver: (buf: Uint8Array, offset: number, length: number) =>
      void into.push(buf.slice(offset, offset + length)),
  });
  const a = new Device({
    ...common,
    privateKey: new Uint8Array(32).fill(1),
    peers: [peerOf(2, B, "10.77.0.2")],
    rng: new SeededRng(1),
    output: output(B, delivered.a),
  });
  const b = new Device({
    ...common,
    privateKey: new Uint8Array(32).fill(2),
    peers: [peerOf(1, null, "10.77.0.1")],
    rng: new SeededRng(2),
    output: output(A, delivered.b),
    keepSessionKeys: true,
  });
  const stats = new Float64Array(laneStatsMemory());
  const ledger = new LaneLedger(b, [stats]);
  const lane = new Lane({
    backend: nobleAead,
    output: output(A, delivered.b),
    stats,
    clockOffsetMs: 0,
    events: {
      datagram: (buf, length, local, from) => b.handleDatagram(buf, length, local, from, now),
      packet: (buf, offset, length) => {
        const copy = new Uint8Array(length + DATA_HEADER_BYTES + TAG_BYTES);
        copy.set(buf.subarray(offset, offset + length), DATA_HEADER_BYTES);
        b.handleOutbound(copy, length, now);
      },
      arrival: (index, local, from, length) => b.handleLaneArrival(index, local, from, length, now),
      frame: (index, local, from, buf, offset, length) =>
        b.handleLaneFrame(index, local, from, buf.slice(offset, offset + length), now),
      rekey: () => {},
      traffic: () => {},
    },
  });
  let now = 0;
  /** Delivers everything in flight (B's datagrams go to the lane), `copies` times each. */
  const pump = (copies = 1) => {
    while (inFlight.length > 0) {
      const { to, bytes } = inFlight.shift()!;
      for (let c = 0; c < copies; c++) {
        const copy = bytes.slice();
        if (to === A) a.handleDatagram(copy, copy.length, 0, B, now);
        else lane.handleDatagram(copy, copy.length, 0, A, now);
      }
    }
    const plan = ledger.plan(now);
    if (plan) lane.apply(plan);
  };
  const tick = (ms: number) => {
    now += ms;
    ledger.fold();
    a.handleTimeout(now);
    b.handleTimeout(now);
    pump();
  };
  return { a, b, lane, ledger, delivered, pump, tick, now: () => now };
}

function packet(src: string, dst: string, id: number): [Uint8Array, number] {
  const p = ipv4Packet(src, dst, id);
  const buf = new Uint8Array(p.length + DATA_HEADER_BYTES + TAG_BYTES);
  buf.set(p, DATA_HEADER_BYTES);
  return [buf, p.length];
}

Deno.test("a lane opens and seals for the device: each packet once, counts folded back", () => {
  const t = pair();
  t.a.start(0);
  t.pump();
  for (let i = 0; i < 5; i++) t.tick(10); // handshake confirmed, paths probed and active
  const bPeer = t.b.peers[0];
  assert.ok(bPeer.currentSession, "B has a session");
  assert.equal(bPeer.paths[0].state, "active", "B's path to A is active");

  // A -> B: every datagram arrives twice (two paths); the lane delivers each packet once.
  for (let id = 1; id <= 20; id++) t.a.handleOutbound(...packet("10.77.0.1", "10.77.0.2", id), 0);
  t.pump(2);
  assert.deepEqual(t.delivered.b.map(packetId), Array.from({ length: 20 }, (_, i) => i + 1));
  assert.equal(t.lane.drops.duplicate, 20);

  // B -> A through the lane's own sealing, on the session's shared counter.
  for (let id = 1; id <= 10; id++) {
    t.lane.handleOutbound(...packet("10.77.0.2", "10.77.0.1", 100 + id), t.now());
  }
  t.pump();
  assert.deepEqual(t.delivered.a.map(packetId), Array.from({ length: 10 }, (_, i) => 101 + i));

  // The device sees the lane's traffic.
  t.ledger.fold();
  assert.equal(bPeer.counters.packetsReceived, 20);
  assert.equal(bPeer.counters.duplicatesDropped, 20);
  assert.ok(bPeer.counters.packetsSent >= 10);
  assert.equal(bPeer.paths[0].firstArrivals, 20);
});

Deno.test("a lane hands packets without a session and handshakes to the device", () => {
  const t = pair();
  t.pump(); // the first plan: peers and allowed IPs, no session yet
  // No session: the packet goes to B's device, which holds it (B has no endpoint to start a
  // handshake from). A's initiation reaches B's device through the lane; once the session is
  // confirmed, the device sends the held packet.
  t.lane.handleOutbound(...packet("10.77.0.2", "10.77.0.1", 7), 0);
  assert.equal(t.lane.drops.noRoute, 0);
  t.a.start(0);
  t.pump();
  for (let i = 0; i < 5; i++) t.tick(10);
  assert.ok(t.b.peers[0].currentSession, "the handshake went through the lane to the device");
  assert.deepEqual(t.delivered.a.map(packetId), [7]);
});
