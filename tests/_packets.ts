/** Test helpers: build IPv4 packets and a seeded RNG. */
import type { Rng } from "../lib/core/rng.ts";

/** An IPv4/UDP packet from `src` to `dst` whose payload starts with `id` (u32 big-endian). */
export function ipv4Packet(src: string, dst: string, id: number, size = 64): Uint8Array {
  const p = new Uint8Array(Math.max(size, 32));
  const view = new DataView(p.buffer);
  p[0] = 0x45;
  view.setUint16(2, p.length);
  p[8] = 64;
  p[9] = 17;
  p.set(src.split(".").map(Number), 12);
  p.set(dst.split(".").map(Number), 16);
  let sum = 0;
  for (let i = 0; i < 20; i += 2) sum += view.getUint16(i);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  view.setUint16(10, ~sum & 0xffff);
  view.setUint16(20, 4000);
  view.setUint16(22, 5000);
  view.setUint16(24, p.length - 20);
  view.setUint32(28, id);
  return p;
}

/** The id an `ipv4Packet` carries. */
export function packetId(packet: Uint8Array): number {
  return new DataView(packet.buffer, packet.byteOffset, packet.length).getUint32(28);
}

/** A deterministic xorshift32 generator. */
export class SeededRng implements Rng {
  #state: number;
  constructor(seed: number) {
    this.#state = seed >>> 0 || 1;
  }
  /** Next value in [0, 2^32). */
  next(): number {
    let x = this.#state;
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    this.#state = x >>> 0;
    return this.#state;
  }
  /** Uniform in [0, 1). */
  float(): number {
    return this.next() / 2 ** 32;
  }
  /** Uniform in [0, n). */
  int(n: number): number {
    return this.next() % n;
  }
  /** Fills `bytes` and returns them. */
  fill(bytes: Uint8Array): Uint8Array {
    for (let i = 0; i < bytes.length; i++) bytes[i] = this.next() & 0xff;
    return bytes;
  }
}

/** What `tcpPacket` builds. */
export interface TcpPacketSpec {
  readonly version: 4 | 6;
  readonly seq: number;
  readonly payload: Uint8Array;
  readonly ack?: number;
  /** TCP flags byte; default ACK. */
  readonly flags?: number;
  readonly window?: number;
  /** TCP options (a multiple of 4 bytes). */
  readonly options?: Uint8Array;
  readonly id?: number;
  readonly srcPort?: number;
  readonly dstPort?: number;
  /** Last byte of the source address (10.0.0.x or fd00::x). */
  readonly srcHost?: number;
  /** Source and destination (4 or 16 bytes each, as the version) instead of the defaults. */
  readonly addresses?: { readonly src: readonly number[]; readonly dst: readonly number[] };
}

/**
 * A TCP packet over IPv4 (10.0.0.1 -> 10.0.0.2) or IPv6 (fd00::1 -> fd00::2) with correct
 * checksums, computed by the slow reference `referenceChecksum`, independent of lib/core.
 */
export function tcpPacket(spec: TcpPacketSpec): Uint8Array {
  const options = spec.options ?? new Uint8Array(0);
  const l4 = spec.version === 4 ? 20 : 40;
  const tcpBytes = 20 + options.length + spec.payload.length;
  const p = new Uint8Array(l4 + tcpBytes);
  const v = new DataView(p.buffer);
  const src = spec.srcHost ?? 1;
  if (spec.version === 4) {
    p[0] = 0x45;
    v.setUint16(2, p.length);
    v.setUint16(4, spec.id ?? 7);
    p[6] = 0x40; // DF
    p[8] = 64;
    p[9] = 6;
    p.set(spec.addresses?.src ?? [10, 0, 0, src], 12);
    p.set(spec.addresses?.dst ?? [10, 0, 0, 2], 16);
    v.setUint16(10, referenceChecksum([p.subarray(0, 20)]));
  } else {
    p[0] = 0x60;
    v.setUint16(4, tcpBytes);
    p[6] = 6;
    p[7] = 64;
    if (spec.addresses) {
      p.set(spec.addresses.src, 8);
      p.set(spec.addresses.dst, 24);
    } else {
      p[8] = 0xfd;
      p[23] = src;
      p[24] = 0xfd;
      p[39] = 2;
    }
  }
  v.setUint16(l4, spec.srcPort ?? 40000);
  v.setUint16(l4 + 2, spec.dstPort ?? 5201);
  v.setUint32(l4 + 4, spec.seq >>> 0);
  v.setUint32(l4 + 8, spec.ack ?? 1000);
  p[l4 + 12] = ((20 + options.length) / 4) << 4;
  p[l4 + 13] = spec.flags ?? 0x10;
  v.setUint16(l4 + 14, spec.window ?? 500);
  p.set(options, l4 + 20);
  p.set(spec.payload, l4 + 20 + options.length);
  v.setUint16(l4 + 16, referenceChecksum([pseudoHeader(p), p.subarray(l4)]));
  return p;
}

/** The TCP/UDP pseudo-header of an IPv4 or IPv6 packet whose L4 header follows the IP header. */
export function pseudoHeader(p: Uint8Array): Uint8Array {
  const v4 = p[0] >> 4 === 4;
  const l4 = v4 ? 20 : 40;
  const ph = new Uint8Array(v4 ? 12 : 40);
  const v = new DataView(ph.buffer);
  if (v4) {
    ph.set(p.subarray(12, 20));
    ph[9] = p[9];
    v.setUint16(10, p.length - l4);
  } else {
    ph.set(p.subarray(8, 40));
    v.setUint32(32, p.length - l4);
    ph[39] = p[6];
  }
  return ph;
}

/** RFC 1071, byte by byte over the concatenation of `parts` (each even-length but the last). */
export function referenceChecksum(parts: Uint8Array[]): number {
  const all = new Uint8Array(parts.reduce((n, part) => n + part.length, 0));
  let at = 0;
  for (const part of parts) {
    all.set(part, at);
    at += part.length;
  }
  let sum = 0;
  for (let i = 0; i < all.length; i++) sum += i % 2 === 0 ? all[i] * 256 : all[i];
  while (sum > 0xffff) sum = (sum & 0xffff) + Math.floor(sum / 0x10000);
  return ~sum & 0xffff;
}

/** True when an IPv4 or IPv6 TCP/UDP packet's L4 checksum (and IPv4 header checksum) verify. */
export function checksumsValid(p: Uint8Array): boolean {
  const v4 = p[0] >> 4 === 4;
  const l4 = v4 ? 20 : 40;
  if (v4 && referenceChecksum([p.subarray(0, 20)]) !== 0) return false;
  return referenceChecksum([pseudoHeader(p), p.subarray(l4)]) === 0;
}
