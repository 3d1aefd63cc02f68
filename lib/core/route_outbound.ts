/**
 * The first step of a packet's way out, shared by the device (device.ts) and the worker lanes
 * (lane.ts): which peer its destination belongs to.
 * @module
 */
import type { AllowedIps } from "./allowed_ips.ts";
import { DATA_HEADER_BYTES } from "./constants.ts";
import type { DropCounters } from "./drops.ts";
import { IPV4_DST, IPV6_DST, ipVersion } from "./ip.ts";

/**
 * The owner of the longest AllowedIPs prefix holding the destination of the `length`-byte IP
 * packet at `buf[DATA_HEADER_BYTES..]`; undefined, counted in `drops`, for a packet that is not
 * IPv4 or IPv6 (`badInnerPacket`) or a destination no peer has (`noRoute`).
 */
export function routeOutbound<T>(
  buf: Uint8Array,
  length: number,
  allowedIps: AllowedIps<T>,
  drops: DropCounters,
): T | undefined {
  const version = ipVersion(buf, DATA_HEADER_BYTES, length);
  if (version === 0) return void drops.badInnerPacket++;
  const dst = DATA_HEADER_BYTES + (version === 4 ? IPV4_DST : IPV6_DST);
  const owner = allowedIps.lookup(buf, dst, version);
  if (owner === undefined) drops.noRoute++;
  return owner;
}
