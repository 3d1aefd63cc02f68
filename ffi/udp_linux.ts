/**
 * Linux UDP sockets through libc FFI, with batched `recvmmsg`/`sendmmsg` for the fast engine.
 *
 * A socket is `SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC` with 4 MiB kernel buffers when allowed,
 * bound to an IP literal. `SO_REUSEADDR` and `SO_REUSEPORT` are opt-in: for UDP on Linux,
 * `SO_REUSEADDR` on both sockets lets a second socket bind the very same address and port without
 * an error (measured: a second instance would silently take the unicast traffic), whereas without
 * it a taken port fails with `EADDRINUSE`, as `Deno.listenDatagram` does. `::` is bound with
 * `IPV6_V6ONLY` off, so it is dual-stack whatever `net.ipv6.bindv6only` says: IPv4 peers appear as
 * plain `a.b.c.d` sources and plain IPv4 destinations are sent as IPv4-mapped addresses.
 *
 * Batch API ({@link BatchSocket}): `receiveBatch` runs one non-blocking `recvmmsg` into
 * preallocated slots; `datagram(i)`, `length(i)` and `source(i)` read the result without
 * allocating (the slot view is made once; `source` returns an interned address object, so the
 * same sender is the same object every time). `queue` copies a datagram into the next send slot
 * with the destination's sockaddr (cached per address object, so no text is parsed per packet) and
 * sends the batch when it is full; `flush` sends whatever is queued. The async `PathSocket`
 * `receive` drains the same slots and parks on `poll()` on Deno's FFI thread pool when nothing is
 * queued; do not mix it with `receiveBatch` on one socket.
 *
 * Lifetime: every buffer whose address goes to C (slots, `mmsghdr`/`iovec`/sockaddr arrays, the
 * `pollfd` pair) is a field of the socket, so it is reachable for as long as the socket is, and
 * off-heap backing stores do not move. Setup calls pass `"buffer"` arguments, which Deno keeps
 * alive for the call. A parked `receive()` waits in `ffi/poller.ts`, which `close()` wakes.
 *
 * UDP segmentation offload (`UDP_SEGMENT`, Linux 4.18+): at `flush`, a run of queued datagrams of
 * one size to one destination (the last may be shorter) goes out as one message whose iovecs are
 * their slots, with a `UDP_SEGMENT` control message giving the size. The kernel cuts it into the
 * same datagrams on the wire, after one pass through the stack instead of one per datagram. When
 * the kernel refuses it (`EIO`, `EINVAL`, `EOPNOTSUPP`), the socket falls back to one message per
 * datagram for good.
 *
 * UDP receive coalescing (`UDP_GRO`, Linux 5.0+, opt-in with `receiveCoalescing`): the kernel may
 * hand over several datagrams of one flow in one slot (a sender's `UDP_SEGMENT` burst arrives
 * whole), with a control message giving their size; receive slots are then 64 KiB, and
 * `receiveBatch` counts, and `datagram(i)` / `length(i)` / `source(i)` index, the datagrams inside
 * them as if each had come alone.
 *
 * The message arrays and their layouts are in `message_ring.ts`, addresses and their interning in
 * `sockaddr.ts`.
 * @module
 */

import type { BatchSocket, Poller, Received, UdpAddr } from "../lib/engine/ports.ts";
import type { UdpSocketStats } from "../lib/host/udp_socket.ts";
import { errno, libc, type LibcSymbols } from "./libc.ts";
import { check, Errno, errnoDescription, errnoName } from "./os_error.ts";
import {
  CMSG_BYTES,
  IOV_LEN,
  IOVEC_BYTES,
  MAX_GRO_SEGMENTS,
  MAX_GSO_BYTES,
  MAX_GSO_SEGMENTS,
  MessageRing,
  MMSGHDR_BYTES,
  MSG_CONTROL,
  MSG_CONTROLLEN,
  MSG_FLAGS,
  MSG_IOVLEN,
  MSG_LEN,
  MSG_NAMELEN,
  NAME_BYTES,
  SOL_UDP,
  UDP_GRO,
} from "./message_ring.ts";
import { openPoller } from "./poller.ts";
import {
  AF_INET,
  AF_INET6,
  checkPort,
  formatIpv4,
  formatIpv6,
  internWords,
  INVALID_TARGET,
  isMapped,
  MAPPED_WORD,
  parseIp,
  readSockaddr,
  SOCKADDR_IN6_BYTES,
  SOCKADDR_IN_BYTES,
  targetOf,
  writeSockaddr,
} from "./sockaddr.ts";

export { internAddr, MAX_INTERNED_ADDRS } from "./sockaddr.ts";

