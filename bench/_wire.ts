/**
 * Two devices wired in memory for benches: A's local end i to B's local end i, datagrams
 * copied through a preallocated ring, so the wiring allocates nothing per packet.
 * @module
 */
import type { AeadBackend } from "../lib/core/aead.ts";
import { DATA_HEADER_BYTES } from "../lib/core/constants.ts";
import { Device } from "../lib/core/device.ts";
import { publicKeyOf } from "../lib/core/crypto.ts";
import type { Endpoint } from "../lib/core/path.ts";
import type { Rng } from "../lib/core/rng.ts";
import { cutSegments } from "../lib/core/tso.ts";
import { VNET_GSO_TCPV4, type VnetHeader } from "../lib/core/vnet.ts";

/** Deterministic bytes for keys and indices (the bench needs no real randomness). */
export class BenchRng implements Rng {
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

export const SLOTS = 256;
export const SLOT_BYTES = 2048;

/**
 * Peer A and peer B joined by `links` in-memory links (A's local end i to B's local end i).
 * Datagrams are copied into a preallocated ring of slots and handed to the other device when
 * `pump()` runs, so nothing is allocated per packet by the wiring itself.
 */
export class Wire {
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
          transmit: (local, to, buf, length) => this.#enqueue(toB, local, to, buf, length),
          deliver: (_buf, _offset, length) => {
            this.delivered++;
            this.deliveredBytes += length;
          },
        },
      });
    };
    this.a = make(keyA, keyB, this.addrB, [10, 77, 0, 2]);
    this.b = make(keyB, keyA, this.addrA, [10, 77, 0, 1]);
  }

  #enqueue(toB: boolean, local: number, to: Endpoint, buf: Uint8Array, length: number): void {
    const there = toB ? this.addrB : this.addrA;
    if (there[local]?.hostname !== to.hostname) return; // cross pairs do not route
    if (this.#tail - this.#head >= SLOTS) throw new Error("wire ring overflow");
    const slot = this.#tail++ % SLOTS;
    const target = this.#slots[slot];
    // Copy the whole TX buffer when it fits (no view per packet); the length says what counts.
    target.set(buf.length <= target.length ? buf : buf.subarray(0, length));
    this.#length[slot] = length;
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
export function innerPacket(size: number): Uint8Array {
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
export function trip(wire: Wire, tx: Uint8Array, packet: Uint8Array): void {
  tx.set(packet, DATA_HEADER_BYTES);
  wire.a.handleOutbound(tx, packet.length, wire.now);
  wire.pump();
}

/** A TCP/IPv4 super-packet of `count` segments of `mss` bytes with 12 bytes of options. */
export function superPacket(mss: number, count: number): Uint8Array {
  const p = new Uint8Array(52 + mss * count);
  p[0] = 0x45;
  p[9] = 6;
  p.set([10, 0, 0, 1, 10, 0, 0, 2], 12);
  p[32] = 8 << 4;
  p[33] = 0x10;
  return p;
}

/** The virtio-net header a TSO TUN hands over with {@link superPacket}. */
export function superPacketHeader(mss: number): VnetHeader {
  return {
    flags: 1,
    gsoType: VNET_GSO_TCPV4,
    hdrLen: 52,
    gsoSize: mss,
    csumStart: 20,
    csumOffset: 16,
  };
}

/**
 * The segments of `superPacket(mss, count)` as recvmmsg leaves them: one view per 2048-byte
 * receive slot, each packet behind a data header (16 bytes); with their lengths.
 */
export function segmentSlots(mss: number, count: number) {
  const packet = superPacket(mss, count);
  const mem = new Uint8Array(2 * 70_000);
  mem.set(packet, 16);
  const rx = new Uint8Array(count * 2048);
  const slots: Uint8Array[] = [];
  const lengths: number[] = [];
  cutSegments(mem, 16, packet.length, superPacketHeader(mss), 70_016, (n) => {
    const slot = rx.subarray(slots.length * 2048, (slots.length + 1) * 2048);
    slot.set(mem.subarray(70_016, 70_016 + n), 16);
    slots.push(slot);
    lengths.push(n);
  });
  return { slots, lengths };
}
