import { strict as assert } from "node:assert";
import { capture, FIXTURE_KEY, FIXTURE_PEER_KEY, fixtureStatus } from "../control/_fixture.ts";
import { type ControlServer, serveControl } from "../control/server.ts";
import { interfaceStatus } from "../control/status.ts";
import { Sim } from "../../tests/_sim.ts";
import { bytes, CLEAR_SCREEN, formatStatus, longDuration, shortDuration, show } from "./show.ts";

const EXPECTED = `interface: wg0
  public key: ${FIXTURE_KEY}
  listening on: 192.0.2.1:51820, [2001:db8::1]:51820 (backup)
  backends: tun=ffi udp=deno aead=noble
  uptime: 1 hour, 2 minutes, 3 seconds
  drops: unknown_index 3, duplicate 1200
  socket #0 192.0.2.1:51820: 2 send errors (last: No route to host)

peer: ${FIXTURE_PEER_KEY}
  mode: duplicate
  latest handshake: 42 seconds ago
  transfer: 1.50 MiB received, 3.00 MiB sent
  packets: 1500 received, 2000 sent, 1200 duplicates dropped
  paths:
    PATH                                          STATE                RTT             LOSS  SENT         RECEIVED    DUP  FIRST  HEARD
    192.0.2.1:51820 -> 198.51.100.7:51820         active               12.5 ± 1.25 ms  1.5%  2.00 MiB     1.00 MiB    250  80.0%  0.5s ago
    [2001:db8::1]:51820 -> [2001:db8::7]:51820 *  validating (backup)  -               -     96 B         512.00 KiB  950  20.0%  1.0s ago
    192.0.2.1:51820 -> 203.0.113.9:4500           down                 -               -     1023.91 KiB  0 B         0    0.0%   never
    * learned from the peer's traffic (not in the config file)
`;

