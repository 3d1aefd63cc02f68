import type { Endpoint } from "./path.ts";

/**
 * Where the core puts its results, synchronously, while it handles an input. The bytes are only
 * valid during the call: an implementation that keeps them must copy them. Buffers come with
 * offsets and lengths rather than as views, so the hot path creates no view per packet.
 */
export interface Output {
  /** Send `buf[0, length)` from local path end `local` to `to`. */
  transmit(local: number, to: Endpoint, buf: Uint8Array, length: number): void;
  /** Deliver the decrypted IP packet `buf[offset, offset + length)` to the TUN device. */
  deliver(buf: Uint8Array, offset: number, length: number): void;
}
