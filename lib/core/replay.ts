/**
 * The replay and duplicate window of one receiving session (RFC 6479 style ring of bits).
 *
 * In multipath, a copy of every packet arrives on every path: the first copy is delivered and
 * later copies fall in the window as duplicates. The window is only *checked* before decryption
 * and only *updated* after the tag verified, so forged packets cannot move it.
 * The zero value (a new window) accepts any counter.
 * @module
 */
import { REPLAY_WINDOW_PACKETS, REPLAY_WINDOW_WORDS, REPLAY_WORD_BITS } from "./constants.ts";

/** `ReplayWindow.check` verdicts. */
export const enum Replay {
  /** Never seen and inside the window: decrypt it. */
  Fresh = 0,
  /** Already accepted: a copy from another path, or a replay. */
  Duplicate = 1,
  /** Too far behind the newest counter to tell. */
  TooOld = 2,
}

/** Remembers which of the last `REPLAY_WINDOW_PACKETS` counters were accepted. */
export class ReplayWindow {
  readonly #bits = new Uint32Array(REPLAY_WINDOW_WORDS);
  #top = -1;

  /** Highest accepted counter, or -1. */
  get top(): number {
    return this.#top;
  }

  /** Classifies `counter` without changing the window. */
  check(counter: number): Replay {
    if (counter > this.#top) return Replay.Fresh;
    if (this.#top - counter >= REPLAY_WINDOW_PACKETS) return Replay.TooOld;
    return this.#isSet(counter) ? Replay.Duplicate : Replay.Fresh;
  }

  /** Marks an authenticated counter; false when it was not fresh (then nothing changes). */
  accept(counter: number): boolean {
    if (this.check(counter) !== Replay.Fresh) return false;
    if (counter > this.#top) this.#advance(counter);
    const word = Math.floor(counter / REPLAY_WORD_BITS) % REPLAY_WINDOW_WORDS;
    this.#bits[word] |= 1 << (counter % REPLAY_WORD_BITS);
    return true;
  }

  #isSet(counter: number): boolean {
    const word = Math.floor(counter / REPLAY_WORD_BITS) % REPLAY_WINDOW_WORDS;
    return (this.#bits[word] & (1 << (counter % REPLAY_WORD_BITS))) !== 0;
  }

  /** Clears the words between the old top and the new one. */
  #advance(counter: number): void {
    const oldBlock = this.#top < 0 ? -1 : Math.floor(this.#top / REPLAY_WORD_BITS);
    const newBlock = Math.floor(counter / REPLAY_WORD_BITS);
    const steps = Math.min(newBlock - oldBlock, REPLAY_WINDOW_WORDS);
    for (let i = 1; i <= steps; i++) {
      this.#bits[(newBlock - steps + i) % REPLAY_WINDOW_WORDS] = 0;
    }
    this.#top = counter;
  }
}
