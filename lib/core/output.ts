import type { Endpoint } from "./path.ts";

/**
 * Where the core puts its results, synchronously, while it handles an input. `bytes` and
 * `packet` are only valid during the call: an implementation that keeps them must copy them.
 */
export interface Output {
  /** Send `bytes` from local path end `local` to `to`. */
  transmit(local: number, to: Endpoint, bytes: Uint8Array): void;
  /** Deliver a decrypted IP packet to the TUN device. */
  deliver(packet: Uint8Array): void;
}
