import type { AeadBackend } from "./aead.ts";
import type { AllowedIps } from "./allowed_ips.ts";
import type { DropCounters } from "./drops.ts";
import type { Identity } from "./handshake.ts";
import type { Logger } from "./logger.ts";
import type { Output } from "./output.ts";
import type { LocalEnd } from "./path.ts";
import type { Peer } from "./peer.ts";
import type { Session } from "./session.ts";

/** What a `Peer` needs from its device: identity, shared tables, randomness and output. */
export interface PeerContext {
  readonly me: Identity;
  /** Each local path end (socket), by index. */
  readonly locals: readonly LocalEnd[];
  readonly backend: AeadBackend;
  readonly output: Output;
  readonly drops: DropCounters;
  readonly logger: Logger;
  /** Wall-clock ms minus monotonic ms: turns `now` into handshake timestamps. */
  readonly epochOffsetMs: number;
  /** Which peer owns which inner addresses (cryptokey routing). */
  allowedIps: AllowedIps<Peer>;
  /** Sessions keep copies of their keys for data plane workers. */
  readonly keepSessionKeys: boolean;
  /** Scratch space for control frames and staged packets, MAX_DATAGRAM_BYTES long. */
  readonly scratch: Uint8Array;
  randomU32(): number;
  /** Takes one signature check from the device-wide budget; false when it is spent. */
  mayVerify(now: number): boolean;
  /** 32 fresh random bytes (an ephemeral private key). */
  randomKey(): Uint8Array;
  /** Reserves a fresh random session index for `peer` (a pending handshake). */
  allocateIndex(peer: Peer): number;
  releaseIndex(index: number): void;
  /** Makes data for `session.localIndex` reach `session`. */
  registerSession(session: Session, peer: Peer): void;
  unregisterSession(session: Session): void;
}
