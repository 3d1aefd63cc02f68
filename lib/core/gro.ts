/**
 * Receive side of TUN offloads: consecutive segments of one TCP flow that arrive in one batch are
 * joined into one super-packet and written to the TUN with a virtio-net header that tells the
 * kernel how to cut it again (`gso_size`) and that the TCP checksum is still to be completed. One
 * write system call then carries dozens of packets, and the kernel's TCP handles one big packet
 * instead of many small ones, as with a NIC's GRO.
 *
 * Segments join only when nothing but the sequence number, the payload and the checksums differs:
 * same addresses, ports, IP fields, TCP options, acknowledgment and window; flags ACK, with PSH
 * only on the last; each the size of the first except the last; IPv4 ids that count up unless DF
 * is set. Anything else (other protocols,
 * SYN/FIN/RST, a gap) first pushes out what its flow has pending, so the order within a flow is
 * kept. Nothing is held past `flush()`, which the engine calls after every batch.
 *
 * Segment checksums are not verified before joining: the tunnel's AEAD already proved that the
 * bytes are the ones the peer's TUN handed over.
 * @module
 */
import { fold, pseudoHeaderSum, setIpv4HeaderChecksum } from "./checksum.ts";
import { readBe16, readBe32, writeBe16 } from "./ip.ts";
import {
  VNET_F_NEEDS_CSUM,
  VNET_GSO_TCPV4,
  VNET_GSO_TCPV6,
  VNET_HEADER_BYTES,
  type VnetHeader,
  writePlainVnetHeader,
  writeVnetHeader,
} from "./vnet.ts";

/** Flows joined at once; another flow's packet pushes out the oldest. */
export const GRO_FLOWS = 8;
/** The largest joined packet: the IPv4 total length limit. */
const MAX_JOINED_BYTES = 65535;
const SLOT_BYTES = VNET_HEADER_BYTES + MAX_JOINED_BYTES;
const TCP_PROTOCOL = 6;
const TCP_ACK = 0x10;
const TCP_PSH = 0x08;
/** Source buffers whose last view is kept (receive slots of every socket, and some). */
const MAX_CACHED_VIEWS = 4096;

/** Where joined and single packets go: `buf[offset, offset + length)` starts with the header. */
export type VnetWrite = (buf: Uint8Array, offset: number, length: number) => void;

/** One flow being joined: its first packet's headers, then the payloads appended. */
interface Slot {
  /** Offset of the slot in the arena: the virtio-net header, then the packet. */
  readonly base: number;
  used: boolean;
  /** Bytes of the packet so far (headers and payloads, without the virtio-net header). */
  length: number;
  version: 4 | 6;
  /** IP header bytes: where TCP starts. */
  l4: number;
  /** IP and TCP header bytes. */
  headerBytes: number;
  /** Payload bytes of each segment (the first one's). */
  segmentSize: number;
  nextSeq: number;
  segments: number;
  /** Creation order, to push out the oldest. */
  serial: number;
}

