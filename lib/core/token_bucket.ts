/**
 * A token bucket in virtual time: `take(now)` succeeds at most `burst` times at once and
 * `ratePerSecond` times per second in the long run. Used to bound the signature checks an
 * attacker can make us do (each Ed25519 verification costs about 0.4 ms).
 * @module
 */

/** A token bucket refilled by elapsed `now` (ms). */
export class TokenBucket {
  readonly #ratePerMs: number;
  readonly #burst: number;
  #tokens: number;
  #at = Number.NEGATIVE_INFINITY;

  constructor(ratePerSecond: number, burst: number) {
    this.#ratePerMs = ratePerSecond / 1000;
    this.#burst = burst;
    this.#tokens = burst;
  }

  /** Takes one token if there is one at `now`. */
  take(now: number): boolean {
    if (this.#at !== Number.NEGATIVE_INFINITY) {
      this.#tokens = Math.min(this.#burst, this.#tokens + (now - this.#at) * this.#ratePerMs);
    }
    this.#at = now;
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }
}
