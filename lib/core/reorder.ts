/**
 * The receive-side reorder buffer of one session (aggregate and adaptive modes).
 *
 * Striped packets carry FLAG_SEQUENCED. A sequenced packet that arrives while an earlier counter
 * is still missing waits, up to `waitMs`, for the gap to fill; then the gap is skipped (the
 * packet was lost or its path is slow). Unsequenced packets (duplicated ones, control frames)
 * are never held. Everything is bounded: MAX_REORDER_PACKETS held, REORDER_MAX_WAIT_MS each.
 * Counters come from the session's replay window, so only authenticated, fresh packets enter.
 * @module
 */
import {
  MAX_REORDER_PACKETS,
  REORDER_MAX_WAIT_MS,
  REORDER_MIN_WAIT_MS,
  REPLAY_WINDOW_PACKETS,
} from "./constants.ts";
import { Replay, type ReplayWindow } from "./replay.ts";

/** Where released packets go. */
export type Deliver = (packet: Uint8Array) => void;

/** Holds striped packets until the counters before them arrived or timed out. */
export class ReorderBuffer {
  /** How long a packet waits for a gap; the peer tunes it from its paths' RTT spread. */
  waitMs = REORDER_MIN_WAIT_MS;
  /**
   * Extra wait learned from packets that arrived after their gap was skipped (the paths' skew
   * was larger than the estimate); it decays while packets arrive in time.
   */
  extraWaitMs = 0;
  /** Packets released late (after their gap was skipped) and gaps skipped, for statistics. */
  skippedGaps = 0;
  readonly #window: ReplayWindow;
  /** Lowest counter not yet released or skipped. */
  #next = 0;
  readonly #held = new Map<number, Uint8Array>();
  /** Held counters in arrival order, with their deadlines (arrival order = deadline order). */
  #queue: { counter: number; deadline: number }[] = [];
  /** The last skipped gap, [first, end). */
  #lastSkip: [number, number] = [0, 0];

  constructor(window: ReplayWindow) {
    this.#window = window;
  }

  /** Packets currently held. */
  get size(): number {
    return this.#held.size;
  }

  /**
   * An accepted counter: `packet` is its IP packet (undefined for a control frame). Delivers now
   * or holds a copy. `packet` is only read during the call.
   */
  push(
    counter: number,
    packet: Uint8Array | undefined,
    sequenced: boolean,
    now: number,
    deliver: Deliver,
  ): void {
    if (!sequenced || counter < this.#next) {
      if (sequenced && this.#skipped(counter)) {
        this.extraWaitMs = Math.min(REORDER_MAX_WAIT_MS, this.extraWaitMs * 1.5 + 2);
      }
      if (packet) deliver(packet);
      if (this.#held.size === 0) this.#next = Math.max(this.#next, counter + 1);
      else this.#advance(deliver);
      return;
    }
    if (counter === this.#next) {
      this.extraWaitMs *= 0.999;
      if (packet) deliver(packet);
      this.#next++;
      this.#advance(deliver);
      return;
    }
    this.#held.set(counter, packet ? packet.slice() : EMPTY);
    const wanted = this.waitMs + this.extraWaitMs;
    const wait = Math.min(Math.max(wanted, REORDER_MIN_WAIT_MS), REORDER_MAX_WAIT_MS);
    this.#queue.push({ counter, deadline: now + wait });
    if (this.#held.size > MAX_REORDER_PACKETS) this.#skipOldest(deliver);
    this.#advance(deliver);
  }

  /** Skips the gaps in front of packets whose wait ran out. */
  handleTimeout(now: number, deliver: Deliver): void {
    while (this.#queue.length > 0 && this.#queue[0].deadline <= now) this.#skipOldest(deliver);
  }

  /** When `handleTimeout` next has work, or +Infinity. */
  nextDeadline(): number {
    this.#dropReleased();
    return this.#queue[0]?.deadline ?? Number.POSITIVE_INFINITY;
  }

  /** Releases everything held, in counter order (session ending). */
  flush(deliver: Deliver): void {
    const counters = [...this.#held.keys()].sort((a, b) => a - b);
    for (const c of counters) {
      const packet = this.#held.get(c)!;
      if (packet.length > 0) deliver(packet);
    }
    this.#held.clear();
    this.#queue = [];
  }

  #skipOldest(deliver: Deliver): void {
    this.#dropReleased();
    const oldest = this.#queue.shift();
    if (!oldest) return;
    if (oldest.counter > this.#next) {
      this.skippedGaps++;
      this.#lastSkip = [this.#next, oldest.counter];
      this.#next = oldest.counter;
    }
    this.#advance(deliver);
  }

  /** True when `counter` lies in the most recently skipped gap (it came too late). */
  #skipped(counter: number): boolean {
    return counter >= this.#lastSkip[0] && counter < this.#lastSkip[1];
  }

  /** Releases held packets from `#next` on, stepping over counters accepted unsequenced. */
  #advance(deliver: Deliver): void {
    const top = this.#window.top;
    if (top - this.#next > REPLAY_WINDOW_PACKETS) this.#next = top - REPLAY_WINDOW_PACKETS;
    while (this.#next <= top) {
      const held = this.#held.get(this.#next);
      if (held) {
        this.#held.delete(this.#next);
        if (held.length > 0) deliver(held);
      } else if (this.#window.check(this.#next) === Replay.Fresh) {
        break; // a real gap: still missing
      }
      this.#next++;
    }
  }

  /** Drops queue entries whose packets were already released. */
  #dropReleased(): void {
    while (this.#queue.length > 0 && !this.#held.has(this.#queue[0].counter)) this.#queue.shift();
  }
}

const EMPTY = new Uint8Array(0);
