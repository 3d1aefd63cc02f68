/**
 * Per-packet cost of the hot pieces of the core: the replay window, the allowed-IPs trie, the
 * data header, and a whole `Device.handleOutbound` → `Device.handleDatagram` trip between two
 * devices wired in memory (OpenSSL AEAD when available, noble for comparison). A last bench
 * pushes 100k packets through that trip and prints `Deno.memoryUsage()` before and after, to
 * judge whether the steady state allocates per packet. `WarmPath.run` is what an idle wake of the
 * engine costs while traffic is recent.
 *
 *   deno bench --allow-all bench/core_bench.ts
 */
import type { AeadBackend } from "../lib/core/aead.ts";
import { nobleAead } from "../lib/core/aead_noble.ts";
import { AllowedIps } from "../lib/core/allowed_ips.ts";
import { writeDataHeader } from "../lib/core/wire.ts";
import { ReplayWindow } from "../lib/core/replay.ts";
import { WarmPath } from "../lib/core/warm_path.ts";
import { openOpensslAead } from "../ffi/openssl_aead.ts";
import { innerPacket, SLOT_BYTES, trip, Wire } from "./_wire.ts";

const openssl = openOpensslAead();
if (!openssl) console.warn("core_bench: libcrypto.so.3 unavailable, using noble only");
const fastest: AeadBackend = openssl ?? nobleAead;
/** Written by the lookup benches so their results are used. */
let sink = 0;

// ---- Small pieces ----

{
  const window = new ReplayWindow();
  let counter = 0;
  Deno.bench({
    name: "ReplayWindow check+accept (in order)",
    group: "replay",
    baseline: true,
    fn() {
      window.check(counter);
      window.accept(counter++);
    },
  });

  const reordered = new ReplayWindow();
  let base = 0;
  let step = 0;
  Deno.bench({
    name: "ReplayWindow check+accept (reordered by up to 7)",
    group: "replay",
    fn() {
      // Counters 7,6,...,0 then 15,14,...,8: every packet but the first of a block is late.
      const c = base + 7 - step;
      reordered.check(c);
      reordered.accept(c);
      if (++step === 8) {
        step = 0;
        base += 8;
      }
    },
  });

  const dup = new ReplayWindow();
  let dupCounter = 0;
  Deno.bench({
    name: "ReplayWindow check of a second-path duplicate",
    group: "replay",
    fn() {
      dup.accept(dupCounter);
      dup.check(dupCounter++);
    },
  });
}

{
  // A table like a small hub's: 200 /32 hosts, 50 /24s, 10 /16s, a default route, some IPv6.
  const table = new AllowedIps<number>();
  for (let i = 0; i < 200; i++) table.insert(new Uint8Array([10, 77, i >> 8, i & 0xff]), 32, i);
  for (let i = 0; i < 50; i++) table.insert(new Uint8Array([172, 16, i, 0]), 24, 1000 + i);
  for (let i = 0; i < 10; i++) table.insert(new Uint8Array([192, 168 + i, 0, 0]), 16, 2000 + i);
  table.insert(new Uint8Array(4), 0, 9999);
  const v6 = new Uint8Array(16);
  v6.set([0xfd, 0x00, 0x77]);
  for (let i = 0; i < 50; i++) {
    v6[15] = i;
    table.insert(v6, 128, 3000 + i);
  }
  table.insert(v6, 64, 4000);
  const packet4 = new Uint8Array(64);
  packet4.set([10, 77, 0, 42], 16);
  const packet6 = new Uint8Array(64);
  packet6.set(v6, 24);
  packet6[24 + 15] = 7;
  Deno.bench({
    name: "AllowedIps.lookup IPv4 /32 hit",
    group: "allowed-ips",
    baseline: true,
    fn() {
      sink += table.lookup(packet4, 16, 4)!;
    },
  });
  const miss4 = new Uint8Array(64);
  miss4.set([8, 8, 8, 8], 16);
  Deno.bench({
    name: "AllowedIps.lookup IPv4 default route",
    group: "allowed-ips",
    fn() {
      sink += table.lookup(miss4, 16, 4)!;
    },
  });
  Deno.bench({
    name: "AllowedIps.lookup IPv6 /128 hit",
    group: "allowed-ips",
    fn() {
      sink += table.lookup(packet6, 24, 6)!;
    },
  });
}

