/**
 * A counter that several threads take numbers from, each number once: a session's send counter
 * when data plane workers seal packets of one session at the same time. It lives in a
 * `SharedArrayBuffer`; `take` runs under a spin lock (the value is a float64: counters go past
 * 2^32, and Atomics have no 64-bit float or allocation-free 64-bit integer add).
 * @module
 */
import { lock, unlock } from "./spin_lock.ts";

/** Bytes of a counter's memory: lock word, padding, value (f64). */
const COUNTER_MEMORY_BYTES = 16;

/** A counter over shared memory (new, or another thread's `memory`). */
export class SharedCounter {
  readonly memory: SharedArrayBuffer;
  readonly #lock: Int32Array;
  readonly #value: Float64Array;

  constructor(memory: SharedArrayBuffer = new SharedArrayBuffer(COUNTER_MEMORY_BYTES)) {
    this.memory = memory;
    this.#lock = new Int32Array(memory, 0, 1);
    this.#value = new Float64Array(memory, 8, 1);
  }

  /** The next number `take` returns. */
  get value(): number {
    return this.#value[0];
  }

  /** Returns the current value and counts one up, atomically across threads. */
  take(): number {
    lock(this.#lock);
    const value = this.#value[0];
    this.#value[0] = value + 1;
    unlock(this.#lock);
    return value;
  }
}
