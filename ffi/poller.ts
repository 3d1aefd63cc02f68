/**
 * A poll(2) set over the TUN fd and the sockets' fds, for the fast engine: a synchronous
 * zero-timeout poll first (cheap, no thread hop), and only when nothing is ready a parked poll on
 * Deno's FFI thread pool. An eventfd wakes a parked poll on `close()`.
 * @module
 */
import type { Poller } from "../lib/engine/ports.ts";
import { addressOf, libc, type LibcSymbols } from "./libc.ts";
import { check } from "./os_error.ts";

const POLLIN = 0x0001;
const POLLFD_BYTES = 8;
const EFD_NONBLOCK = 0o4000;
const EFD_CLOEXEC = 0o2000000;

/** Polls `fds` (plus an internal wake-up eventfd) for readability. */
export function openPoller(fds: readonly number[]): Poller {
  return new FdPoller(libc(), fds);
}

class FdPoller implements Poller {
  readonly #lib: LibcSymbols;
  /** `struct pollfd[n + 1]`, the last one the wake eventfd. Kept alive here. */
  readonly #fds: Uint8Array;
  readonly #address: bigint;
  readonly #count: bigint;
  readonly #wakeFd: number;
  readonly #wakeValue = new Uint8Array(new BigUint64Array([1n]).buffer);
  #closed = false;
  #inFlight = 0;

  constructor(lib: LibcSymbols, fds: readonly number[]) {
    this.#lib = lib;
    this.#wakeFd = check(lib.eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC), "eventfd");
    const all = [...fds, this.#wakeFd];
    this.#fds = new Uint8Array(all.length * POLLFD_BYTES);
    const ints = new Int32Array(this.#fds.buffer);
    const shorts = new Int16Array(this.#fds.buffer);
    all.forEach((fd, i) => {
      ints[2 * i] = fd;
      shorts[4 * i + 2] = POLLIN;
    });
    this.#address = addressOf(this.#fds);
    this.#count = BigInt(all.length);
  }

  async wait(timeoutMs: number): Promise<void> {
    if (this.#closed) return;
    if (this.#lib.poll(this.#address, this.#count, 0) !== 0) return;
    this.#inFlight++;
    try {
      const ms = Math.max(0, Math.min(Math.ceil(timeoutMs), 0x7fffffff));
      await this.#lib.pollAsync(this.#address, this.#count, ms);
    } finally {
      this.#inFlight--;
      if (this.#closed && this.#inFlight === 0) this.#lib.close(this.#wakeFd);
    }
  }

  waitSync(timeoutMs: number): boolean {
    if (this.#closed) return false;
    const ms = Math.max(0, Math.min(Math.ceil(timeoutMs), 0x7fffffff));
    return this.#lib.poll(this.#address, this.#count, ms) > 0;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#inFlight > 0) this.#lib.write(this.#wakeFd, addressOf(this.#wakeValue), 8n);
    else this.#lib.close(this.#wakeFd);
  }
}
