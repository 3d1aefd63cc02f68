/**
 * The preallocated message arrays behind `recvmmsg`/`sendmmsg` (LP64 Linux layouts): data slots,
 * `mmsghdr`s, `iovec`s, sockaddr slots and control-message slots in two buffers whose addresses
 * are taken once, plus the `UDP_SEGMENT`/`UDP_GRO` control messages of the offloads. Layouts are
 * those of x86-64 and aarch64 Linux (LP64): `struct mmsghdr` is 64 bytes (`msghdr` of 56, then
 * `msg_len`), `struct iovec` 16, a sockaddr slot 32 (`sockaddr_in6` is 28).
 * @module
 */

import { addressOf } from "./libc.ts";

/** `struct mmsghdr` size and the byte offsets of its fields (LP64 Linux). */
export const MMSGHDR_BYTES = 64;
export const MSG_NAME = 0;
export const MSG_NAMELEN = 8;
export const MSG_IOV = 16;
export const MSG_IOVLEN = 24;
export const MSG_CONTROL = 32;
export const MSG_CONTROLLEN = 40;
export const MSG_FLAGS = 48;
export const MSG_LEN = 56;
/** `struct iovec { void *iov_base; size_t iov_len; }`. */
export const IOVEC_BYTES = 16;
export const IOV_LEN = 8;
/** Room per sockaddr: `sockaddr_in6` (28 bytes) rounded up to keep 8-byte alignment. */
export const NAME_BYTES = 32;

/** `SOL_UDP` and its `UDP_SEGMENT` option (linux/udp.h): the GSO size of one send. */
export const SOL_UDP = 17;
export const UDP_SEGMENT = 103;
/**
 * Room for one control message with a u16: `CMSG_SPACE(2)` on LP64, a 16-byte `cmsghdr`
 * (`size_t cmsg_len; int cmsg_level; int cmsg_type`) and the data padded to 8 bytes.
 */
export const CMSG_BYTES = 24;
/** `CMSG_LEN(2)` and `CMSG_LEN(sizeof(int))`. */
export const CMSG_LEN_U16 = 18;
export const CMSG_LEN_INT = 20;
/** `UDP_GRO` (linux/udp.h): deliver coalesced datagrams with their size in a control message. */
export const UDP_GRO = 104;
/** Datagrams the kernel coalesces into one receive at most (`UDP_GRO_CNT_MAX`). */
export const MAX_GRO_SEGMENTS = 64;
/** Datagrams per segmented send (the kernel's `UDP_MAX_SEGMENTS` is 64 or more). */
export const MAX_GSO_SEGMENTS = 64;
/** Bytes per segmented send: the UDP length field's limit, less headroom for headers. */
export const MAX_GSO_BYTES = 65000;

/**
 * One direction's batch: `batch` data slots, and in one metadata buffer the `mmsghdr` array, then
 * the `iovec` array, then the sockaddr slots. Each `mmsghdr` points at its own iovec and sockaddr
 * slot, and each iovec at its data slot; only lengths change per datagram.
 */
export class MessageRing {
  readonly data: Uint8Array;
  readonly meta: ArrayBuffer;
  /** `meta` as u32/i32/u16/u8 views, for field access without DataView. */
  readonly meta32: Uint32Array;
  readonly metaI32: Int32Array;
  readonly meta16: Uint16Array;
  readonly meta8: Uint8Array;
  /** Byte offsets of the iovec array and the sockaddr slots in `meta`. */
  readonly iovOffset: number;
  readonly nameOffset: number;
  /** One full-size view per data slot, made once. */
  readonly views: Uint8Array[];
  /** The address of `mmsghdr[i]`, for i in 0..batch (the last one unused, for symmetry). */
  readonly headerAt: bigint[];
  /** Byte offset of the control-message slots (one `CMSG_BYTES` each) in `meta`. */
  readonly controlOffset: number;
  /** The address of control slot i. */
  readonly controlAt: bigint[];
  /** `meta` as u64 words, for pointer fields. */
  readonly words: BigUint64Array;
  /** The `mmsghdr` array as built, to undo the rewrites of a segmented flush. */
  readonly pristine: Uint8Array;

  constructor(batch: number, slotBytes: number, iovLength: number) {
    this.data = new Uint8Array(batch * slotBytes);
    this.iovOffset = batch * MMSGHDR_BYTES;
    this.nameOffset = this.iovOffset + batch * IOVEC_BYTES;
    this.controlOffset = this.nameOffset + batch * NAME_BYTES;
    this.meta = new ArrayBuffer(this.controlOffset + batch * CMSG_BYTES);
    this.meta32 = new Uint32Array(this.meta);
    this.metaI32 = new Int32Array(this.meta);
    this.meta16 = new Uint16Array(this.meta);
    this.meta8 = new Uint8Array(this.meta);
    const words = new BigUint64Array(this.meta);
    const dataAddress = addressOf(this.data);
    const metaAddress = addressOf(this.meta8);
    this.words = words;
    this.views = [];
    this.headerAt = [];
    this.controlAt = [];
    for (let i = 0; i <= batch; i++) this.headerAt.push(metaAddress + BigInt(i * MMSGHDR_BYTES));
    for (let i = 0; i < batch; i++) {
      const control = this.controlOffset + i * CMSG_BYTES;
      this.controlAt.push(metaAddress + BigInt(control));
      words[control / 8] = BigInt(CMSG_LEN_U16);
      this.metaI32[control / 4 + 2] = SOL_UDP;
      this.metaI32[control / 4 + 3] = UDP_SEGMENT;
    }
    for (let i = 0; i < batch; i++) {
      this.views.push(this.data.subarray(i * slotBytes, (i + 1) * slotBytes));
      const header = i * MMSGHDR_BYTES;
      const iov = this.iovOffset + i * IOVEC_BYTES;
      const name = this.nameOffset + i * NAME_BYTES;
      words[(header + MSG_NAME) / 8] = metaAddress + BigInt(name);
      this.meta32[(header + MSG_NAMELEN) / 4] = NAME_BYTES;
      words[(header + MSG_IOV) / 8] = metaAddress + BigInt(iov);
      words[(header + MSG_IOVLEN) / 8] = 1n;
      words[iov / 8] = dataAddress + BigInt(i * slotBytes);
      words[(iov + IOV_LEN) / 8] = BigInt(iovLength);
    }
    this.pristine = this.meta8.slice(0, this.iovOffset);
  }

  /** Gives every header a control buffer to receive into (for `UDP_GRO`). */
  armControl(): void {
    for (let i = 0; i < this.views.length; i++) {
      const h = i * MMSGHDR_BYTES;
      this.words[(h + MSG_CONTROL) >> 3] = this.controlAt[i];
      this.meta32[(h + MSG_CONTROLLEN) >> 2] = CMSG_BYTES;
    }
  }

  /**
   * The `UDP_GRO` segment size the kernel reported for received message `m`, or 0 when it sent
   * no such control message; re-arms the control buffer for the next receive.
   */
  receivedSegmentSize(m: number): number {
    const h = m * MMSGHDR_BYTES;
    const length = this.meta32[(h + MSG_CONTROLLEN) >> 2];
    this.meta32[(h + MSG_CONTROLLEN) >> 2] = CMSG_BYTES;
    const c = (this.controlOffset + m * CMSG_BYTES) >> 2;
    if (length < CMSG_LEN_INT || this.metaI32[c + 2] !== SOL_UDP) return 0;
    return this.metaI32[c + 3] === UDP_GRO ? this.metaI32[c + 4] : 0;
  }
}