const SOCK_DGRAM = 2;
const SOCK_NONBLOCK = 0o4000;
const SOCK_CLOEXEC = 0o2000000;
const SOL_SOCKET = 1;
const SO_REUSEADDR = 2;
const SO_SNDBUF = 7;
const SO_RCVBUF = 8;
const SO_REUSEPORT = 15;
const SO_SNDBUFFORCE = 32;
const SO_RCVBUFFORCE = 33;
const IPPROTO_IPV6 = 41;
const IPV6_V6ONLY = 26;
/** `msg_flags` bit: the datagram was longer than its slot and was cut. */
const MSG_TRUNC = 0x20;
/** The kernel's limit on `vlen` for `recvmmsg`/`sendmmsg` (`UIO_MAXIOV`). */
const MAX_BATCH = 1024;
/** The largest UDP payload over IPv4 or IPv6 without jumbograms. */
const MAX_UDP_PAYLOAD = 65535;

/** Default datagrams per `recvmmsg`/`sendmmsg`. */
export const DEFAULT_BATCH = 32;
/** Default slot size: the largest datagram received whole or accepted by `queue`. */
export const DEFAULT_MAX_DATAGRAM_BYTES = 2048;
/** Default `SO_RCVBUF`/`SO_SNDBUF` request. */
export const DEFAULT_SOCKET_BUFFER_BYTES = 4 * 1024 * 1024;

/** Options for {@link openFfiUdpSocket}. */
export interface FfiUdpSocketOptions {
  /**
   * Sets `SO_REUSEADDR`. Default false: for UDP it lets another socket that also sets it bind the
   * same address and port, so a port already in use would not be reported.
   */
  readonly reuseAddr?: boolean;
  /** Sets `SO_REUSEPORT` (several sockets, e.g. one per Worker, on one port). Default false. */
  readonly reusePort?: boolean;
  /** Datagrams per `recvmmsg`/`sendmmsg`, 1 to 1024; default {@link DEFAULT_BATCH}. */
  readonly batch?: number;
  /**
   * Slot size in bytes, 1 to 65535; default {@link DEFAULT_MAX_DATAGRAM_BYTES}. Longer datagrams
   * are received truncated (counted in `stats.receiveTruncated`) and refused by `queue`.
   */
  readonly maxDatagramBytes?: number;
  /** `SO_RCVBUF`/`SO_SNDBUF` to ask for; default {@link DEFAULT_SOCKET_BUFFER_BYTES}. */
  readonly socketBufferBytes?: number;
  /**
   * `SO_BINDTODEVICE`: send and receive only through this interface (a path end is an uplink:
   * its datagrams must leave through it, whatever the routing table prefers). Needs root.
   */
  readonly device?: string;
  /** Sends runs of equal datagrams as one `UDP_SEGMENT` message where the kernel can. Default true. */
  readonly segmentation?: boolean;
  /**
   * Asks for `UDP_GRO`: several datagrams of one sender per receive (64 KiB receive slots, so
   * `maxDatagramBytes` then limits sending only). Default false; off when the kernel refuses it.
   */
  readonly receiveCoalescing?: boolean;
}

/** Counters of one FFI socket: those of the portable socket plus receive counts. */
export interface FfiUdpSocketStats extends UdpSocketStats {
  /** Datagrams received. */
  received: number;
  /** Received datagrams longer than a slot, delivered cut to the slot size. */
  receiveTruncated: number;
  /** Sends that carried several datagrams cut by the kernel (`UDP_SEGMENT`). */
  segmentedSends: number;
  /** Receives that carried several datagrams coalesced by the kernel (`UDP_GRO`). */
  coalescedReceives: number;
}

/** A UDP socket on raw libc calls: the {@link BatchSocket} API plus diagnostics. */
export interface FfiUdpSocket extends BatchSocket {
  /** The socket's file descriptor; -1 after `close`. */
  readonly fd: number;
  /** Datagrams per `recvmmsg`/`sendmmsg`. */
  readonly batch: number;
  /** Slot size: the longest datagram received whole or accepted by `queue`. */
  readonly maxDatagramBytes: number;
  /** `SO_RCVBUF` and `SO_SNDBUF` as the kernel reports them (it doubles the request). */
  readonly receiveBufferBytes: number;
  readonly sendBufferBytes: number;
  /** Live counters. */
  readonly stats: Readonly<FfiUdpSocketStats>;
  /** The descriptor and shape, for `adoptFfiUdpSocket` in another thread. */
  readonly handle: FfiSocketHandle;
  /** Resolves true when a datagram can be read, false on timeout or after `close`. */
  waitReadable(timeoutMs: number): Promise<boolean>;
  /**
   * The slot the next `queue` fills (`maxDatagramBytes` long). Writing a datagram straight into
   * it and passing it to `queue` skips the copy. Valid until that `queue`.
   */
  nextSendSlot(): Uint8Array;
}

