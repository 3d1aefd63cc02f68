/**
 * poll(2) over a set of file descriptors, the one place that parks on them: a synchronous
 * zero-timeout poll first (about 1 µs, no thread hop), and only when nothing is ready a poll on
 * Deno's FFI thread pool (about 30 µs). An eventfd in the set lets `close()` end a parked poll at
 * once, which matters for a TUN device: an in-flight poll keeps the interface alive until it
 * returns. `pass` is a poll of nothing on the thread pool, for a busy loop to let the event loop
 * take in its own I/O. Used by the engine (TUN and sockets together), the TUN device and the UDP
 * sockets.
 *
 * A doorbell descriptor (the engine's: the control socket's listener) is watched by `waitSync`
 * alone and never read: `rang` says it was readable, so that the loop lets the event loop take in
 * what knocked.
 *
 * A slice clock (the engine's: a periodic timerfd) ends the `waitSync` calls of a slice or more
 * instead of poll's own timeout. poll(2) with a timeout arms a kernel timer at every call and
 * cancels it when a packet wakes it first; on these VMs that costs about 2 µs per wake-up, three
 * times per ping through an idle tunnel (docs/LATENCY.md). The clock is armed once, when the
 * loop starts its slices, and disarmed when it parks in `wait`, so an idle tunnel has no timer.
 * @module
 */
import type { Poller } from "../lib/engine/ports.ts";
import { addressOf, libc, type LibcSymbols } from "./libc.ts";
import { check } from "./os_error.ts";

const POLLIN = 0x0001;
const POLLFD_BYTES = 8;
const EFD_NONBLOCK = 0o4000;
const EFD_CLOEXEC = 0o2000000;
const CLOCK_MONOTONIC = 1;
const TFD_NONBLOCK = 0o4000;
const TFD_CLOEXEC = 0o2000000;
/** The largest `poll()` timeout in milliseconds. */
const MAX_POLL_MS = 0x7fffffff;

/** Options of {@link openPoller}. */
export interface PollerOptions {
  /** A descriptor `waitSync` watches and never reads (see `Poller.rang`); none by default. */
  readonly doorbell?: number;
  /**
   * With this set (ms, above 0), a `waitSync` of at least this long waits for the next tick of
   * a clock with this period instead of its own timeout: it returns within one slice, and a
   * packet that wakes it costs no timer. None by default.
   */
  readonly sliceMs?: number;
}

/**
 * Polls `fds` (plus an internal wake-up eventfd, and in `waitSync` the doorbell and the slice
 * clock) for readability.
 */
export function openPoller(fds: readonly number[], options: PollerOptions = {}): Poller {
  return new FdPoller(libc(), fds, options);
}

/** Converts a timeout to `poll()` milliseconds; negative or infinite means no limit. */
function pollTimeout(timeoutMs: number): number {
  if (timeoutMs < 0 || timeoutMs === Infinity) return -1;
  if (!(timeoutMs > 0)) return 0;
  return Math.min(Math.ceil(timeoutMs), MAX_POLL_MS);
}

/** A `struct itimerspec` that first expires after `periodMs` and then every `periodMs` (0: off). */
function periodicSpec(periodMs: number): Uint8Array {
  const ns = BigInt(Math.round(periodMs * 1e6));
  const seconds = ns / 1_000_000_000n;
  const rest = ns % 1_000_000_000n;
  // it_interval, then it_value; each a struct timespec { time_t tv_sec; long tv_nsec; }.
  return new Uint8Array(new BigInt64Array([seconds, rest, seconds, rest]).buffer);
}

class FdPoller implements Poller {
  readonly #lib: LibcSymbols;
  /**
   * `struct pollfd[]`: the watched fds, the wake eventfd, the doorbell and the slice clock if any.
   * Kept alive here.
   */
  readonly #fds: Uint8Array;
  readonly #address: bigint;
  /** The watched fds only: the first, synchronous look of `wait`. */
  readonly #watched: bigint;
  readonly #count: bigint;
  /**
   * What `waitSync` polls: the watched fds, the wake eventfd (never readable then), the doorbell,
   * the slice clock.
   */
  readonly #syncCount: bigint;
  /** Index of the doorbell's `revents` in `#shorts`, or -1. */
  readonly #doorbellRevents: number;
  readonly #shorts: Int16Array;
  readonly #wakeFd: number;
  /** The slice clock (a timerfd), or -1; its `revents` index; its period; whether it ticks. */
  readonly #clockFd: number;
  readonly #clockRevents: number;
  readonly #sliceMs: number;
  #clockArmed = false;
  readonly #clockOn: Uint8Array;
  readonly #clockOff = periodicSpec(0);
  /** Where a read of the clock puts its count of expiries. */
  readonly #expiries = new Uint8Array(8);
  readonly #expiriesAddress = addressOf(this.#expiries);
  readonly #wakeValue = new Uint8Array(new BigUint64Array([1n]).buffer);
  #closed = false;
  #inFlight = 0;