{
  const buf = new Uint8Array(1500);
  let counter = 2 ** 32 - 1000;
  Deno.bench({
    name: "writeDataHeader",
    fn() {
      writeDataHeader(buf, 0x12345678, counter++);
    },
  });
}

{
  // What an idle wake of the engine adds while traffic is recent (lib/core/warm_path.ts).
  const warm = new WarmPath(fastest);
  const table = new AllowedIps<number>();
  table.insert(new Uint8Array(4), 0, 1);
  Deno.bench({
    name: `${fastest.name} WarmPath.run (one stand-in packet, per idle wake)`,
    fn() {
      warm.run(table);
    },
  });
}

// ---- Two devices in memory (bench/_wire.ts) ----

const trips: [AeadBackend, number, number][] = [
  [fastest, 64, 1],
  [fastest, 1400, 1],
  [fastest, 1400, 2],
  [nobleAead, 64, 1],
  [nobleAead, 1400, 1],
];
if (!openssl) trips.splice(0, 3);

for (const [backend, size, links] of trips) {
  const wire = new Wire(backend, links);
  wire.connect();
  const tx = new Uint8Array(SLOT_BYTES);
  const packet = innerPacket(size);
  const label = links === 1 ? "1 path" : `${links} paths (duplicates dropped)`;
  Deno.bench({
    name: `${backend.name} A.handleOutbound → B.handleDatagram ${size} B, ${label}`,
    group: `device trip ${size} B`,
    baseline: backend === fastest && links === 1,
    fn() {
      trip(wire, tx, packet);
    },
  });
}

// ---- Allocation probe ----

function mb(bytes: number): string {
  return (bytes / 2 ** 20).toFixed(2);
}

Deno.bench({
  name: `${fastest.name} 100k packets 1400 B A → B (memory probe, prints a line)`,
  group: "memory",
  n: 1,
  warmup: 0,
  fn() {
    const wire = new Wire(fastest, 1);
    wire.connect();
    const tx = new Uint8Array(SLOT_BYTES);
    const packet = innerPacket(1400);
    const packets = 100_000;
    for (let i = 0; i < 20_000; i++) trip(wire, tx, packet); // warm up: JIT and caches
    const before = Deno.memoryUsage();
    // heapUsed sampled every 1000 packets: the sum of its rises estimates the bytes of JS heap
    // allocated per packet (garbage the scavenger later frees shows up only here).
    let last = before.heapUsed;
    let rises = 0;
    const delivered0 = wire.delivered;
    const t0 = performance.now();
    for (let i = 0; i < packets; i++) {
      trip(wire, tx, packet);
      if (i % 1000 === 999) {
        const used = Deno.memoryUsage().heapUsed;
        if (used > last) rises += used - last;
        last = used;
      }
    }
    const ms = performance.now() - t0;
    const after = Deno.memoryUsage();
    if (wire.delivered - delivered0 !== packets) {
      throw new Error(`delivered ${wire.delivered - delivered0} of ${packets}`);
    }
    console.log(
      `memory probe (${fastest.name}, ${packets} packets of 1400 B, ` +
        `${(ms * 1000 / packets).toFixed(2)} µs/packet): ` +
        `rss ${mb(before.rss)} → ${mb(after.rss)} MiB, ` +
        `heapUsed ${mb(before.heapUsed)} → ${mb(after.heapUsed)} MiB, ` +
        `external ${mb(before.external)} → ${mb(after.external)} MiB, ` +
        `JS heap allocated ≈ ${(rises / packets).toFixed(0)} B/packet`,
    );
  },
});
