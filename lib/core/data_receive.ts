/**
 * The steps of a data packet's way in that the device's peers (device.ts, peer.ts) and the worker
 * lanes (lane.ts) share; they differ only in where they count what arrived. In order:
 * `checkCounter` before any decryption, then (after opening) `admitInner` on the inner packet and
 * `deliverInner`, at once or through the session's reorder buffer.
 * @module
 */
import type { AllowedIps } from "./allowed_ips.ts";
import {
  DATA_HEADER_BYTES,
  FLAG_SEQUENCED,
  REJECT_AFTER_MESSAGES,
  REJECT_AFTER_TIME_MS,
} from "./constants.ts";
import type { DropCounters, DropReason } from "./drops.ts";
import { ipDeclaredLength, IPV4_SRC, IPV6_SRC, ipVersion } from "./ip.ts";
import type { Output } from "./output.ts";
import type { Deliver } from "./reorder.ts";
import { Replay } from "./replay.ts";
import type { Session } from "./session.ts";
import { readU32 } from "./wire.ts";

/** `checkCounter`: the datagram was dropped and counted. */
export const DROPPED = -1;
/** `checkCounter`: a copy of a packet already accepted (the caller counts it, per path). */
export const DUPLICATE = -2;

/**
 * The cheap checks on a data message of `session` before it is opened: its counter (>= 0) when
 * it is worth decrypting, else `DROPPED` (counted in `drops`) or `DUPLICATE`. `now` is on the
 * session's clock.
 */
export function checkCounter(
  buf: Uint8Array,
  session: Session,
  now: number,
  drops: DropCounters,
): number {
  const counter = readU32(buf, 8) + readU32(buf, 12) * 2 ** 32;
  if (counter >= REJECT_AFTER_MESSAGES) return dropped(drops, "counterTooLarge");
  if (session.age(now) >= REJECT_AFTER_TIME_MS) return dropped(drops, "sessionExpired");
  const verdict = session.replay.check(counter);
  if (verdict === Replay.TooOld) return dropped(drops, "tooOld");
  return verdict === Replay.Duplicate ? DUPLICATE : counter;
}

function dropped(drops: DropCounters, reason: DropReason): typeof DROPPED {
  drops[reason]++;
  return DROPPED;
}

/**
 * Checks the inner packet of an opened data message (`payload` bytes after the header): an IPv4
 * or IPv6 packet from a source address `owner` may use. Returns its declared length, or -1 when
 * it was dropped (counted in `drops`); its counter then still goes through the reorder buffer, so
 * packets after it are not held for it.
 */
export function admitInner<T>(
  buf: Uint8Array,
  payload: number,
  owner: T,
  allowedIps: AllowedIps<T>,
  drops: DropCounters,
  session: Session,
  counter: number,
  now: number,
  deliver: Deliver,
): number {
  const at = DATA_HEADER_BYTES;
  const version = ipVersion(buf, at, payload);
  const src = at + (version === 4 ? IPV4_SRC : IPV6_SRC);
  if (version !== 0 && allowedIps.lookup(buf, src, version) === owner) {
    return ipDeclaredLength(buf, at, version);
  }
  session.reorder.push(counter, undefined, false, now, deliver);
  if (version === 0) drops.badInnerPacket++;
  else drops.sourceNotAllowed++;
  return -1;
}

/**
 * Delivers an admitted inner packet of `length` bytes: at once, unless it was striped over paths
 * (sequenced), then in counter order through the session's reorder buffer.
 */
export function deliverInner(
  buf: Uint8Array,
  length: number,
  session: Session,
  counter: number,
  now: number,
  output: Output,
  deliver: Deliver,
): void {
  const at = DATA_HEADER_BYTES;
  if ((buf[1] & FLAG_SEQUENCED) === 0) {
    // The common case: delivered at once, without a view; the buffer only notes the counter.
    output.deliver(buf, at, length);
    session.reorder.push(counter, undefined, false, now, deliver);
    return;
  }
  session.reorder.push(counter, buf.subarray(at, at + length), true, now, deliver);
}
