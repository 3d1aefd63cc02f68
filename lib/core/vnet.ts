/**
 * The 10-byte `struct virtio_net_hdr` (linux/virtio_net.h) that precedes every packet read from
 * or written to a TUN device opened with `IFF_VNET_HDR`. It tells the reader that a packet is a
 * TCP "super-packet" to be cut into `gsoSize` segments, or that its L4 checksum is still to be
 * completed; and it tells the kernel the same about what we write. Fields are little-endian
 * (TUN uses the host's order; every platform we run on is little-endian).
 *
 *   u8 flags, u8 gso_type, u16 hdr_len, u16 gso_size, u16 csum_start, u16 csum_offset
 * @module
 */

/** Bytes of the header. */
export const VNET_HEADER_BYTES = 10;

/** `flags`: the checksum at csum_start + csum_offset covers [csum_start, end) and is to be done. */
export const VNET_F_NEEDS_CSUM = 1;
/** `gso_type` values (without the ECN bit). */
export const VNET_GSO_NONE = 0;
export const VNET_GSO_TCPV4 = 1;
export const VNET_GSO_TCPV6 = 4;
/** `gso_type` bit: the TCP flow uses ECN (CWR goes on the first segment only). */
export const VNET_GSO_ECN = 0x80;

/** The header fields as numbers. */
export interface VnetHeader {
  flags: number;
  gsoType: number;
  hdrLen: number;
  gsoSize: number;
  csumStart: number;
  csumOffset: number;
}

/** A zeroed header object to read into (one per reader, reused). */
export function newVnetHeader(): VnetHeader {
  return { flags: 0, gsoType: 0, hdrLen: 0, gsoSize: 0, csumStart: 0, csumOffset: 0 };
}

/** Reads the header at `buf[at]` into `out`. */
export function readVnetHeader(buf: Uint8Array, at: number, out: VnetHeader): void {
  out.flags = buf[at];
  out.gsoType = buf[at + 1];
  out.hdrLen = buf[at + 2] | (buf[at + 3] << 8);
  out.gsoSize = buf[at + 4] | (buf[at + 5] << 8);
  out.csumStart = buf[at + 6] | (buf[at + 7] << 8);
  out.csumOffset = buf[at + 8] | (buf[at + 9] << 8);
}

/** Writes a header at `buf[at]`. */
export function writeVnetHeader(buf: Uint8Array, at: number, h: VnetHeader): void {
  buf[at] = h.flags;
  buf[at + 1] = h.gsoType;
  writeLe16(buf, at + 2, h.hdrLen);
  writeLe16(buf, at + 4, h.gsoSize);
  writeLe16(buf, at + 6, h.csumStart);
  writeLe16(buf, at + 8, h.csumOffset);
}

/** Writes an all-zero header: a plain packet whose checksums are complete. */
export function writePlainVnetHeader(buf: Uint8Array, at: number): void {
  buf.fill(0, at, at + VNET_HEADER_BYTES);
}

function writeLe16(buf: Uint8Array, at: number, value: number): void {
  buf[at] = value & 0xff;
  buf[at + 1] = value >>> 8;
}
