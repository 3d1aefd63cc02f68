/**
 * Per-packet cost of the hot pieces of the core: the replay window, the allowed-IPs trie, the
 * data header, and a whole `Device.handleOutbound` → `Device.handleDatagram` trip between two
 * devices wired in memory (OpenSSL AEAD when available, noble for comparison). A last bench
 * pushes 100k packets through that trip and prints `Deno.memoryUsage()` before and after, to
 * judge whether the steady state allocates per packet.
 *
 *   deno bench --allow-all bench/core_bench.ts
 */
import type { AeadBackend } from "../lib/core/aead.ts";
import { nobleAead } from "../lib/core/aead_noble.ts";
import { AllowedIps } from "../lib/core/allowed_ips.ts";
import { DATA_HEADER_BYTES } from "../lib/core/constants.ts";
import { Device } from "../lib/core/device.ts";
import { publicKeyOf } from "../lib/core/crypto.ts";
import type { Endpoint } from "../lib/core/path.ts";
import { writeDataHeader } from "../lib/core/peer.ts";
import { ReplayWindow } from "../lib/core/replay.ts";
import type { Rng } from "../lib/core/rng.ts";
import { openOpensslAead } from "../ffi/openssl_aead.ts";

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

// ---- Two devices in memory ----

/** Deterministic bytes for keys and indices (the bench needs no real randomness). */
class BenchRng implements Rng {
  #s = 0x9e3779b9;
  fill(bytes: Uint8Array): void {
    for (let i = 0; i < bytes.length; i++) {
      let x = this.#s;
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      this.#s = x >>> 0;
      bytes[i] = x & 0xff;
    }
  }
}

const SLOTS = 256;
const SLOT_BYTES = 2048;

/**
 * Peer A and peer B joined by `links` in-memory links (A's local end i to B's local end i).
 * Datagrams are copied into a preallocated ring of slots and handed to the other device when
 * `pump()` runs, so nothing is allocated per packet by the wiring itself.
 */
class Wire {
  readonly a: Device;
  readonly b: Device;
  readonly addrA: Endpoint[];
  readonly addrB: Endpoint[];
  now = 1_000;
  delivered = 0;
  deliveredBytes = 0;
  readonly #slots = Array.from({ length: SLOTS }, () => new Uint8Array(SLOT_BYTES));
  readonly #length = new Int32Array(SLOTS);
  readonly #local = new Int32Array(SLOTS);
  /** 0: to A, 1: to B. */
  readonly #toB = new Uint8Array(SLOTS);
  #head = 0;
  #tail = 0;

  constructor(backend: AeadBackend, links: number) {
    const rng = new BenchRng();
    const keyA = new Uint8Array(32).fill(1);
    const keyB = new Uint8Array(32).fill(2);
    this.addrA = Array.from(
      { length: links },
      (_, i) => ({ hostname: `10.0.${i}.1`, port: 51820 }),
    );
    this.addrB = Array.from(
      { length: links },
      (_, i) => ({ hostname: `10.0.${i}.2`, port: 51820 }),
    );
    const make = (me: Uint8Array, them: Uint8Array, endpoints: Endpoint[], inner: number[]) => {
      const toB = me === keyA;
      return new Device({
        privateKey: me,
        peers: [{
          publicKey: publicKeyOf(them),
          name: toB ? "B" : "A",
          endpoints,
          persistentKeepaliveSeconds: 0,
          allowedIps: [{ bytes: new Uint8Array(inner), prefixLength: 32 }],
        }],
        locals: endpoints.map(() => ({ family: 4, backup: false, priority: 0 })),
        rng,
        backend,
        epochOffsetMs: 1.7e12,
        output: {
          transmit: (local, to, bytes) => this.#enqueue(toB, local, to, bytes),
          deliver: (packet) => {
            this.delivered++;
            this.deliveredBytes += packet.length;
          },
        },
      });
    };
    this.a = make(keyA, keyB, this.addrB, [10, 77, 0, 2]);
    this.b = make(keyB, keyA, this.addrA, [10, 77, 0, 1]);
  }

  #enqueue(toB: boolean, local: number, to: Endpoint, bytes: Uint8Array): void {
    const there = toB ? this.addrB : this.addrA;
    if (there[local]?.hostname !== to.hostname) return; // cross pairs do not route
    if (this.#tail - this.#head >= SLOTS) throw new Error("wire ring overflow");
    const slot = this.#tail++ % SLOTS;
    this.#slots[slot].set(bytes);
    this.#length[slot] = bytes.length;
    this.#local[slot] = local;
    this.#toB[slot] = toB ? 1 : 0;
  }

  /** Delivers every queued datagram, including the ones sent while delivering. */
  pump(): void {
    while (this.#head < this.#tail) {
      const slot = this.#head++ % SLOTS;
      const local = this.#local[slot];
      if (this.#toB[slot] === 1) {
        this.b.handleDatagram(
          this.#slots[slot],
          this.#length[slot],
          local,
          this.addrA[local],
          this.now,
        );
      } else {
        this.a.handleDatagram(
          this.#slots[slot],
          this.#length[slot],
          local,
          this.addrB[local],
          this.now,
        );
      }
    }
  }

  /** Handshake, then timer ticks until every path is validated both ways. */
  connect(): void {
    this.a.start(this.now);
    this.pump();
    for (let i = 0; i < 5; i++) {
      this.now += 100;
      this.a.handleTimeout(this.now);
      this.b.handleTimeout(this.now);
      this.pump();
    }
    if (!this.a.peers[0].currentSession || !this.b.peers[0].currentSession) {
      throw new Error("bench wiring: handshake did not complete");
    }
    // Each side has links × links paths; only the direct pairs (local i to remote i) route.
    for (const side of [this.a, this.b]) {
      const active = side.peers[0].paths.filter((p) => p.state === "active").length;
      if (active !== this.addrA.length) {
        throw new Error(`bench wiring: ${active} active paths, expected ${this.addrA.length}`);
      }
    }
  }
}

/** An IPv4/UDP packet from 10.77.0.1 to 10.77.0.2 of `size` bytes. */
function innerPacket(size: number): Uint8Array {
  const p = new Uint8Array(size);
  p[0] = 0x45;
  p[2] = size >> 8;
  p[3] = size & 0xff;
  p[8] = 64;
  p[9] = 17;
  p.set([10, 77, 0, 1], 12);
  p.set([10, 77, 0, 2], 16);
  for (let i = 20; i < size; i++) p[i] = i;
  return p;
}

/**
 * One packet A → B: copy the inner packet into the TX buffer (as a TUN read would), seal and
 * send (`handleOutbound`), copy each datagram onto the wire slot (as a socket would) and open
 * and deliver it at B (`handleDatagram`). With several links the extra copies are duplicates.
 */
function trip(wire: Wire, tx: Uint8Array, packet: Uint8Array): void {
  tx.set(packet, DATA_HEADER_BYTES);
  wire.a.handleOutbound(tx, packet.length, wire.now);
  wire.pump();
}

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
