/**
 * Why a datagram or packet was dropped. Bytes from the network never throw: every rejected
 * input increments exactly one of these counters and produces no output.
 * @module
 */

/** Every drop reason, in display order. */
export const DROP_REASONS = [
  "truncated",
  "unknownType",
  "badHandshake",
  "unknownPeer",
  "badSignature",
  "staleTimestamp",
  "handshakeFlood",
  "unexpectedResponse",
  "unknownIndex",
  "counterTooLarge",
  "tooOld",
  "duplicate",
  "authFailed",
  "sessionExpired",
  "badInnerPacket",
  "sourceNotAllowed",
  "noRoute",
  "noSession",
  "tunWriteFailed",
] as const;

/** One reason from `DROP_REASONS`. */
export type DropReason = typeof DROP_REASONS[number];

/** Drop counters by reason. */
export type DropCounters = Record<DropReason, number>;

/** A fresh set of zeroed drop counters. */
export function newDropCounters(): DropCounters {
  return Object.fromEntries(DROP_REASONS.map((r) => [r, 0])) as DropCounters;
}
