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
 * @module
 */
import type { Poller } from "../lib/engine/ports.ts";
import { addressOf, libc, type LibcSymbols } from "./libc.ts";
import { check } from "./os_error.ts";

const POLLIN = 0x0001;
const POLLFD_BYTES = 8;
const EFD_NONBLOCK = 0o4000;
const EFD_CLOEXEC = 0o2000000;
/** The largest `poll()` timeout in milliseconds. */
const MAX_POLL_MS = 0x7fffffff;

/** Polls `fds` (plus an internal wake-up eventfd, and `doorbell` in `waitSync`) for readability. */
export function openPoller(fds: readonly number[], doorbell = -1): Poller {
  return new FdPoller(libc(), fds, doorbell);
}

/** Converts a timeout to `poll()` milliseconds; negative or infinite means no limit. */
function pollTimeout(timeoutMs: number): number {
  if (timeoutMs < 0 || timeoutMs === Infinity) return -1;
  if (!(timeoutMs > 0)) return 0;
  return Math.min(Math.ceil(timeoutMs), MAX_POLL_MS);
}

class FdPoller implements Poller {
  readonly #lib: LibcSymbols;
  /** `struct pollfd[]`: the watched fds, the wake eventfd, the doorbell if any. Kept alive here. */
  readonly #fds: Uint8Array;
  readonly #address: bigint;
  /** The watched fds only: the first, synchronous look of `wait`. */
  readonly #watched: bigint;
  readonly #count: bigint;
  /** What `waitSync` polls: the watched fds, the wake eventfd (never readable then), the doorbell. */
  readonly #syncCount: bigint;
  /** Index of the doorbell's `revents` in `#shorts`, or -1. */
  readonly #doorbellRevents: number;
  readonly #shorts: Int16Array;
  readonly #wakeFd: number;
  readonly #wakeValue = new Uint8Array(new BigUint64Array([1n]).buffer);
  #closed = false;
  #inFlight = 0;

  constructor(lib: LibcSymbols, fds: readonly number[], doorbell: number) {
    this.#lib = lib;
    this.#wakeFd = check(lib.eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC), "eventfd");
    const all = [...fds, this.#wakeFd, ...(doorbell >= 0 ? [doorbell] : [])];
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
    this.#syncCount = BigInt(doorbell >= 0 ? all.length : fds.length);
    this.#doorbellRevents = doorbell >= 0 ? 4 * (all.length - 1) + 3 : -1;
  }

  async wait(timeoutMs: number): Promise<boolean> {
    if (this.#doorbellRevents >= 0) this.#shorts[this.#doorbellRevents] = 0;
    if (this.#closed) return false;
    if (this.#lib.poll(this.#address, this.#watched, 0) > 0) return true;
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
    // With a doorbell the wake eventfd lies between and is polled too, but it is never readable
    // here: `close()` cannot run while this thread is blocked, and a closed poller returns above.
    return this.#lib.poll(this.#address, this.#syncCount, pollTimeout(timeoutMs)) > 0;
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
    if (this.#inFlight > 0) this.#lib.write(this.#wakeFd, addressOf(this.#wakeValue), 8n);
    else this.#lib.close(this.#wakeFd);
  }
}
