/**
 * Peeks into IP packets without copying: version, length, source and destination offsets.
 * @module
 */

/** Offset of the IPv4 source address. */
export const IPV4_SRC = 12;
/** Offset of the IPv4 destination address. */
export const IPV4_DST = 16;
/** Offset of the IPv6 source address. */
export const IPV6_SRC = 8;
/** Offset of the IPv6 destination address. */
export const IPV6_DST = 24;

/**
 * The IP version (4 or 6) of `buf[at, at + length)` when it holds a whole, well-formed header
 * whose declared length fits; 0 otherwise.
 */
export function ipVersion(buf: Uint8Array, at: number, length: number): 0 | 4 | 6 {
  if (length < 1) return 0;
  const version = buf[at] >> 4;
  if (version === 4) {
    if (length < 20 || (buf[at] & 0x0f) < 5) return 0;
    const total = (buf[at + 2] << 8) | buf[at + 3];
    return total >= 20 && total <= length ? 4 : 0;
  }
  if (version === 6) {
    if (length < 40) return 0;
    const payload = (buf[at + 4] << 8) | buf[at + 5];
    return 40 + payload <= length ? 6 : 0;
  }
  return 0;
}

/** The length the IP header declares (call only after `ipVersion` returned non-zero). */
export function ipDeclaredLength(buf: Uint8Array, at: number, version: 4 | 6): number {
  return version === 4 ? (buf[at + 2] << 8) | buf[at + 3] : 40 + ((buf[at + 4] << 8) | buf[at + 5]);
}

/** Reads a big-endian (network order) u16. */
export function readBe16(buf: Uint8Array, at: number): number {
  return (buf[at] << 8) | buf[at + 1];
}

/** Writes a big-endian (network order) u16. */
export function writeBe16(buf: Uint8Array, at: number, value: number): void {
  buf[at] = (value >>> 8) & 0xff;
  buf[at + 1] = value & 0xff;
}

/** Reads a big-endian (network order) u32. */
export function readBe32(buf: Uint8Array, at: number): number {
  return ((buf[at] << 24) | (buf[at + 1] << 16) | (buf[at + 2] << 8) | buf[at + 3]) >>> 0;
}

/** Writes a big-endian (network order) u32. */
export function writeBe32(buf: Uint8Array, at: number, value: number): void {
  buf[at] = (value >>> 24) & 0xff;
  buf[at + 1] = (value >>> 16) & 0xff;
  buf[at + 2] = (value >>> 8) & 0xff;
  buf[at + 3] = value & 0xff;
}
