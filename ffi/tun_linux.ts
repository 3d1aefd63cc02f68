/**
 * A Linux TUN device through libc FFI: `/dev/net/tun`, `ioctl(TUNSETIFF)` with
 * `IFF_TUN | IFF_NO_PI`, a non-blocking fd, and `poll()` on Deno's FFI thread pool to park.
 *
 * With `offload`, the device also gets `IFF_VNET_HDR` and `TUNSETOFFLOAD(TUN_F_CSUM |
 * TUN_F_TSO4 | TUN_F_TSO6)`: every read and write then starts with a virtio-net header, and the
 * kernel hands over TCP super-packets of up to 64 KiB (one read for dozens of segments) and
 * takes joined ones back.
 *
 * The device is not persistent: the kernel removes the interface when its fd is closed.
 * `TUNSETIFF` attaches to an existing TUN interface of the same name when the caller may own it
 * (same user, or root), instead of failing; callers that must not share a device check that the
 * name is free first (`InterfaceSetup.exists`). A name that belongs to a non-TUN interface fails
 * with `EINVAL`, one attached to another open fd with `EBUSY`, and a missing `CAP_NET_ADMIN` with
 * `EPERM`.
 *
 * `close()` wakes an in-flight `waitReadable` at once through an eventfd, so the interface
 * disappears promptly (an in-flight `poll()` holds a reference on the device until it returns).
 * @module
 */

import type { Poller, TunDevice } from "../lib/engine/ports.ts";
import { addressOf, errno, libc, type LibcSymbols, sizeOf } from "./libc.ts";
import { check, Errno, OsError } from "./os_error.ts";
import { openPoller } from "./poller.ts";

const O_RDWR = 0o2;
const O_NONBLOCK = 0o4000;
const O_CLOEXEC = 0o2000000;
const F_GETFL = 3;
const F_SETFL = 4;
/** `_IOW('T', 202, int)` from `linux/if_tun.h`. */
const TUNSETIFF = 0x400454can;
const IFF_TUN = 0x0001;
const IFF_NO_PI = 0x1000;
const IFF_VNET_HDR = 0x4000;
const IFF_MULTI_QUEUE = 0x0100;
/** `_IOW('T', 208, unsigned int)`: the offloads the reader of the device can take. */
const TUNSETOFFLOAD = 0x400454d0n;
const TUN_F_CSUM = 0x01;
const TUN_F_TSO4 = 0x02;
const TUN_F_TSO6 = 0x04;
/** Interface names are at most 15 bytes plus a NUL. */
const IFNAMSIZ = 16;
/** `sizeof(struct ifreq)` on 64-bit Linux: the name and a 24-byte union. */
const IFREQ_BYTES = 40;

const TUN_PATH = new TextEncoder().encode("/dev/net/tun\0");

/**
 * Creates (or attaches to) the TUN interface `name`; an empty name lets the kernel pick `tunN`.
 * With `offload`, asks for virtio-net headers and TSO, and falls back to a plain device (check
 * `vnetHeader`) when the kernel refuses the offloads. Throws an {@link OsError} naming the failed
 * call.
 */
export function openTun(name: string, options: { offload?: boolean } = {}): LinuxTunDevice {
  return openTunQueues(name, 1, options)[0];
}

/**
 * Creates the TUN interface `name` with `count` queues (`IFF_MULTI_QUEUE` when more than one):
 * one file descriptor each; the kernel spreads packets over them by flow. Offloads as `openTun`.
 */
export function openTunQueues(
  name: string,
  count: number,
  options: { offload?: boolean } = {},
): LinuxTunDevice[] {
  if (options.offload !== true) return openQueues(name, count, false);
  try {
    return openQueues(name, count, true);
  } catch (error) {
    // A kernel without these offloads: the plain device still works.
    if (error instanceof OsError && error.syscall === "ioctl(TUNSETOFFLOAD)") {
      return openQueues(name, count, false);
    }
    throw error;
  }
}

function openQueues(name: string, count: number, offload: boolean): LinuxTunDevice[] {
  const queues: LinuxTunDevice[] = [];
  try {
    for (let i = 0; i < count; i++) {
      queues.push(openTunWith(queues[0]?.name ?? name, offload, count > 1));
    }
    return queues;
  } catch (error) {
    for (const queue of queues) queue.close();
    throw error;
  }
}

/** A TUN queue: the engine's `TunDevice`, and a handle for other threads. */
export interface LinuxTunDevice extends TunDevice {
  readonly handle: TunHandle;
}

/** What another thread needs to use a TUN queue this one opened (`adoptTun`). Plain data. */
export interface TunHandle {
  readonly fd: number;
  readonly name: string;
  readonly vnetHeader: boolean;
}

/**
 * A second TUN object on the queue of `handle` (from another thread). It does not own the file
 * descriptor: `close` leaves it open; the owner closes it after this one is closed.
 */
export function adoptTun(handle: TunHandle): TunDevice {
  const lib = libc();
  return new LinuxTun(
    lib,
    handle.name,
    handle.fd,
    openPoller([handle.fd]),
    handle.vnetHeader,
    false,
  );
}

