/**
 * Transmit side of TUN offloads: what the kernel hands over with a virtio-net header is either a
 * plain packet, a packet whose L4 checksum is still to be completed, or a TCP super-packet (up
 * to 64 KiB) that must be cut into `gsoSize`-byte segments, each with its own IP and TCP header,
 * the way a NIC's TSO would. One read system call then carries dozens of packets.
 *
 * Everything works inside one byte array (`mem`) with `copyWithin`, so cutting allocates nothing.
 * @module
 */
import { finish, sumWords } from "./checksum.ts";
import { readBe16, readBe32, writeBe16, writeBe32 } from "./ip.ts";
import { VNET_F_NEEDS_CSUM, VNET_GSO_NONE, VNET_GSO_TCPV4, VNET_GSO_TCPV6 } from "./vnet.ts";
import type { VnetHeader } from "./vnet.ts";

const TCP_PROTOCOL = 6;
const TCP_FIN = 0x01;
const TCP_PSH = 0x08;
const TCP_CWR = 0x80;
/** Offset of the checksum field in a TCP header. */
const TCP_CHECKSUM = 16;

/**
 * Completes the L4 checksum of the plain packet `buf[at, at + length)` when the header says it
 * is pending. Returns false when the header's offsets do not fit the packet.
 */
export function completeChecksum(
  buf: Uint8Array,
  at: number,
  length: number,
  h: VnetHeader,
): boolean {
  if ((h.flags & VNET_F_NEEDS_CSUM) === 0) return true;
  const field = h.csumStart + h.csumOffset;
  if (h.csumStart >= length || field + 2 > length) return false;
  // The field holds the pseudo-header sum already: sum the rest over it.
  const sum = finish(sumWords(buf, at + h.csumStart, length - h.csumStart));
  writeBe16(buf, at + field, sum === 0 ? 0xffff : sum);
  return true;
}

/**
 * Cuts the TCP super-packet `mem[srcAt, srcAt + length)` into segments of at most `h.gsoSize`
 * payload bytes. Each segment is written at `mem[dstAt]` (a region that must not overlap the
 * source) and `emit(segmentLength)` is called before the next overwrites it. Returns the number
 * of segments, or -1 when the packet is not a TCP packet this header can describe.
 */
export function cutSegments(
  mem: Uint8Array,
  srcAt: number,
  length: number,
  h: VnetHeader,
  dstAt: number,
  emit: (segmentLength: number) => void,
): number {
  const gso = h.gsoType & 0x7f;
  const version = mem[srcAt] >> 4;
  if (gso === VNET_GSO_NONE) return -1;
  if (!(gso === VNET_GSO_TCPV4 && version === 4) && !(gso === VNET_GSO_TCPV6 && version === 6)) {
    return -1;
  }
  const l4 = h.csumStart;
  const protocol = version === 4 ? mem[srcAt + 9] : mem[srcAt + 6];
  if (protocol !== TCP_PROTOCOL || h.csumOffset !== TCP_CHECKSUM) return -1;
  if (l4 < (version === 4 ? 20 : 40) || l4 + 20 > length || h.gsoSize === 0) return -1;
  const headerBytes = l4 + (mem[srcAt + l4 + 12] >> 4) * 4;
  if (headerBytes >= length || headerBytes < l4 + 20) return -1;
  const seq0 = readBe32(mem, srcAt + l4 + 4);
  const id0 = version === 4 ? readBe16(mem, srcAt + 4) : 0;
  const flags0 = mem[srcAt + l4 + 13];
  // What every segment shares, summed once: the pseudo-header's addresses and protocol, and the
  // IPv4 header without its total length, id and checksum (RFC 1071 sums add up by parts).
  const addrBytes = version === 4 ? 4 : 16;
  const addrSum = sumWords(mem, srcAt + (version === 4 ? 12 : 8), 2 * addrBytes, TCP_PROTOCOL);
  const ipSum = version === 4
    ? sumWords(mem, srcAt, l4) - readBe16(mem, srcAt + 2) - id0 - readBe16(mem, srcAt + 10)
    : 0;
  let count = 0;
  for (let off = headerBytes; off < length; off += h.gsoSize, count++) {
    const payload = Math.min(h.gsoSize, length - off);
    const segment = headerBytes + payload;
    const last = off + payload >= length;
    mem.copyWithin(dstAt, srcAt, srcAt + headerBytes);
    mem.copyWithin(dstAt + headerBytes, srcAt + off, srcAt + off + payload);
    if (version === 4) {
      const id = (id0 + count) & 0xffff;
      writeBe16(mem, dstAt + 2, segment);
      writeBe16(mem, dstAt + 4, id);
      writeBe16(mem, dstAt + 10, finish(ipSum + segment + id));
    } else {
      writeBe16(mem, dstAt + 4, segment - 40);
    }
    const tcp = dstAt + l4;
    writeBe32(mem, tcp + 4, (seq0 + off - headerBytes) >>> 0);
    let flags = flags0;
    if (!last) flags &= ~(TCP_FIN | TCP_PSH);
    if (count > 0) flags &= ~TCP_CWR;
    mem[tcp + 13] = flags;
    mem[tcp + TCP_CHECKSUM] = 0;
    mem[tcp + TCP_CHECKSUM + 1] = 0;
    const l4Length = segment - l4;
    writeBe16(mem, tcp + TCP_CHECKSUM, finish(sumWords(mem, tcp, l4Length, addrSum + l4Length)));
    emit(segment);
  }
  return count;
}