/**
 * Binds a UDP socket on `hostname:port` (an IP literal; port 0: the kernel picks one). Throws a
 * RangeError for a bad literal or option, and an `OsError` (`./os_error.ts`) when a call fails
 * (`bind` with `EADDRINUSE`, `socket` with `EAFNOSUPPORT` where IPv6 is off).
 */
export function openFfiUdpSocket(
  hostname: string,
  port: number,
  options: FfiUdpSocketOptions = {},
): FfiUdpSocket {
  checkPort(port);
  const batch = options.batch ?? DEFAULT_BATCH;
  if (!Number.isInteger(batch) || batch < 1 || batch > MAX_BATCH) {
    throw new RangeError(`batch must be an integer from 1 to ${MAX_BATCH}, got ${batch}`);
  }
  const slotBytes = options.maxDatagramBytes ?? DEFAULT_MAX_DATAGRAM_BYTES;
  if (!Number.isInteger(slotBytes) || slotBytes < 1 || slotBytes > MAX_UDP_PAYLOAD) {
    throw new RangeError(
      `maxDatagramBytes must be an integer from 1 to ${MAX_UDP_PAYLOAD}, got ${slotBytes}`,
    );
  }
  const address = new Uint8Array(16);
  if (!parseIp(hostname, address)) {
    throw new RangeError(`Not an IP literal: ${JSON.stringify(hostname)}`);
  }
  const v4 = isMapped(address);
  const wildcard6 = !v4 && address.every((b) => b === 0);
  const family = v4 ? AF_INET : AF_INET6;
  const label = v4 ? `${formatIpv4(address)}:${port}` : `[${formatIpv6(address)}]:${port}`;

  const lib = libc();
  const fd = check(
    lib.socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0),
    `socket(${v4 ? "AF_INET" : "AF_INET6"})`,
  );
  try {
    if (options.reuseAddr) setIntOption(lib, fd, SOL_SOCKET, SO_REUSEADDR, 1, "SO_REUSEADDR");
    if (options.reusePort) setIntOption(lib, fd, SOL_SOCKET, SO_REUSEPORT, 1, "SO_REUSEPORT");
    if (wildcard6) setIntOption(lib, fd, IPPROTO_IPV6, IPV6_V6ONLY, 0, "IPV6_V6ONLY");
    if (options.device) bindToDevice(lib, fd, options.device);
    const coalescing = options.receiveCoalescing === true &&
      tryIntOption(lib, fd, SOL_UDP, UDP_GRO, 1);
    const bufferBytes = options.socketBufferBytes ?? DEFAULT_SOCKET_BUFFER_BYTES;
    trySetBuffer(lib, fd, SO_RCVBUFFORCE, SO_RCVBUF, bufferBytes);
    trySetBuffer(lib, fd, SO_SNDBUFFORCE, SO_SNDBUF, bufferBytes);

    const sockaddr = new Uint8Array(NAME_BYTES);
    const length = writeSockaddr(sockaddr, address, port, family);
    check(lib.bind(fd, sockaddr, length), `bind(${label})`);

    sockaddr.fill(0);
    const lengthCell = new Uint32Array([NAME_BYTES]);
    check(lib.getsockname(fd, sockaddr, new Uint8Array(lengthCell.buffer)), "getsockname");
    const bound = new Uint8Array(16);
    const boundPort = readSockaddr(sockaddr, bound);
    const localAddr: UdpAddr = Object.freeze({
      hostname: isMapped(bound) ? formatIpv4(bound) : formatIpv6(bound),
      port: boundPort,
    });
    const families: readonly (4 | 6)[] = Object.freeze(v4 ? [4] : wildcard6 ? [6, 4] : [6]);
    return new LinuxUdpSocket(lib, fd, openPoller([fd]), {
      localAddr,
      families,
      batch,
      slotBytes,
      receiveBufferBytes: getIntOption(lib, fd, SOL_SOCKET, SO_RCVBUF),
      sendBufferBytes: getIntOption(lib, fd, SOL_SOCKET, SO_SNDBUF),
      segmentation: options.segmentation !== false,
      coalescing,
    });
  } catch (error) {
    lib.close(fd);
    throw error;
  }
}

// ---- The socket ----

/**
 * What another thread needs to use a socket this one opened (`adoptFfiUdpSocket`): its file
 * descriptor and shape. Plain data, so it can be posted to a Worker.
 */
