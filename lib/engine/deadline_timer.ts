/**
 * The single timer of an engine: armed at the earliest deadline asked for, so a core's
 * `nextDeadline` can be offered after every input without re-arming each time.
 * @module
 */

/** One `setTimeout` at the earliest deadline asked for since it last fired. */
export class DeadlineTimer {
  readonly #fire: () => void;
  #timer?: ReturnType<typeof setTimeout>;
  #at = Number.POSITIVE_INFINITY;

  /** `fire` runs when the armed deadline comes. */
  constructor(fire: () => void) {
    this.#fire = fire;
  }

  /** Arms for `at` (ms, the clock of `now`) unless it is already armed as early. */
  arm(at: number, now: number): void {
    if (at >= this.#at) return;
    clearTimeout(this.#timer);
    this.#at = at;
    if (at === Number.POSITIVE_INFINITY) return;
    this.#timer = setTimeout(() => {
      this.#at = Number.POSITIVE_INFINITY;
      this.#fire();
    }, Math.max(0, at - now));
  }

  /** Cancels the armed deadline. */
  clear(): void {
    clearTimeout(this.#timer);
    this.#at = Number.POSITIVE_INFINITY;
  }
}