  constructor(lib: LibcSymbols, fds: readonly number[], options: PollerOptions) {
    this.#lib = lib;
    const doorbell = options.doorbell ?? -1;
    this.#sliceMs = options.sliceMs ?? 0;
    if (!(this.#sliceMs >= 0 && this.#sliceMs < MAX_POLL_MS)) {
      throw new RangeError(`sliceMs must be a number of ms from 0, got ${this.#sliceMs}`);
    }
    this.#clockOn = periodicSpec(this.#sliceMs);
    this.#wakeFd = check(lib.eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC), "eventfd");
    this.#clockFd = this.#sliceMs > 0
      ? check(lib.timerfdCreate(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC), "timerfd_create")
      : -1;
    const sync = [
      ...(doorbell >= 0 ? [doorbell] : []),
      ...(this.#clockFd >= 0 ? [this.#clockFd] : []),
    ];
    const all = [...fds, this.#wakeFd, ...sync];
    this.#fds = new Uint8Array(all.length * POLLFD_BYTES);
    const ints = new Int32Array(this.#fds.buffer);
    const shorts = new Int16Array(this.#fds.buffer);
    all.forEach((fd, i) => {
      ints[2 * i] = fd;
      shorts[4 * i + 2] = POLLIN;
    });
    this.#shorts = shorts;
    this.#address = addressOf(this.#fds);
    this.#watched = BigInt(fds.length);
    this.#count = BigInt(fds.length + 1);
    this.#syncCount = BigInt(sync.length > 0 ? all.length : fds.length);
    const revents = (fd: number) => fd >= 0 ? 4 * all.indexOf(fd) + 3 : -1;
    this.#doorbellRevents = revents(doorbell);
    this.#clockRevents = revents(this.#clockFd);
  }

  async wait(timeoutMs: number): Promise<boolean> {
    if (this.#doorbellRevents >= 0) this.#shorts[this.#doorbellRevents] = 0;
    if (this.#closed) return false;
    if (this.#lib.poll(this.#address, this.#watched, 0) > 0) return true;
    if (this.#clockArmed) this.#setClock(false); // parked: no ticks while idle
    this.#inFlight++; // `this` stays reachable across the await, and so does #fds.
    try {
      const ready = await this.#lib.pollAsync(this.#address, this.#count, pollTimeout(timeoutMs));
      // -1 is EINTR in practice (errno lives on the pool thread): report it as a timeout.
      return ready > 0 && !this.#closed;
    } finally {
      this.#inFlight--;
      if (this.#closed && this.#inFlight === 0) this.#lib.close(this.#wakeFd);
    }
  }

  waitSync(timeoutMs: number): boolean {
    if (this.#closed) return false;
    let timeout = pollTimeout(timeoutMs);
    if (this.#clockFd >= 0 && timeoutMs >= this.#sliceMs) {
      if (!this.#clockArmed) this.#setClock(true);
      timeout = -1; // the clock's next tick ends the wait, within one slice
    }
    // The wake eventfd lies between the data descriptors and the doorbell and clock, and is polled
    // too, but it is never readable here: `close()` cannot run while this thread is blocked, and
    // a closed poller returns above.
    const ready = this.#lib.poll(this.#address, this.#syncCount, timeout);
    if (ready <= 0) return false;
    if (this.#clockRevents < 0 || this.#shorts[this.#clockRevents] === 0) return true;
    this.#lib.read(this.#clockFd, this.#expiriesAddress, 8n); // the tick is taken: not readable
    return ready > 1;
  }

  #setClock(on: boolean): void {
    this.#clockArmed = on;
    check(
      this.#lib.timerfdSettime(this.#clockFd, 0, on ? this.#clockOn : this.#clockOff, 0n),
      "timerfd_settime",
    );
  }

  rang(): boolean {
    return this.#doorbellRevents >= 0 && (this.#shorts[this.#doorbellRevents] & POLLIN) !== 0;
  }

  async pass(): Promise<void> {
    // poll() on no descriptors with no timeout: returns 0 at once, on a pool thread.
    await this.#lib.pollAsync(this.#address, 0n, 0);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#clockFd >= 0) this.#lib.close(this.#clockFd); // only waitSync polls it
    if (this.#inFlight > 0) this.#lib.write(this.#wakeFd, addressOf(this.#wakeValue), 8n);
    else this.#lib.close(this.#wakeFd);
  }
}