/** Joins TCP segments into super-packets for a TUN opened with `IFF_VNET_HDR`. */
export class Coalescer {
  /** Joined packets written (each of two or more segments). */
  joined = 0;
  /** Segments that went into joined packets. */
  joinedSegments = 0;
  readonly #write: VnetWrite;
  /** One allocation for every slot and the scratch area (the TUN caches one base address). */
  readonly #arena: Uint8Array;
  readonly #slots: Slot[] = [];
  readonly #scratch: number;
  readonly #header: VnetHeader = {
    flags: VNET_F_NEEDS_CSUM,
    gsoType: 0,
    hdrLen: 0,
    gsoSize: 0,
    csumStart: 0,
    csumOffset: 16,
  };
  #serial = 0;
  #pending = 0;
  /**
   * The last view made of each source buffer: packets arrive in a few fixed receive slots at the
   * same offsets, so a copy usually reuses a view instead of allocating one per packet.
   */
  readonly #views = new Map<Uint8Array, Uint8Array>();

  constructor(write: VnetWrite, flows = GRO_FLOWS) {
    this.#write = write;
    this.#arena = new Uint8Array((flows + 1) * SLOT_BYTES);
    for (let i = 0; i < flows; i++) {
      this.#slots.push({
        base: i * SLOT_BYTES,
        used: false,
        length: 0,
        version: 4,
        l4: 0,
        headerBytes: 0,
        segmentSize: 0,
        nextSeq: 0,
        segments: 0,
        serial: 0,
      });
    }
    this.#scratch = flows * SLOT_BYTES;
  }

  /** Takes the IP packet `buf[at, at + length)` (copied: `buf` may be reused at once). */
  push(buf: Uint8Array, at: number, length: number): void {
    const version = tcpVersion(buf, at, length);
    if (version === 0) return this.#writeSingle(buf, at, length);
    const l4 = version === 4 ? 20 : 40;
    const headerBytes = l4 + (buf[at + l4 + 12] >> 4) * 4;
    const payload = length - headerBytes;
    const flags = buf[at + l4 + 13];
    const slot = this.#find(buf, at, version, l4);
    const joinable = payload > 0 && headerBytes >= l4 + 20 &&
      (flags === TCP_ACK || flags === (TCP_ACK | TCP_PSH));
    if (slot && joinable && this.#fits(slot, buf, at, length, headerBytes)) {
      this.#append(slot, buf, at + headerBytes, payload, flags);
      return;
    }
    if (slot) this.#flushSlot(slot);
    if (!joinable) return this.#writeSingle(buf, at, length);
    this.#start(buf, at, length, version, l4, headerBytes);
  }

  /** Writes out every pending flow. */
  flush(): void {
    if (this.#pending === 0) return;
    for (const slot of this.#slots) if (slot.used) this.#flushSlot(slot);
  }

  /** The slot holding this packet's flow (same addresses and ports), if any. */
  #find(buf: Uint8Array, at: number, version: 4 | 6, l4: number): Slot | undefined {
    if (this.#pending === 0) return undefined;
    const arena = this.#arena;
    const addrAt = version === 4 ? 12 : 8;
    const addrEnd = version === 4 ? 20 : 40;
    for (const slot of this.#slots) {
      if (!slot.used || slot.version !== version || slot.l4 !== l4) continue;
      const p = slot.base + VNET_HEADER_BYTES;
      if (!sameBytes(arena, p + addrAt, buf, at + addrAt, addrEnd - addrAt)) continue;
      if (sameBytes(arena, p + l4, buf, at + l4, 4)) return slot;
    }
    return undefined;
  }

  /** True when the packet continues the slot's flow exactly and the result stays in bounds. */
  #fits(slot: Slot, buf: Uint8Array, at: number, length: number, headerBytes: number): boolean {
    const arena = this.#arena;
    const p = slot.base + VNET_HEADER_BYTES;
    const l4 = slot.l4;
    const payload = length - headerBytes;
    if (headerBytes !== slot.headerBytes || payload > slot.segmentSize) return false;
    if (slot.length + payload > MAX_JOINED_BYTES) return false;
    if (readBe32(buf, at + l4 + 4) !== slot.nextSeq) return false;
    if (slot.version === 4) {
      // TOS, DF, TTL: the rest of the IP header is lengths, id and checksum.
      if (arena[p + 1] !== buf[at + 1] || arena[p + 6] !== buf[at + 6]) return false;
      if (arena[p + 8] !== buf[at + 8]) return false;
      // Without DF the id matters (fragments): join only ids that count up, as cutting makes them.
      const id = (readBe16(arena, p + 4) + slot.segments) & 0xffff;
      if ((buf[at + 6] & 0x40) === 0 && readBe16(buf, at + 4) !== id) return false;
    } else if (!sameBytes(arena, p, buf, at, 4) || arena[p + 7] !== buf[at + 7]) {
      return false;
    }
    // Acknowledgment number, then window; then the options.
    if (!sameBytes(arena, p + l4 + 8, buf, at + l4 + 8, 4)) return false;
    if (!sameBytes(arena, p + l4 + 14, buf, at + l4 + 14, 2)) return false;
    return sameBytes(arena, p + l4 + 20, buf, at + l4 + 20, headerBytes - l4 - 20);
  }

  #start(
    buf: Uint8Array,
    at: number,
    length: number,
    version: 4 | 6,
    l4: number,
    headerBytes: number,
  ): void {
    const slot = this.#freeSlot();
    this.#arena.set(this.#view(buf, at, length), slot.base + VNET_HEADER_BYTES);
    slot.used = true;
    slot.length = length;
    slot.version = version;
    slot.l4 = l4;
    slot.headerBytes = headerBytes;
    slot.segmentSize = length - headerBytes;
    slot.nextSeq = (readBe32(buf, at + l4 + 4) + length - headerBytes) >>> 0;
    slot.segments = 1;
    slot.serial = this.#serial++;
    this.#pending++;
    if ((buf[at + l4 + 13] & TCP_PSH) !== 0) this.#flushSlot(slot);
  }

  /** A free slot, after pushing out the oldest flow when all are taken. */
  #freeSlot(): Slot {
    let oldest = this.#slots[0];
    for (const slot of this.#slots) {
      if (!slot.used) return slot;
      if (slot.serial < oldest.serial) oldest = slot;
    }
    this.#flushSlot(oldest);
    return oldest;
  }

  /** `buf.subarray(at, at + length)`, reusing the previous view of `buf` when it matches. */
  #view(buf: Uint8Array, at: number, length: number): Uint8Array {
    const last = this.#views.get(buf);
    if (last && last.byteOffset === buf.byteOffset + at && last.length === length) return last;
    if (this.#views.size >= MAX_CACHED_VIEWS) this.#views.clear();
    const view = buf.subarray(at, at + length);
    this.#views.set(buf, view);
    return view;
  }

  #append(slot: Slot, buf: Uint8Array, payloadAt: number, payload: number, flags: number): void {
    const p = slot.base + VNET_HEADER_BYTES;
    this.#arena.set(this.#view(buf, payloadAt, payload), p + slot.length);
    slot.length += payload;
    slot.nextSeq = (slot.nextSeq + payload) >>> 0;
    slot.segments++;
    // A short segment or PSH ends the run: nothing may follow it in the same packet.
    if ((flags & TCP_PSH) !== 0) this.#arena[p + slot.l4 + 13] |= TCP_PSH;
    if ((flags & TCP_PSH) !== 0 || payload < slot.segmentSize) this.#flushSlot(slot);
  }

  /** Writes the slot's packet: as it came when alone, else as a super-packet. */
  #flushSlot(slot: Slot): void {
    slot.used = false;
    this.#pending--;
    const arena = this.#arena;
    if (slot.segments === 1) {
      writePlainVnetHeader(arena, slot.base);
      return this.#write(arena, slot.base, VNET_HEADER_BYTES + slot.length);
    }
    const p = slot.base + VNET_HEADER_BYTES;
    const l4Length = slot.length - slot.l4;
    if (slot.version === 4) {
      writeBe16(arena, p + 2, slot.length);
      setIpv4HeaderChecksum(arena, p);
    } else {
      writeBe16(arena, p + 4, slot.length - 40);
    }
    // CHECKSUM_PARTIAL: the field holds the pseudo-header sum; the kernel does the rest.
    const addrAt = slot.version === 4 ? p + 12 : p + 8;
    const pseudo = pseudoHeaderSum(arena, addrAt, slot.version === 4 ? 4 : 16, 6, l4Length);
    writeBe16(arena, p + slot.l4 + 16, fold(pseudo));
    const h = this.#header;
    h.gsoType = slot.version === 4 ? VNET_GSO_TCPV4 : VNET_GSO_TCPV6;
    h.hdrLen = slot.headerBytes;
    h.gsoSize = slot.segmentSize;
    h.csumStart = slot.l4;
    writeVnetHeader(arena, slot.base, h);
    this.joined++;
    this.joinedSegments += slot.segments;
    this.#write(arena, slot.base, VNET_HEADER_BYTES + slot.length);
  }

  #writeSingle(buf: Uint8Array, at: number, length: number): void {
    if (length > MAX_JOINED_BYTES) return;
    writePlainVnetHeader(this.#arena, this.#scratch);
    this.#arena.set(this.#view(buf, at, length), this.#scratch + VNET_HEADER_BYTES);
    this.#write(this.#arena, this.#scratch, VNET_HEADER_BYTES + length);
  }
}

