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
  fill(bytes: Uint8Array): void {
    for (let i = 0; i < bytes.length; i++) bytes[i] = this.next() & 0xff;
  }
}
