/**
 * The byte codec of data messages: the 16-byte header, control frame heads, and little-endian
 * u32 fields, written and read in place without allocating (docs/PROTOCOL.md, "Data").
 * @module
 */
import { DATA_HEADER_BYTES, MSG_DATA } from "./constants.ts";

/** Writes a data header: type, flags, reserved, receiver index and 64-bit counter (LE). */
export function writeDataHeader(
  buf: Uint8Array,
  receiverIndex: number,
  counter: number,
  flags = 0,
): void {
  buf[0] = MSG_DATA;
  buf[1] = flags;
  buf[2] = buf[3] = 0;
  writeU32(buf, 4, receiverIndex);
  writeU32(buf, 8, counter >>> 0);
  writeU32(buf, 12, Math.floor(counter / 2 ** 32));
}

/** Writes the first 8 bytes of a control frame: type, 3 zero bytes, id. */
export function writeFrameHead(buf: Uint8Array, type: number, id: number): void {
  const at = DATA_HEADER_BYTES;
  buf[at] = type;
  buf[at + 1] = buf[at + 2] = buf[at + 3] = 0;
  writeU32(buf, at + 4, id);
}

/** Writes a little-endian u32 without allocating. */
export function writeU32(buf: Uint8Array, at: number, value: number): void {
  buf[at] = value & 0xff;
  buf[at + 1] = (value >>> 8) & 0xff;
  buf[at + 2] = (value >>> 16) & 0xff;
  buf[at + 3] = (value >>> 24) & 0xff;
}

/** Reads a little-endian u32 without allocating. */
export function readU32(buf: Uint8Array, at: number): number {
  return (buf[at] | (buf[at + 1] << 8) | (buf[at + 2] << 16) | (buf[at + 3] << 24)) >>> 0;
}