export interface FfiSocketHandle extends SocketShape {
  readonly fd: number;
}

interface SocketShape {
  readonly localAddr: UdpAddr;
  readonly families: readonly (4 | 6)[];
  readonly batch: number;
  readonly slotBytes: number;
  readonly receiveBufferBytes: number;
  readonly sendBufferBytes: number;
  readonly segmentation: boolean;
  /** `UDP_GRO` is on: receive slots are 64 KiB and carry a control message. */
  readonly coalescing: boolean;
}

/** `SO_ATTACH_REUSEPORT_CBPF` (asm-generic/socket.h). */
const SO_ATTACH_REUSEPORT_CBPF = 51;

/**
 * Makes the kernel hand each datagram arriving on a `SO_REUSEPORT` group of `groupSize` sockets
 * to socket number (payload bytes 4..8 as a big-endian u32) mod `groupSize`, in the order the
 * sockets were bound: for centipede data messages that is the receiver's session index, so all
 * datagrams of one session (every path, every copy) reach one socket and its thread, in order.
 * Other messages land anywhere. The program sees the datagram after the UDP header. False when
 * the kernel refuses the program (the group then spreads by address hash).
 */
export function steerBySessionIndex(socket: FfiUdpSocket, groupSize: number): boolean {
  // struct sock_filter { __u16 code; __u8 jt; __u8 jf; __u32 k; } x 3:
  //   ld [4]       (BPF_LD | BPF_W | BPF_ABS)   A = payload[4..8], big-endian
  //   mod #size    (BPF_ALU | BPF_MOD | BPF_K)  A %= groupSize
  //   ret a        (BPF_RET | BPF_A)
  const program = new Uint8Array(24);
  const view = new DataView(program.buffer);
  const instructions: [number, number][] = [[0x20, 4], [0x94, groupSize], [0x16, 0]];
  instructions.forEach(([code, k], i) => {
    view.setUint16(8 * i, code, true);
    view.setUint32(8 * i + 4, k, true);
  });
  // struct sock_fprog { unsigned short len; struct sock_filter *filter; } (pointer at 8).
  const fprog = new Uint8Array(16);
  const fview = new DataView(fprog.buffer);
  fview.setUint16(0, instructions.length, true);
  fview.setBigUint64(8, BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(program))), true);
  const lib = libc();
  return lib.setsockopt(socket.fd, SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, fprog, 16) === 0;
}

/**
 * A second socket object on the file descriptor of `handle` (from another thread's
 * `FfiUdpSocket.handle`), with its own batches and counters. It does not own the descriptor:
 * `close` leaves it open for its owner, who must close it only after this one is closed.
 */
export function adoptFfiUdpSocket(handle: FfiSocketHandle): FfiUdpSocket {
  const lib = libc();
  return new LinuxUdpSocket(lib, handle.fd, openPoller([handle.fd]), handle, false);
}

class LinuxUdpSocket implements FfiUdpSocket {
  readonly localAddr: UdpAddr;
  readonly families: readonly (4 | 6)[];
  readonly batch: number;
  readonly maxDatagramBytes: number;
  readonly receiveBufferBytes: number;
  readonly sendBufferBytes: number;
  readonly stats: FfiUdpSocketStats = {
    sent: 0,
    sendErrors: 0,
    sendDropped: 0,
    receiveErrors: 0,
    lastSendError: "",
    received: 0,
    receiveTruncated: 0,
    segmentedSends: 0,
    coalescedReceives: 0,
  };
  readonly #lib: LibcSymbols;
  readonly #fd: number;
  /** Parks `receive()` and `waitReadable()`; `close()` wakes it. */
  readonly #poller: Poller;
  /** AF_INET6 socket: IPv4 destinations use the mapped `sockaddr_in6`. */
  readonly #v6Socket: boolean;
  readonly #canSendV4: boolean;
  readonly #canSendV6: boolean;
  readonly #noV4Message: string;
  readonly #noV6Message: string;
  readonly #rx: MessageRing;
  readonly #tx: MessageRing;
  /**
   * The last `bytes.subarray(0, length)` that `queue()` copied from: datagrams come from one
   * sealing buffer at one size in a row, so a copy reuses the view instead of making one each.
   */
  #lastSource: Uint8Array | null = null;
  #lastView: Uint8Array = new Uint8Array(0);
  readonly #rxAddress: bigint;
  /** Datagrams in the last receive batch, and the next one `receive()` hands out. */
  #count = 0;
  /** `UDP_GRO` is on: a receive slot may hold several datagrams. */
  readonly #coalescing: boolean;
  /** Per datagram of the last batch: its receive slot, place in it (k-th), offset and length. */
  readonly #datagramSlot: Int32Array;
  readonly #datagramPart: Int32Array;
  readonly #datagramOffset: Int32Array;
  readonly #datagramLength: Int32Array;
  /** Views of datagrams inside receive slots, by `slot * MAX_GRO_SEGMENTS + k`, made once. */
  readonly #segmentViews: (Uint8Array | undefined)[] = [];
  #next = 0;
  /** Datagrams queued in the send ring. */
  #queued = 0;
  /** Whether the last datagram of the last flush went out (for `send`). */
  #tailSent = false;
  /** Runs of equal datagrams go out as `UDP_SEGMENT` messages (until the kernel refuses one). */
  #segmentation: boolean;
  /** Datagrams in each message of a segmented flush. */
  readonly #runLength: Int32Array;
  #closed = false;
  readonly #owned: boolean;
  readonly handle: FfiSocketHandle;