/**
 * 4 or 6 when `buf[at, at + length)` is a whole TCP packet this module may join: IPv4 without
 * options or fragmentation, or IPv6 whose next header is TCP; 0 for anything else.
 */
function tcpVersion(buf: Uint8Array, at: number, length: number): 0 | 4 | 6 {
  const version = buf[at] >> 4;
  if (version === 4) {
    if (length < 40 || buf[at] !== 0x45 || buf[at + 9] !== TCP_PROTOCOL) return 0;
    if ((readBe16(buf, at + 6) & 0x3fff) !== 0) return 0; // MF or a fragment offset
    if (readBe16(buf, at + 2) !== length) return 0;
  } else if (version === 6) {
    if (length < 60 || buf[at + 6] !== TCP_PROTOCOL) return 0;
    if (readBe16(buf, at + 4) + 40 !== length) return 0;
  } else {
    return 0;
  }
  const l4 = version === 4 ? 20 : 40;
  const headerBytes = l4 + (buf[at + l4 + 12] >> 4) * 4;
  return headerBytes <= length ? version : 0;
}

function sameBytes(a: Uint8Array, ai: number, b: Uint8Array, bi: number, n: number): boolean {
  for (let i = 0; i < n; i++) if (a[ai + i] !== b[bi + i]) return false;
  return true;
}
