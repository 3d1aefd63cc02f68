/**
 * UDP path sockets on `Deno.listenDatagram` (needs `--unstable-net`, set in deno.json).
 *
 * Measured on Linux (Deno 2.9.6, kernel 6.18): Deno does not set `IPV6_V6ONLY`, so a socket bound
 * to `::` follows the `net.ipv6.bindv6only` sysctl. With the default (0) it is dual-stack: it
 * receives IPv4 datagrams, reported from `::ffff:a.b.c.d` (this module reports them as `a.b.c.d`),
 * it can send to plain IPv4 literals, and binding `0.0.0.0` on the same port then fails with
 * `AddrInUse` (in either bind order). With `bindv6only=1` both binds succeed and each socket
 * carries one family. {@link openWildcardSockets} probes which case holds and returns one
 * dual-stack socket or an IPv4 plus an IPv6 socket on the same port. (The probe reads the
 * `AddrInUse` from binding `0.0.0.0` as dual-stack; with `bindv6only=1` and another process on
 * `0.0.0.0` of that very port it would guess wrong.)
 *
 * Also measured: `receive(buf)` writes into the caller's buffer and truncates datagrams longer
 * than it; a pending `receive` rejects with `Interrupted` on close, a later one with `BadResource`.
 * Deno's `send` may keep a reference to the bytes until its promise settles, so `send` here copies
 * them into a pooled slot first. Deno reverses datagrams sent in the same tick, so sends are
 * queued and handed to Deno one at a time (see `DatagramPathSocket`).
 * @module
 */

import type { PathSocket, Received, UdpAddr } from "../engine/ports.ts";

/** Sends allowed in flight per socket before `send` drops and returns false. */
export const DEFAULT_MAX_SENDS_IN_FLIGHT = 256;
/** Pooled send slots hold datagrams up to this size; larger ones get a one-off copy. */
const SLOT_BYTES = 2048;
/** Consecutive receive errors (while open) after which `receive` gives up and rethrows. */
const MAX_RECEIVE_FAILURES = 100;

/** Counters of one socket, for diagnostics. */
export interface UdpSocketStats {
  /** Datagrams the kernel accepted. */
  sent: number;
  /** Sends that failed (no route, message too long, wrong address family...). */
  sendErrors: number;
  /** Sends refused because too many were in flight. */
  sendDropped: number;
  /** Receive errors while open (each one retried). */
  receiveErrors: number;
  /** The message of the last send error, or "" when none. */
  lastSendError: string;
}

/** A {@link PathSocket} with counters and the address families it can send to. */
export interface UdpPathSocket extends PathSocket {
  /** Live counters. */
  readonly stats: Readonly<UdpSocketStats>;
  /** 4, 6, or both for a dual-stack `::` socket. */
  readonly families: readonly (4 | 6)[];
}

/** Options for {@link openUdpSocket}. */
export interface UdpSocketOptions {
  /** Sends in flight before `send` returns false; default {@link DEFAULT_MAX_SENDS_IN_FLIGHT}. */
  readonly maxSendsInFlight?: number;
}

/**
 * Binds a UDP socket on `hostname:port` (port 0: the kernel picks one); throws when it cannot.
 * Its `families` is that of `hostname` alone, even for `::`: use {@link openWildcardSockets} to
 * learn whether `::` also carries IPv4.
 */
export function openUdpSocket(
  hostname: string,
  port: number,
  options: UdpSocketOptions = {},
): UdpPathSocket {
  const conn = Deno.listenDatagram({ transport: "udp", hostname, port });
  return new DatagramPathSocket(conn, [hostname.includes(":") ? 6 : 4], options);
}

/**
 * Binds the wildcard addresses on `port` (0: one port the kernel picks, shared by both): one
 * dual-stack `::` socket when the system allows it, else `0.0.0.0` and `::` sockets, or only
 * `0.0.0.0` when IPv6 is unavailable.
 */
export function openWildcardSockets(port: number, options: UdpSocketOptions = {}): UdpPathSocket[] {
  let v6: Deno.DatagramConn;
  try {
    v6 = Deno.listenDatagram({ transport: "udp", hostname: "::", port });
  } catch (error) {
    if (error instanceof Deno.errors.AddrInUse) throw error;
    return [openUdpSocket("0.0.0.0", port, options)];
  }
  const boundPort = (v6.addr as Deno.NetAddr).port;
  let v4: Deno.DatagramConn;
  try {
    v4 = Deno.listenDatagram({ transport: "udp", hostname: "0.0.0.0", port: boundPort });
  } catch (error) {
    if (error instanceof Deno.errors.AddrInUse) {
      return [new DatagramPathSocket(v6, [6, 4], options)]; // `::` already holds IPv4 too.
    }
    v6.close();
    throw error;
  }
  return [new DatagramPathSocket(v4, [4], options), new DatagramPathSocket(v6, [6], options)];
}

/** `a.b.c.d` for an IPv4-mapped IPv6 literal `::ffff:a.b.c.d`; other literals unchanged. */
export function unmapIpv4(hostname: string): string {
  return hostname.startsWith("::ffff:") && hostname.includes(".") ? hostname.slice(7) : hostname;
}

/** One queued datagram: a copy of its bytes and where it goes. */
interface QueuedSend {
  /** A pooled {@link SLOT_BYTES} buffer, or a one-off buffer for a larger datagram. */
  readonly bytes: Uint8Array;
  length: number;
  target: Deno.NetAddr;
}

