/**
 * The replay and duplicate window of one receiving session (RFC 6479 style ring of bits).
 *
 * In multipath, a copy of every packet arrives on every path: the first copy is delivered and
 * later copies fall in the window as duplicates. The window is only *checked* before decryption
 * and only *updated* after the tag verified, so forged packets cannot move it.
 * The zero value (a new window) accepts any counter.
 *
 * The window can live in shared memory (a `SharedArrayBuffer` from `replayMemory`), so that data
 * plane threads opening packets of one session share it: `accept` runs under a spin lock (a few
 * instructions long), so two threads opening two copies of one packet at once accept it once.
 * `check` reads without the lock: it is only the cheap filter before decryption.
 * @module
 */
import { REPLAY_WINDOW_PACKETS, REPLAY_WINDOW_WORDS, REPLAY_WORD_BITS } from "./constants.ts";
import { lock, unlock } from "./spin_lock.ts";

/** `ReplayWindow.check` verdicts. */
export const enum Replay {
  /** Never seen and inside the window: decrypt it. */
  Fresh = 0,
  /** Already accepted: a copy from another path, or a replay. */
  Duplicate = 1,
  /** Too far behind the newest counter to tell. */
  TooOld = 2,
}

/** Bytes of a window's memory: lock word, padding, top counter (f64), then the bits. */
export const REPLAY_MEMORY_BYTES = 16 + 4 * REPLAY_WINDOW_WORDS;

/** Fresh memory for a window that threads can share (top = -1: accepts any counter). */
export function replayMemory(): SharedArrayBuffer {
  const memory = new SharedArrayBuffer(REPLAY_MEMORY_BYTES);
  new Float64Array(memory, 8, 1)[0] = -1;
  return memory;
}

/** Remembers which of the last `REPLAY_WINDOW_PACKETS` counters were accepted. */
export class ReplayWindow {
  readonly memory: SharedArrayBuffer;
  /** [0]: the lock (0 free, 1 held). */
  readonly #lock: Int32Array;
  /** [0]: the highest accepted counter, or -1. */
  readonly #top: Float64Array;
  readonly #bits: Uint32Array;

  /** A new window, or a view of one another thread uses (`memory` from `replayMemory`). */
  constructor(memory: SharedArrayBuffer = replayMemory()) {
    this.memory = memory;
    this.#lock = new Int32Array(memory, 0, 1);
    this.#top = new Float64Array(memory, 8, 1);
    this.#bits = new Uint32Array(memory, 16, REPLAY_WINDOW_WORDS);
  }

  /** Highest accepted counter, or -1. */
  get top(): number {
    return this.#top[0];
  }

  /** Classifies `counter` without changing the window. */
  check(counter: number): Replay {
    const top = this.#top[0];
    if (counter > top) return Replay.Fresh;
    if (top - counter >= REPLAY_WINDOW_PACKETS) return Replay.TooOld;
    return this.#isSet(counter) ? Replay.Duplicate : Replay.Fresh;
  }

  /** Marks an authenticated counter; false when it was not fresh (then nothing changes). */
  accept(counter: number): boolean {
    lock(this.#lock);
    const fresh = this.check(counter) === Replay.Fresh;
    if (fresh) {
      if (counter > this.#top[0]) this.#advance(counter);
      const word = Math.floor(counter / REPLAY_WORD_BITS) % REPLAY_WINDOW_WORDS;
      this.#bits[word] |= 1 << (counter % REPLAY_WORD_BITS);
    }
    unlock(this.#lock);
    return fresh;
  }

  #isSet(counter: number): boolean {
    const word = Math.floor(counter / REPLAY_WORD_BITS) % REPLAY_WINDOW_WORDS;
    return (this.#bits[word] & (1 << (counter % REPLAY_WORD_BITS))) !== 0;
  }

  /** Clears the words between the old top and the new one. */
  #advance(counter: number): void {
    const top = this.#top[0];
    const oldBlock = top < 0 ? -1 : Math.floor(top / REPLAY_WORD_BITS);
    const newBlock = Math.floor(counter / REPLAY_WORD_BITS);
    const steps = Math.min(newBlock - oldBlock, REPLAY_WINDOW_WORDS);
    for (let i = 1; i <= steps; i++) {
      this.#bits[(newBlock - steps + i) % REPLAY_WINDOW_WORDS] = 0;
    }
    this.#top[0] = counter;
  }
}
