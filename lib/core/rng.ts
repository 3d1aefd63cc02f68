/** The randomness port: the engine passes the system CSPRNG, tests a seeded generator. */
export interface Rng {
  /** Fills `bytes` with random bytes. */
  fill(bytes: Uint8Array): void;
}

/** A random unsigned 32-bit integer from `rng`. */
export function randomU32(rng: Rng, scratch = new Uint8Array(4)): number {
  rng.fill(scratch);
  return (scratch[0] | (scratch[1] << 8) | (scratch[2] << 16) | (scratch[3] << 24)) >>> 0;
}