/** Serves the fixture for each name in a fresh temp dir. */
async function serving(names: string[]): Promise<{ dir: string; close(): Promise<void> }> {
  const dir = await Deno.makeTempDir();
  const servers: ControlServer[] = [];
  for (const name of names) {
    servers.push(
      await serveControl({
        name,
        dir,
        status: () => fixtureStatus(name),
        onShutdown: () => {},
        onReload: () => Promise.resolve(""),
      }),
    );
  }
  return {
    dir,
    close: async () => {
      for (const s of servers) await s.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

Deno.test("show: human output of a fixture status", () => {
  assert.equal(formatStatus(fixtureStatus()), EXPECTED);
});

Deno.test("show: the io line with offload counters", () => {
  const io = {
    "packets_in": 1_000_000,
    "tun_reads": 10_000,
    "tun_writes": 20_000,
    "super_packets_in": 9_000,
    "segments_cut": 423_000,
    "super_packets_out": 15_000,
    "segments_joined": 480_000,
    "receive_batches": 40_000,
    "send_batches": 10_000,
    polls: 1_000,
    "syscalls_per_packet": 0.081,
  };
  const lines = formatStatus({ ...fixtureStatus(), io }).split("\n");
  assert.ok(
    lines.includes(
      "  io: 0.08 system calls per packet, 47.0 segments per TUN super-packet, " +
        "32.0 segments per joined write",
    ),
    lines.join("\n"),
  );
  const plain = { ...io, "super_packets_in": 0, "super_packets_out": 0 };
  const text = formatStatus({ ...fixtureStatus(), io: plain });
  assert.ok(text.includes("  io: 0.08 system calls per packet\n"), text);
});

Deno.test("show: one named interface, human and JSON, over the socket", async () => {
  const net = await serving(["wg0", "wg1"]);
  try {
    const human = capture();
    assert.equal(
      await show({ iface: "wg0", json: false, watch: false, dir: net.dir, ...human.sinks }),
      0,
    );
    assert.deepEqual(human.out, [EXPECTED]);
    assert.deepEqual(human.err, []);

    const json = capture();
    assert.equal(
      await show({ iface: "wg1", json: true, watch: false, dir: net.dir, ...json.sinks }),
      0,
    );
    assert.equal(json.out.length, 1);
    assert.deepEqual(JSON.parse(json.out[0]), fixtureStatus("wg1"));
  } finally {
    await net.close();
  }
});

Deno.test("show: every running interface", async () => {
  const net = await serving(["wg1", "wg0"]);
  try {
    const json = capture();
    assert.equal(await show({ json: true, watch: false, dir: net.dir, ...json.sinks }), 0);
    assert.deepEqual(JSON.parse(json.out[0]), [fixtureStatus("wg0"), fixtureStatus("wg1")]);

    const human = capture();
    assert.equal(await show({ json: false, watch: false, dir: net.dir, ...human.sinks }), 0);
    assert.equal(
      human.out[0],
      `${EXPECTED}\n${EXPECTED.replace("interface: wg0", "interface: wg1")}`,
    );
  } finally {
    await net.close();
  }
});

Deno.test("show: not running, nothing running, stale sockets", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const named = capture();
    assert.equal(await show({ iface: "wg0", json: false, watch: false, dir, ...named.sinks }), 1);
    assert.deepEqual(named.err, [`interface wg0 is not running (no ${dir}/wg0.sock)\n`]);
    assert.deepEqual(named.out, [""]);

    const none = capture();
    assert.equal(await show({ json: true, watch: false, dir, ...none.sinks }), 0);
    assert.deepEqual(none.out, ["[]\n"]);
    const noneHuman = capture();
    assert.equal(
      await show({ json: false, watch: false, dir: `${dir}/absent`, ...noneHuman.sinks }),
      0,
    );
    assert.deepEqual(noneHuman.out, [""]);

    const bad = capture();
    assert.equal(await show({ iface: "../etc", json: false, watch: false, dir, ...bad.sinks }), 1);
    assert.match(bad.err[0], /not a valid interface name/);

    // A socket left by a process that died: listed, reported, exit 1; the others still shown.
    const path = `${dir}/dead.sock`;
    const bind = `Deno.listen({ transport: "unix", path: ${JSON.stringify(path)} }); Deno.exit(0);`;
    await new Deno.Command(Deno.execPath(), { args: ["eval", bind] }).output();
    const stale = capture();
    assert.equal(await show({ json: true, watch: false, dir, ...stale.sinks }), 1);
    assert.deepEqual(stale.out, ["[]\n"]);
    assert.match(stale.err[0], /interface dead is not running \(stale socket/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("show: --watch redraws until stopped", async () => {
  const net = await serving(["wg0"]);
  try {
    const frames = capture();
    const stop = new AbortController();
    const done = show({
      iface: "wg0",
      json: false,
      watch: true,
      dir: net.dir,
      intervalMs: 10,
      signal: stop.signal,
      ...frames.sinks,
    });
    while (frames.out.length < 3) await new Promise((resolve) => setTimeout(resolve, 5));
    stop.abort();
    assert.equal(await done, 0);
    for (const frame of frames.out) assert.equal(frame, `${CLEAR_SCREEN}${EXPECTED}`);
  } finally {
    await net.close();
  }
});

Deno.test("show: a live simulated device formats", () => {
  const sim = new Sim([{ delayMs: 5 }, { delayMs: 20 }]);
  sim.a.device.start(sim.now);
  sim.run(3_000);
  const text = formatStatus(interfaceStatus({
    name: "sim",
    device: sim.a.device,
    listen: sim.a.addresses,
    backends: {},
    now: sim.now,
    startedAt: 1_000,
  }));
  assert.match(text, /^interface: sim\n/);
  assert.match(text, /10\.0\.0\.1:51820 -> 10\.0\.0\.2:51820 +active +10\.0 ± /);
  assert.match(text, /10\.0\.1\.1:51820 -> 10\.0\.0\.2:51820 +(down|validating) +- +- /);
  assert.ok(!text.includes("learned"));
});

Deno.test("show: mode line", () => {
  const status = fixtureStatus();
  status.peers[0].redundancy = 2;
  assert.ok(formatStatus(status).includes("\n  mode: duplicate on the 2 best paths\n"));
  status.peers[0].mode = "failover";
  status.peers[0].failover_path = "0->198.51.100.7:51820";
  assert.ok(formatStatus(status).includes("\n  mode: failover, using 0->198.51.100.7:51820\n"));
  status.peers[0].mode = "adaptive";
  assert.ok(formatStatus(status).includes("\n  mode: adaptive\n"));
  status.peers[0].paths = [];
  assert.ok(formatStatus(status).endsWith("\n  paths: none\n"));
});

Deno.test("show: clock lines", () => {
  const status = fixtureStatus();
  status.peers[0].clock_offset_seconds = 0.95;
  assert.ok(!formatStatus(status).includes("clock"), "under a second: not shown");
  status.peers[0].clock_offset_seconds = -3_725.5;
  assert.ok(
    formatStatus(status).includes(
      "\n  latest handshake: 42 seconds ago\n  clock: 1 hour, 2 minutes, 5 seconds behind ours\n",
    ),
  );
  status.peers[0].clock_offset_seconds = 10_800;
  status.peers[0].timestamp_ahead_seconds = 10_790;
  assert.ok(
    formatStatus(status).includes(
      "\n  clock: 3 hours ahead of ours\n  newest initiation answered: 2 hours, 59 minutes, 50" +
        " seconds ahead of our clock (older ones are refused; see centipede reset-timestamp)\n",
    ),
  );
  status.peers[0].timestamp_ahead_seconds = 60;
  assert.ok(!formatStatus(status).includes("newest initiation"), "a minute or less: not shown");
});

Deno.test("show: units", () => {
  assert.equal(bytes(0), "0 B");
  assert.equal(bytes(1023), "1023 B");
  assert.equal(bytes(1024), "1.00 KiB");
  assert.equal(bytes(5 * 1024 ** 3), "5.00 GiB");
  assert.equal(longDuration(0.4), "0 seconds");
  assert.equal(longDuration(1), "1 second");
  assert.equal(longDuration(90_061), "1 day, 1 hour, 1 minute, 1 second");
  assert.equal(shortDuration(0.44), "0.4s");
  assert.equal(shortDuration(42.9), "42s");
  assert.equal(shortDuration(184), "3m04s");
  assert.equal(shortDuration(7_500), "2h05m");
  assert.equal(shortDuration(273_600), "3d04h");
});