function openTunWith(name: string, offload: boolean, multiQueue: boolean): LinuxTunDevice {
  const lib = libc();
  const flags = IFF_TUN | IFF_NO_PI | (offload ? IFF_VNET_HDR : 0) |
    (multiQueue ? IFF_MULTI_QUEUE : 0);
  const ifreq = makeIfreq(name, flags);
  const fd = check(lib.open(TUN_PATH, O_RDWR | O_CLOEXEC, 0), "open(/dev/net/tun)");
  try {
    check(lib.ioctl(fd, TUNSETIFF, ifreq), "ioctl(TUNSETIFF)");
    if (offload) {
      const features = BigInt(TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6);
      check(lib.ioctlValue(fd, TUNSETOFFLOAD, features), "ioctl(TUNSETOFFLOAD)");
    }
    const flags = check(lib.fcntl(fd, F_GETFL, 0n), "fcntl(F_GETFL)");
    check(lib.fcntl(fd, F_SETFL, BigInt(flags | O_NONBLOCK)), "fcntl(F_SETFL, O_NONBLOCK)");
    return new LinuxTun(lib, ifreqName(ifreq), fd, openPoller([fd]), offload);
  } catch (error) {
    lib.close(fd);
    throw error;
  }
}

/** A zeroed `struct ifreq` holding `name` and `flags` (`ifr_flags`, a native-endian short). */
function makeIfreq(name: string, flags: number): Uint8Array {
  const encoded = new TextEncoder().encode(name);
  if (encoded.length >= IFNAMSIZ || encoded.includes(0)) {
    throw new RangeError(`Invalid interface name ${JSON.stringify(name)}: at most 15 bytes`);
  }
  const ifreq = new Uint8Array(IFREQ_BYTES);
  ifreq.set(encoded);
  new Uint16Array(ifreq.buffer, IFNAMSIZ, 1)[0] = flags;
  return ifreq;
}

/** The NUL-terminated name the kernel wrote back into `ifreq`. */
function ifreqName(ifreq: Uint8Array): string {
  const end = ifreq.indexOf(0);
  return new TextDecoder().decode(ifreq.subarray(0, end < 0 || end > IFNAMSIZ ? IFNAMSIZ : end));
}

/** One open TUN fd and the poller that parks on it (and that `close()` wakes). */
class LinuxTun implements LinuxTunDevice {
  readonly name: string;
  readonly vnetHeader: boolean;
  readonly #lib: LibcSymbols;
  readonly #fd: number;
  readonly #poller: Poller;
  #closed = false;
  /** The last receive buffer, its address and length: the engine reuses one buffer. */
  #readBuffer: Uint8Array | null = null;
  #readAddress = 0n;
  #readLength = 0;
  #readLengthBig = 0n;
  /** The last written packet's backing buffer (kept alive) and its base address. */
  #writeBuffer: ArrayBufferLike | null = null;
  #writeBase = 0;
  readonly #writeAddresses = new Map<number, bigint>();

  readonly #owned: boolean;

  constructor(
    lib: LibcSymbols,
    name: string,
    fd: number,
    poller: Poller,
    vnetHeader: boolean,
    owned = true,
  ) {
    this.#owned = owned;
    this.name = name;
    this.vnetHeader = vnetHeader;
    this.#lib = lib;
    this.#fd = fd;
    this.#poller = poller;
  }

  get handle(): TunHandle {
    return { fd: this.#fd, name: this.name, vnetHeader: this.vnetHeader };
  }

  /** The TUN file descriptor (for a poller that watches it with the sockets). */
  get fd(): number {
    return this.#closed ? -1 : this.#fd;
  }

  waitReadable(timeoutMs: number): Promise<boolean> {
    return this.#poller.wait(timeoutMs);
  }

  read(buf: Uint8Array): number {
    if (this.#closed) return 0;
    if (buf !== this.#readBuffer || buf.length !== this.#readLength) this.#cacheReadBuffer(buf);
    const result = this.#lib.read(this.#fd, this.#readAddress, this.#readLengthBig);
    if (result >= 0) return result;
    return this.#readFailed(errno());
  }

  write(buf: Uint8Array, offset: number, length: number): boolean {
    if (this.#closed || length <= 0 || offset + length > buf.length) return false;
    if (buf.buffer !== this.#writeBuffer) this.#cacheWriteBuffer(buf);
    const address = this.#writeAddress(buf.byteOffset + offset);
    const result = this.#lib.write(this.#fd, address, sizeOf(length));
    if (result >= 0) return true;
    return this.#writeFailed(errno());
  }

  /**
   * The address of byte `at` of the cached write buffer. Packets come from a few fixed places
   * (the receive slots), so the BigInts are made once per place, not once per packet.
   */
  #writeAddress(at: number): bigint {
    let address = this.#writeAddresses.get(at);
    if (address === undefined) {
      if (this.#writeAddresses.size >= 1024) this.#writeAddresses.clear();
      address = BigInt(this.#writeBase + at);
      this.#writeAddresses.set(at, address);
    }
    return address;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#poller.close(); // wakes a parked poll first: it would keep the interface alive
    if (this.#owned) this.#lib.close(this.#fd);
    this.#readBuffer = null;
    this.#writeBuffer = null;
  }

  #cacheReadBuffer(buf: Uint8Array): void {
    this.#readBuffer = buf;
    this.#readAddress = addressOf(buf);
    this.#readLength = buf.length;
    this.#readLengthBig = BigInt(buf.length);
  }

  #cacheWriteBuffer(packet: Uint8Array): void {
    this.#writeBuffer = packet.buffer;
    this.#writeBase = Number(addressOf(packet)) - packet.byteOffset;
    this.#writeAddresses.clear();
  }

  /** EAGAIN and EINTR mean "nothing queued"; anything else (EBADFD: device deleted) throws. */
  #readFailed(code: number): number {
    if (code === Errno.EAGAIN || code === Errno.EINTR) return 0;
    throw new OsError(`read(${this.name})`, code);
  }

  /** The kernel refused the packet (queue full, link down, not IP): false. Bugs throw. */
  #writeFailed(code: number): boolean {
    if (code === Errno.EBADF || code === Errno.EFAULT) {
      throw new OsError(`write(${this.name})`, code);
    }
    return false;
  }
}
