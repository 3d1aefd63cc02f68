/**
 * The engine's view of the operating system: small interfaces that the engine owns and that
 * `ffi/` and `lib/host/` implement. Fakes for tests live in `tests/_fakes.ts`.
 * @module
 */

/** A UDP address: an IP literal (no brackets) and a port. */
export interface UdpAddr {
  readonly hostname: string;
  readonly port: number;
}

/**
 * A layer-3 TUN device (no packet-information header: each read or write is one IP packet).
 *
 * Reads never block: the engine parks on `waitReadable` and then drains with `read` until it
 * returns 0. After `close`, `waitReadable` resolves false and `read`/`write` do nothing.
 */
export interface TunDevice {
  /** Kernel interface name, e.g. `wg0`. */
  readonly name: string;
  /** The file descriptor, for a `Poller`; -1 when there is none (fakes) or after `close`. */
  readonly fd: number;
  /**
   * True when every read and write starts with a 10-byte virtio-net header (`IFF_VNET_HDR`, with
   * checksum and TCP segmentation offloads on): reads may then return TCP super-packets of up to
   * 64 KiB to be cut (`lib/core/tso.ts`), and writes may carry joined ones (`lib/core/gro.ts`).
   */
  readonly vnetHeader: boolean;
  /** Resolves true when a packet can be read, false on timeout or after `close`. */
  waitReadable(timeoutMs: number): Promise<boolean>;
  /** Copies one queued packet into `buf` and returns its length; 0 when none is queued. */
  read(buf: Uint8Array): number;
  /**
   * Writes the IP packet `buf[offset, offset + length)`; false when the kernel refused it (queue
   * full, device down, not an IP packet).
   */
  write(buf: Uint8Array, offset: number, length: number): boolean;
  /** Closes the file descriptor; the kernel removes a non-persistent device with it. */
  close(): void;
}

/** One received datagram: its length in the caller's buffer and where it came from. */
export interface Received {
  readonly length: number;
  readonly from: UdpAddr;
}

/**
 * A UDP socket bound to one local address: one local end of zero or more paths.
 *
 * `send` copies the bytes before it returns, so the caller may reuse its buffer at once.
 * Network errors (unreachable, no route, buffer full) are reported as `false`, never thrown.
 */
export interface PathSocket {
  /** The bound address, with the port the kernel picked when 0 was asked for. */
  readonly localAddr: UdpAddr;
  /** Address families it can send to: one, or both for a dual-stack `::` socket. */
  readonly families: readonly (4 | 6)[];
  /** Receives one datagram into `buf`; resolves null once the socket is closed. */
  receive(buf: Uint8Array): Promise<Received | null>;
  /** Queues one datagram to `to`; false when it could not be sent. */
  send(bytes: Uint8Array, to: UdpAddr): boolean;
  close(): void;
}

/**
 * A socket the fast engine drains and fills in batches (recvmmsg/sendmmsg), without allocating
 * per datagram. Views returned by `datagram` are valid until the next `receiveBatch`.
 */
export interface BatchSocket extends PathSocket {
  readonly fd: number;
  /** Receives up to one batch without blocking; returns how many datagrams arrived. */
  receiveBatch(): number;
  /** The buffer holding datagram `i` of the last batch, from offset 0. */
  datagram(i: number): Uint8Array;
  /** The length of datagram `i`. */
  length(i: number): number;
  /** The sender of datagram `i`: the same object every time for the same address. */
  source(i: number): UdpAddr;
  /** Copies `bytes[0, length)` into the send batch for `to`; false when it cannot. */
  queue(bytes: Uint8Array, length: number, to: UdpAddr): boolean;
  /** Sends everything queued; returns how many datagrams went out. */
  flush(): number;
}

/** Waits until any of a set of file descriptors is readable (poll(2)). */
export interface Poller {
  /**
   * Resolves true at once when one is readable now, else when one becomes readable; false on
   * timeout or after `close`. A negative or infinite timeout waits until one of those.
   */
  wait(timeoutMs: number): Promise<boolean>;
  /**
   * Blocks the calling thread in poll(2) for at most `timeoutMs` (keep it short: the event loop
   * waits meanwhile). Wakes within microseconds of a packet, without the thread-pool hop of
   * `wait`. Returns true when something is readable. A poller with a slice clock may return
   * false sooner, at the clock's tick.
   */
  waitSync(timeoutMs: number): boolean;
  /**
   * True when the last `waitSync` found the doorbell readable (a descriptor the poller watches
   * there and never reads; none by default). `waitSync` also returns true then.
   */
  rang(): boolean;
  /**
   * Resolves after a no-op on Deno's thread pool (some tens of microseconds). While it is out, the
   * event loop has no task ready and so, as a rule, asks the operating system for its own events:
   * the control socket, signals, worker messages (not when the pool thread is done first). A loop
   * that only ever yields with `setImmediate` always leaves a task ready, and Deno then looks at
   * those events only every few dozen turns (bench/event_loop_bench.ts).
   */
  pass(): Promise<void>;
  close(): void;
}

/** What the engine needs to set an interface up and tear it down (`ip` on Linux). */
export interface InterfaceSetup {
  /** Assigns addresses, sets the MTU, brings the link up and adds the routes. */
  configure(name: string, options: InterfaceOptions): Promise<void>;
  /** True when a network interface of this name exists. */
  exists(name: string): Promise<boolean>;
}

/** Options for `InterfaceSetup.configure`. */
export interface InterfaceOptions {
  /** `address/prefix` strings, e.g. `10.77.0.1/24`, `fd77::1/64`. */
  readonly addresses: readonly string[];
  readonly mtu: number;
  /** Canonical prefixes to route into the interface, e.g. `10.77.1.0/24`. */
  readonly routes: readonly string[];
}