/**
 * A `Deno.DatagramConn` behind the {@link PathSocket} contract.
 *
 * Deno reverses the order of datagrams whose `send` calls start in the same tick (measured: 10
 * sends in a loop arrive as 9, 8, ..., 0), so this class keeps a FIFO queue and hands Deno one
 * datagram at a time, starting the next when the previous settles. Awaiting each send costs
 * about 10% of throughput against 32 in flight (135 k vs 152 k pps, research notes) but keeps
 * the order inner TCP flows expect.
 */
class DatagramPathSocket implements UdpPathSocket {
  readonly localAddr: UdpAddr;
  readonly families: readonly (4 | 6)[];
  readonly stats: UdpSocketStats = {
    sent: 0,
    sendErrors: 0,
    sendDropped: 0,
    receiveErrors: 0,
    lastSendError: "",
  };
  readonly #conn: Deno.DatagramConn;
  readonly #maxInFlight: number;
  readonly #freeSlots: QueuedSend[] = [];
  /** Queued datagrams, oldest first, from index #queueHead on. */
  #queue: QueuedSend[] = [];
  #queueHead = 0;
  /** The datagram Deno is sending now, or null when idle. */
  #sending: QueuedSend | null = null;
  #closed = false;
  readonly #onSent = () => this.#settled(null);
  readonly #onFailed = (error: unknown) => this.#settled(error);

  constructor(conn: Deno.DatagramConn, families: readonly (4 | 6)[], options: UdpSocketOptions) {
    const addr = conn.addr as Deno.NetAddr;
    this.localAddr = { hostname: addr.hostname, port: addr.port };
    this.families = families;
    this.#conn = conn;
    this.#maxInFlight = Math.max(1, options.maxSendsInFlight ?? DEFAULT_MAX_SENDS_IN_FLIGHT);
  }

  async receive(buf: Uint8Array): Promise<Received | null> {
    for (let failures = 0; !this.#closed;) {
      try {
        const [data, from] = await this.#conn.receive(buf);
        return { length: this.#intoBuffer(data, buf), from: toUdpAddr(from) };
      } catch (error) {
        if (this.#closed) break;
        this.stats.receiveErrors++;
        if (++failures >= MAX_RECEIVE_FAILURES) throw error;
      }
    }
    return null;
  }

  send(bytes: Uint8Array, to: UdpAddr): boolean {
    if (this.#closed) return false;
    const family = to.hostname.includes(":") ? 6 : 4;
    if (!this.families.includes(family)) {
      this.#countSendError(`cannot send to IPv${family} from ${this.localAddr.hostname}`);
      return false;
    }
    const queued = this.#takeSlot(bytes.length);
    if (queued === null) {
      this.stats.sendDropped++;
      return false;
    }
    queued.bytes.set(bytes);
    queued.length = bytes.length;
    queued.target = { transport: "udp", hostname: to.hostname, port: to.port };
    this.#queue.push(queued);
    if (this.#sending === null) this.#sendNext();
    return true;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#queue = [];
    this.#queueHead = 0;
    this.#conn.close();
  }

  /** The length now in `buf`, copying (truncated) if Deno returned another buffer. */
  #intoBuffer(data: Uint8Array, buf: Uint8Array): number {
    if (data.buffer === buf.buffer && data.byteOffset === buf.byteOffset) return data.length;
    const length = Math.min(data.length, buf.length);
    buf.set(data.subarray(0, length));
    return length;
  }

  /** Datagrams queued or being sent. */
  get #inFlight(): number {
    return this.#queue.length - this.#queueHead + (this.#sending === null ? 0 : 1);
  }

  /** A free copy slot big enough for `length` bytes, or null when the in-flight cap is hit. */
  #takeSlot(length: number): QueuedSend | null {
    if (this.#inFlight >= this.#maxInFlight) return null;
    const bytes = length > SLOT_BYTES ? new Uint8Array(length) : null;
    if (bytes === null && this.#freeSlots.length > 0) return this.#freeSlots.pop()!;
    return { bytes: bytes ?? new Uint8Array(SLOT_BYTES), length: 0, target: NO_TARGET };
  }

  /** Hands the oldest queued datagram to Deno. */
  #sendNext(): void {
    const next = this.#queue[this.#queueHead++];
    if (this.#queueHead === this.#queue.length) {
      this.#queue.length = 0;
      this.#queueHead = 0;
    }
    this.#sending = next;
    try {
      this.#conn.send(next.bytes.subarray(0, next.length), next.target).then(
        this.#onSent,
        this.#onFailed,
      );
    } catch (error) {
      this.#onFailed(error);
    }
  }

  /** Counts the outcome of the current send, recycles its slot and starts the next one. */
  #settled(error: unknown): void {
    const done = this.#sending!;
    this.#sending = null;
    if (error === null) this.stats.sent++;
    else if (!this.#closed) this.#countSendError(errorMessage(error));
    if (done.bytes.length === SLOT_BYTES) this.#freeSlots.push(done);
    if (!this.#closed && this.#queue.length > this.#queueHead) this.#sendNext();
  }

  #countSendError(message: string): void {
    this.stats.sendErrors++;
    this.stats.lastSendError = message;
  }
}

/** The target of a slot that is not queued. */
const NO_TARGET: Deno.NetAddr = { transport: "udp", hostname: "0.0.0.0", port: 0 };

/** The message of a thrown value. */
function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** The engine's address form of a Deno datagram source, with IPv4-mapped sources unmapped. */
function toUdpAddr(addr: Deno.Addr): UdpAddr {
  const net = addr as Deno.NetAddr;
  return { hostname: unmapIpv4(net.hostname), port: net.port };
}