  constructor(lib: LibcSymbols, fd: number, poller: Poller, shape: SocketShape, owned = true) {
    this.#lib = lib;
    this.#fd = fd;
    this.#owned = owned;
    this.handle = {
      fd,
      localAddr: shape.localAddr,
      families: shape.families,
      batch: shape.batch,
      slotBytes: shape.slotBytes,
      receiveBufferBytes: shape.receiveBufferBytes,
      sendBufferBytes: shape.sendBufferBytes,
      segmentation: shape.segmentation,
      coalescing: shape.coalescing,
    };
    this.#poller = poller;
    this.localAddr = shape.localAddr;
    this.families = shape.families;
    this.batch = shape.batch;
    this.maxDatagramBytes = shape.slotBytes;
    this.receiveBufferBytes = shape.receiveBufferBytes;
    this.sendBufferBytes = shape.sendBufferBytes;
    this.#v6Socket = shape.families[0] === 6;
    this.#canSendV4 = shape.families.includes(4);
    this.#canSendV6 = shape.families.includes(6);
    this.#noV4Message = `cannot send to IPv4 from ${shape.localAddr.hostname}`;
    this.#noV6Message = `cannot send to IPv6 from ${shape.localAddr.hostname}`;
    this.#coalescing = shape.coalescing;
    const rxSlot = shape.coalescing ? MAX_UDP_PAYLOAD : shape.slotBytes;
    this.#rx = new MessageRing(shape.batch, rxSlot, rxSlot);
    if (shape.coalescing) this.#rx.armControl();
    const datagrams = shape.batch * (shape.coalescing ? MAX_GRO_SEGMENTS : 1);
    this.#datagramSlot = new Int32Array(datagrams);
    this.#datagramPart = new Int32Array(datagrams);
    this.#datagramOffset = new Int32Array(datagrams);
    this.#datagramLength = new Int32Array(datagrams);
    this.#tx = new MessageRing(shape.batch, shape.slotBytes, 0);
    this.#segmentation = shape.segmentation;
    this.#runLength = new Int32Array(shape.batch);
    this.#rxAddress = this.#rx.headerAt[0];
    if (owned) finalizer.register(this, { lib, fd, poller }, this);
    else finalizer.register(this, { lib, fd: -1, poller }, this);
  }

  get fd(): number {
    return this.#closed ? -1 : this.#fd;
  }

  // ---- Batch receive ----

