/**
 * Which packets adaptive mode duplicates: small or latency-critical ones (TCP handshakes and
 * pure ACKs, DNS, ICMP, anything under SMALL_PACKET_BYTES).
 * @module
 */
import { SMALL_PACKET_BYTES } from "./constants.ts";

const TCP = 6;
const UDP = 17;
const ICMP = 1;
const ICMPV6 = 58;
const DNS_PORT = 53;
/** TCP flags FIN, SYN, RST. */
const TCP_CONTROL_FLAGS = 0x07;

/** True when the IP packet at `buf[at, at + length)` should travel on every path. */
export function isLatencyCritical(buf: Uint8Array, at: number, length: number): boolean {
  if (length < SMALL_PACKET_BYTES) return true;
  const version = buf[at] >> 4;
  let protocol: number;
  let l4: number;
  if (version === 4) {
    protocol = buf[at + 9];
    l4 = at + (buf[at] & 0x0f) * 4;
  } else if (version === 6) {
    protocol = buf[at + 6];
    l4 = at + 40;
  } else {
    return true;
  }
  if (protocol === ICMP || protocol === ICMPV6) return true;
  if (l4 + 20 > at + length) return false;
  if (protocol === UDP) {
    const src = (buf[l4] << 8) | buf[l4 + 1];
    const dst = (buf[l4 + 2] << 8) | buf[l4 + 3];
    return src === DNS_PORT || dst === DNS_PORT;
  }
  if (protocol === TCP) {
    if ((buf[l4 + 13] & TCP_CONTROL_FLAGS) !== 0) return true;
    const headerBytes = (buf[l4 + 12] >> 4) * 4;
    return l4 + headerBytes >= at + length; // a pure ACK carries no payload
  }
  return false;
}
