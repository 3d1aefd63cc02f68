/**
 * What an engine does every HOUSEKEEPING_INTERVAL_MS beside its loop: one log line for the inputs
 * dropped in the interval, and the wall clock read again for the core, so that handshake
 * timestamps and clock offsets follow a step of the system clock (NTP setting it after boot).
 * @module
 */
import type { DropCounters } from "../core/drops.ts";
import type { Logger } from "../core/logger.ts";

/** How often: drops are logged as one summary line per interval at most (rate-limited). */
export const HOUSEKEEPING_INTERVAL_MS = 10_000;

/** What housekeeping reads and sets. */
export interface Kept {
  readonly drops: DropCounters;
  /** Takes wall-clock ms minus monotonic ms (absent in a worker's lane: it makes no handshakes). */
  setWallClock?(epochOffsetMs: number): void;
}

/** Wall-clock ms minus the monotonic clock's ms, now. */
export function wallMinusMonotonicMs(): number {
  return Date.now() - performance.now();
}

/** The periodic chores of one engine; `start` arms the interval, `stop` clears it. */
export class Housekeeping {
  readonly #kept: Kept;
  readonly #logger: Logger;
  readonly #before: () => void;
  #logged: DropCounters;
  #interval: ReturnType<typeof setInterval> | undefined;

  /** `before` runs first in each round (a worker engine folds its lanes' counters there). */
  constructor(kept: Kept, logger: Logger, before: () => void = () => {}) {
    this.#kept = kept;
    this.#logger = logger;
    this.#before = before;
    this.#logged = { ...kept.drops };
  }

  start(): void {
    this.#logged = { ...this.#kept.drops };
    this.#interval ??= setInterval(
      () => this.run(wallMinusMonotonicMs()),
      HOUSEKEEPING_INTERVAL_MS,
    );
  }

  stop(): void {
    clearInterval(this.#interval);
    this.#interval = undefined;
  }

  /**
   * One round: the wall clock handed to the core, then one line for the drops since the last
   * round, if any (copies dropped as duplicates are the normal price of multipath: not logged).
   */
  run(epochOffsetMs: number): void {
    this.#before();
    this.#kept.setWallClock?.(epochOffsetMs);
    const drops = this.#kept.drops;
    const parts: string[] = [];
    for (const [reason, count] of Object.entries(drops)) {
      const delta = count - (this.#logged[reason as keyof DropCounters] ?? 0);
      if (delta > 0 && reason !== "duplicate") parts.push(`${reason} ${delta}`);
    }
    this.#logged = { ...drops };
    if (parts.length > 0) {
      this.#logger.info(
        `dropped in the last ${HOUSEKEEPING_INTERVAL_MS / 1000} s: ${parts.join(", ")}`,
      );
    }
  }
}