  receiveBatch(): number {
    this.#count = 0;
    this.#next = 0;
    if (this.#closed) return 0;
    const n = this.#lib.recvmmsg(this.#fd, this.#rxAddress, this.batch, 0, 0n);
    if (n <= 0) {
      if (n < 0) {
        const code = errno();
        if (code !== Errno.EAGAIN && code !== Errno.EINTR) this.stats.receiveErrors++;
      }
      return 0;
    }
    const rx = this.#rx;
    const meta = rx.meta32;
    let count = 0;
    for (let m = 0, h = 0; m < n; m++, h += MMSGHDR_BYTES / 4) {
      meta[h + MSG_NAMELEN / 4] = NAME_BYTES; // The kernel shrank it; restore for the next call.
      if ((meta[h + MSG_FLAGS / 4] & MSG_TRUNC) !== 0) this.stats.receiveTruncated++;
      const length = meta[h + MSG_LEN / 4];
      let size = length;
      if (this.#coalescing) {
        const segment = rx.receivedSegmentSize(m);
        if (segment > 0 && segment < length) {
          size = segment;
          this.stats.coalescedReceives++;
        }
      }
      let offset = 0;
      let part = 0;
      do {
        if (count === this.#datagramSlot.length) break; // more than the kernel's limit: cut
        this.#datagramSlot[count] = m;
        this.#datagramPart[count] = part++;
        this.#datagramOffset[count] = offset;
        this.#datagramLength[count] = Math.min(size, length - offset);
        count++;
        offset += size;
      } while (offset < length);
    }
    this.stats.received += count;
    this.#count = count;
    return count;
  }

  datagram(i: number): Uint8Array {
    const slot = this.#datagramSlot[i];
    const offset = this.#datagramOffset[i];
    if (offset === 0) return this.#rx.views[slot];
    return this.#segmentView(slot, offset, this.#datagramPart[i]);
  }

  length(i: number): number {
    return this.#datagramLength[i];
  }

  /**
   * The view of the datagram at `offset` in receive slot `slot` (the k-th of that slot). Made
   * once per place: senders keep their datagram size, so the same views come back.
   */
  #segmentView(slot: number, offset: number, part: number): Uint8Array {
    const key = slot * MAX_GRO_SEGMENTS + part;
    const base = this.#rx.views[slot];
    const cached = this.#segmentViews[key];
    if (cached !== undefined && cached.byteOffset === base.byteOffset + offset) return cached;
    const view = base.subarray(offset);
    this.#segmentViews[key] = view;
    return view;
  }

  source(i: number): UdpAddr {
    const rx = this.#rx;
    const o = rx.nameOffset + this.#datagramSlot[i] * NAME_BYTES;
    const words = rx.metaI32;
    const bytes = rx.meta8;
    const port = bytes[o + 2] << 8 | bytes[o + 3];
    if (rx.meta16[o >> 1] === AF_INET) {
      return internWords(0, 0, MAPPED_WORD, words[(o + 4) >> 2], port);
    }
    const w = (o + 8) >> 2; // sin6_addr
    return internWords(words[w], words[w + 1], words[w + 2], words[w + 3], port);
  }

  // ---- Batch send ----

  nextSendSlot(): Uint8Array {
    return this.#tx.views[this.#queued];
  }

  queue(bytes: Uint8Array, length: number, to: UdpAddr): boolean {
    if (this.#closed) return false;
    if (!(length >= 0 && length <= bytes.length && length <= this.maxDatagramBytes)) {
      return this.#sendFailed(
        length > this.maxDatagramBytes ? "datagram too big" : "length out of range",
      );
    }
    const target = targetOf(to);
    if (target === INVALID_TARGET) return this.#sendFailed("not an IP address and port");
    if (target.v4 ? !this.#canSendV4 : !this.#canSendV6) {
      return this.#sendFailed(target.v4 ? this.#noV4Message : this.#noV6Message);
    }
    const tx = this.#tx;
    const i = this.#queued;
    const slot = tx.views[i];
    if (bytes !== slot) slot.set(length === bytes.length ? bytes : this.#prefix(bytes, length));
    const meta = tx.meta32;
    meta[(tx.iovOffset + i * IOVEC_BYTES + IOV_LEN) >> 2] = length;
    const name = tx.metaI32;
    const n = (tx.nameOffset + i * NAME_BYTES) >> 2;
    const src = target.words;
    if (this.#v6Socket) {
      name[n] = src[0];
      name[n + 1] = src[1];
      name[n + 2] = src[2];
      name[n + 3] = src[3];
      name[n + 4] = src[4];
      name[n + 5] = src[5];
      name[n + 6] = src[6];
      meta[i * (MMSGHDR_BYTES / 4) + MSG_NAMELEN / 4] = SOCKADDR_IN6_BYTES;
    } else {
      name[n] = src[8];
      name[n + 1] = src[9];
      name[n + 2] = src[10];
      name[n + 3] = src[11];
      meta[i * (MMSGHDR_BYTES / 4) + MSG_NAMELEN / 4] = SOCKADDR_IN_BYTES;
    }
    if (++this.#queued === this.batch) this.flush();
    return true;
  }

  /** `bytes.subarray(0, length)`, the previous one when it matches. */
  #prefix(bytes: Uint8Array, length: number): Uint8Array {
    if (bytes !== this.#lastSource || this.#lastView.length !== length) {
      this.#lastSource = bytes;
      this.#lastView = bytes.subarray(0, length);
    }
    return this.#lastView;
  }

  flush(): number {
    const queued = this.#queued;
    if (queued === 0) return 0;
    this.#queued = 0;
    this.#tailSent = false;
    if (this.#closed) return 0;
    if (this.#segmentation && queued > 1) {
      const sent = this.#flushSegmented(queued);
      if (sent >= 0) return sent;
    }
    return this.#flushEach(queued);
  }

  /** One `sendmmsg` message per datagram. */
  #flushEach(queued: number): number {
    const lib = this.#lib;
    const headerAt = this.#tx.headerAt;
    let start = 0;
    let sent = 0;
    let interrupted = false;
    while (start < queued) {
      const n = lib.sendmmsg(this.#fd, headerAt[start], queued - start, 0);
      if (n > 0) {
        sent += n;
        start += n;
        if (start === queued) this.#tailSent = true;
        continue;
      }
      const code = errno();
      if (code === Errno.EINTR && !interrupted) {
        interrupted = true;
        continue;
      }
      if (code === Errno.EAGAIN || code === Errno.ENOBUFS || code === Errno.EINTR) {
        this.stats.sendDropped += queued - start; // Kernel queue full: drop the rest.
        break;
      }
      // This datagram was refused (no route, bad address, too long): skip it, send the rest.
      this.#sendFailed(sendErrorMessage(code));
      start++;
    }
    this.stats.sent += sent;
    return sent;
  }

  /**
   * Sends runs of datagrams of one size to one destination as single `UDP_SEGMENT` messages: the
   * header of each run's first datagram is moved to the front (a run's iovecs are adjacent
   * already) and given the run length and a control message, then the array is restored.
   * Returns the datagrams sent, or -1 when the kernel refused segmentation before anything was
   * sent (the caller then sends them one by one, and this socket never segments again).
   */
  #flushSegmented(queued: number): number {
    const tx = this.#tx;
    const meta = tx.meta32;
    const runs = this.#runLength;
    let messages = 0;
    let first = 0;
    let segmented = 0;
    while (first < queued) {
      const size = meta[(tx.iovOffset + first * IOVEC_BYTES + IOV_LEN) >> 2];
      let end = first + 1;
      let bytes = size;
      while (
        end < queued && end - first < MAX_GSO_SEGMENTS && bytes + size <= MAX_GSO_BYTES &&
        this.#sameTarget(first, end)
      ) {
        const length = meta[(tx.iovOffset + end * IOVEC_BYTES + IOV_LEN) >> 2];
        if (length > size) break;
        end++;
        bytes += length;
        if (length < size) break; // a shorter datagram ends a run
      }
      this.#shapeMessage(messages, first, end - first, size);
      runs[messages++] = end - first;
      if (end - first > 1) segmented++;
      first = end;
    }
    const lib = this.#lib;
    let sent = 0;
    let start = 0;
    let refused = false;
    while (start < messages) {
      const n = lib.sendmmsg(this.#fd, tx.headerAt[start], messages - start, 0);
      if (n > 0) {
        for (let m = start; m < start + n; m++) sent += runs[m];
        start += n;
        continue;
      }
      const code = errno();
      if (code === Errno.EINTR) continue;
      if (code === Errno.EAGAIN || code === Errno.ENOBUFS) {
        for (let m = start; m < messages; m++) this.stats.sendDropped += runs[m];
        break;
      }
      if (
        sent === 0 && (code === Errno.EIO || code === Errno.EINVAL || code === Errno.EOPNOTSUPP)
      ) {
        refused = true; // no segmentation on this route or device
        break;
      }
      this.#sendFailed(sendErrorMessage(code));
      start++;
    }
    tx.meta8.set(tx.pristine);
    if (refused) {
      this.#segmentation = false;
      return -1;
    }
    this.stats.sent += sent;
    this.stats.segmentedSends += segmented;
    this.#tailSent = start === messages && sent > 0;
    return sent;
  }

  /** True when queued datagrams `a` and `b` go to the same address. */
  #sameTarget(a: number, b: number): boolean {
    const tx = this.#tx;
    const meta = tx.meta32;
    const lenA = meta[(a * MMSGHDR_BYTES + MSG_NAMELEN) >> 2];
    if (lenA !== meta[(b * MMSGHDR_BYTES + MSG_NAMELEN) >> 2]) return false;
    const words = tx.metaI32;
    const na = (tx.nameOffset + a * NAME_BYTES) >> 2;
    const nb = (tx.nameOffset + b * NAME_BYTES) >> 2;
    for (let w = 0; w < (lenA + 3) >> 2; w++) if (words[na + w] !== words[nb + w]) return false;
    return true;
  }

  /** Makes header `m` send datagrams `first .. first + count - 1` as one message. */
  #shapeMessage(m: number, first: number, count: number, size: number): void {
    const tx = this.#tx;
    const h = m * MMSGHDR_BYTES;
    if (m !== first) tx.meta8.copyWithin(h, first * MMSGHDR_BYTES, (first + 1) * MMSGHDR_BYTES);
    if (count === 1) return;
    const meta = tx.meta32;
    meta[(h + MSG_IOVLEN) >> 2] = count; // u64 fields: the high words stay 0
    tx.words[(h + MSG_CONTROL) >> 3] = tx.controlAt[m];
    meta[(h + MSG_CONTROLLEN) >> 2] = CMSG_BYTES;
    tx.meta16[(tx.controlOffset + m * CMSG_BYTES + 16) >> 1] = size;
  }

  // ---- PathSocket ----

  async receive(buf: Uint8Array): Promise<Received | null> {
    while (!this.#closed) {
      if (this.#next < this.#count) {
        const i = this.#next++;
        const length = Math.min(this.length(i), buf.length);
        buf.set(this.datagram(i).subarray(0, length));
        return { length, from: this.source(i) };
      }
      if (this.receiveBatch() > 0) continue;
      await this.waitReadable(-1);
    }
    return null;
  }

  send(bytes: Uint8Array, to: UdpAddr): boolean {
    if (!this.queue(bytes, bytes.length, to)) return false;
    this.flush(); // No-op when `queue` filled the batch and flushed it already.
    return this.#tailSent;
  }

  waitReadable(timeoutMs: number): Promise<boolean> {
    return this.#poller.wait(timeoutMs);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    finalizer.unregister(this);
    this.#queued = 0;
    this.#count = 0;
    this.#next = 0;
    this.#poller.close();
    if (this.#owned) this.#lib.close(this.#fd);
  }

  /** Counts a refused datagram; always false. */
  #sendFailed(message: string): boolean {
    this.stats.sendErrors++;
    this.stats.lastSendError = message;
    return false;
  }
}

/** Closes the fd and the poller of a socket dropped without `close()`. */
const finalizer = new FinalizationRegistry<{ lib: LibcSymbols; fd: number; poller: Poller }>(
  ({ lib, fd, poller }) => {
    poller.close();
    if (fd >= 0) lib.close(fd); // -1: an adopted descriptor, its owner closes it
  },
);

/** `sendmmsg failed: ENETUNREACH (...)`, made once per errno value. */
const sendErrorMessages = new Map<number, string>();
function sendErrorMessage(code: number): string {
  let message = sendErrorMessages.get(code);
  if (message === undefined) {
    message = `sendmmsg failed: ${errnoName(code)} (${errnoDescription(code)})`;
    sendErrorMessages.set(code, message);
  }
  return message;
}

// ---- Setup helpers ----

/** `SO_BINDTODEVICE` from `socket(7)`. */
const SO_BINDTODEVICE = 25;

/** Restricts the socket to one network interface; throws an `OsError` on failure. */
function bindToDevice(lib: LibcSymbols, fd: number, device: string): void {
  const name = new TextEncoder().encode(`${device}\0`);
  if (name.length > 16) throw new RangeError(`Not an interface name: ${JSON.stringify(device)}`);
  check(lib.setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, name, name.length), `SO_BINDTODEVICE`);
}

