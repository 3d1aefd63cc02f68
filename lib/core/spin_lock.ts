/**
 * A spin lock in one `Int32Array` cell (0 free, 1 held), for the few-instruction critical
 * sections of state that data plane threads share (send counters, replay windows). Spinning,
 * not `Atomics.wait`: the main thread may not block, and the holder is never descheduled for
 * long inside a section this short. The acquire and release are sequentially consistent, so
 * plain reads and writes inside the section are ordered with other threads' sections.
 * @module
 */

/** Takes the lock in `cell[0]`, spinning while another thread holds it. */
export function lock(cell: Int32Array): void {
  while (Atomics.compareExchange(cell, 0, 0, 1) !== 0) {
    // Another thread holds it for a few instructions.
  }
}

/** Releases the lock in `cell[0]`. */
export function unlock(cell: Int32Array): void {
  Atomics.store(cell, 0, 0);
}