/** Sets an `int` socket option; throws an `OsError` on failure. */
function setIntOption(
  lib: LibcSymbols,
  fd: number,
  level: number,
  name: number,
  value: number,
  label: string,
): void {
  const cell = new Uint8Array(new Int32Array([value]).buffer);
  check(lib.setsockopt(fd, level, name, cell, 4), `setsockopt(${label})`);
}

/** Reads an `int` socket option; -1 when it fails. */
function getIntOption(lib: LibcSymbols, fd: number, level: number, name: number): number {
  const value = new Int32Array(1);
  const length = new Uint32Array([4]);
  const result = lib.getsockopt(
    fd,
    level,
    name,
    new Uint8Array(value.buffer),
    new Uint8Array(length.buffer),
  );
  return result < 0 ? -1 : value[0];
}

/** Asks for a socket buffer size: the privileged option (past `rmem_max`) first, then the plain. */
/** Sets an `int` socket option; false when the kernel refuses it. */
function tryIntOption(
  lib: LibcSymbols,
  fd: number,
  level: number,
  name: number,
  value: number,
): boolean {
  const cell = new Uint8Array(new Int32Array([value]).buffer);
  return lib.setsockopt(fd, level, name, cell, 4) === 0;
}

function trySetBuffer(
  lib: LibcSymbols,
  fd: number,
  forced: number,
  plain: number,
  bytes: number,
): void {
  const cell = new Uint8Array(new Int32Array([bytes]).buffer);
  if (lib.setsockopt(fd, SOL_SOCKET, forced, cell, 4) === 0) return;
  lib.setsockopt(fd, SOL_SOCKET, plain, cell, 4); // Capped at the sysctl maximum; failure ignored.
}
