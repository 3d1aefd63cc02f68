/**
 * Per-peer path scheduling: which paths carry one packet. Pure and allocation-free per packet
 * (the result is written into a reused array).
 *
 * - duplicate: every usable path (or the `redundancy` best), sealed once, first copy wins.
 * - failover: one path, the lowest priority number then the best RTT; switch on failure, switch
 *   back to a preferred path only after it stayed active FAILOVER_HOLD_MS.
 * - aggregate: stripe over the usable paths by smooth weighted round robin, weights from each
 *   path's delivery rate (with headroom while it does not lose, so it can grow).
 * - adaptive: stripe bulk over healthy paths; duplicate small and latency-critical packets, and
 *   everything while a healthy path is in doubt (an overdue probe).
 * Usable paths are the active regular ones that are not degraded; backup ends (and degraded
 * paths) are used only when no such path exists.
 * @module
 */
import {
  AGGREGATE_MAX_SKEW_MS,
  DEGRADED_LOSS,
  FAILOVER_HOLD_MS,
  HEALTHY_LOSS,
} from "./constants.ts";
import type { Mode } from "../config/config.ts";
import type { Path } from "./path.ts";

/** Chooses the paths of each packet for one peer. */
export class Scheduler {
  mode: Mode;
  redundancy: number;
  /** The paths chosen by the last `select`, in `chosen[0, count)`. */
  readonly chosen: Path[] = [];
  /** True when the last selection striped (the receiver should restore order). */
  sequenced = false;
  /** Called when failover moves to another path (for the log). */
  onSwitch?: (from: Path | undefined, to: Path) => void;
  #pool: Path[] = [];
  #failoverPath?: Path;
  readonly #credit = new Map<Path, number>();

  constructor(mode: Mode = "duplicate", redundancy = 0) {
    this.mode = mode;
    this.redundancy = redundancy;
  }

  /** The path failover currently uses. */
  get failoverPath(): Path | undefined {
    return this.#failoverPath;
  }

  /**
   * Makes `path` the one failover currently uses (a data plane lane following the device's
   * choice); the usual rules apply from there.
   */
  set failoverPath(path: Path | undefined) {
    this.#failoverPath = path;
  }

  /**
   * Chooses the paths for one packet among `paths`; `critical` marks a small or
   * latency-critical packet. Returns how many were written to `chosen` (0: no active path).
   */
  select(paths: readonly Path[], critical: boolean, now: number): number {
    this.sequenced = false;
    const pool = this.#fillPool(paths);
    if (pool.length === 0) return 0;
    switch (this.mode) {
      case "duplicate":
        return this.#duplicate(pool, this.redundancy);
      case "failover":
        return this.#one(this.#failover(pool, now));
      case "aggregate":
        return this.#stripe(pool);
      case "adaptive":
        return this.#adaptive(pool, critical, now);
    }
  }

  /**
   * True when `path` is not in use but kept warm (probed sparsely): failover spares and backup
   * ends while a regular path carries the traffic.
   */
  isStandby(path: Path, paths: readonly Path[]): boolean {
    if (path.state !== "active") return false;
    if (this.mode === "failover") {
      return this.#failoverPath !== undefined && path !== this.#failoverPath;
    }
    return path.backup && this.#fillPool(paths).every((p) => !p.backup);
  }

  /**
   * The active regular paths while at least one of them is not degraded; else every active
   * path (backups join when the regular ones are down or degraded).
   */
  #fillPool(paths: readonly Path[]): Path[] {
    // Written by index and truncated at the end: emptying the array first (`length = 0`) would
    // drop its backing store and reallocate it on every packet.
    const pool = this.#pool;
    let n = 0;
    let good = false;
    for (const p of paths) {
      if (p.state !== "active" || p.backup) continue;
      pool[n++] = p;
      good ||= p.lossRate < DEGRADED_LOSS;
    }
    if (!good) {
      n = 0;
      for (const p of paths) if (p.state === "active") pool[n++] = p;
    }
    // Only when it changes: setting an array's length is a runtime call even to the same value.
    if (pool.length !== n) pool.length = n;
    return pool;
  }

  #duplicate(pool: Path[], limit: number): number {
    if (limit > 0 && pool.length > limit) pool.sort(byScore);
    const n = limit > 0 ? Math.min(limit, pool.length) : pool.length;
    for (let i = 0; i < n; i++) this.chosen[i] = pool[i];
    return n;
  }

  #one(path: Path): number {
    this.chosen[0] = path;
    return 1;
  }

  #failover(pool: Path[], now: number): Path {
    let best = pool[0];
    for (const p of pool) if (byPreference(p, best) < 0) best = p;
    const current = this.#failoverPath;
    const currentUsable = current !== undefined && pool.includes(current);
    if (currentUsable && current !== best) {
      // Move back to a preferred path only once it proved stable; never for RTT alone.
      const preferred = best.priority < current.priority ||
        (best.backup === false && current.backup === true);
      if (!preferred || now - best.stateSince < FAILOVER_HOLD_MS) return current;
    }
    if (current !== best) {
      this.#failoverPath = best;
      this.onSwitch?.(current, best);
    }
    return best;
  }

  #adaptive(pool: Path[], critical: boolean, now: number): number {
    if (critical) return this.#duplicate(pool, 0);
    // Only doubt about a path that carries bulk matters: a lossy path in doubt (its probes get
    // lost) would otherwise send every bulk packet twice, and the copies on the faster path
    // overtake the queue on the other and look like reordering to TCP.
    let healthy = 0;
    let doubt = false;
    for (const p of pool) {
      if (p.lossRate >= HEALTHY_LOSS) continue;
      healthy++;
      doubt ||= p.inDoubt(now);
    }
    if (healthy === 0 || doubt) return this.#duplicate(pool, 0);
    if (healthy < pool.length) {
      let k = 0;
      for (const p of pool) if (p.lossRate < HEALTHY_LOSS) pool[k++] = p;
      if (pool.length !== k) pool.length = k;
    }
    return this.#stripe(pool);
  }

  /** Smooth weighted round robin over `pool`, leaving out paths far slower than the best. */
  #stripe(pool: Path[]): number {
    let bestRtt = Number.POSITIVE_INFINITY;
    for (const p of pool) bestRtt = Math.min(bestRtt, p.srttMs);
    let total = 0;
    let chosen: Path | undefined;
    let chosenCredit = Number.NEGATIVE_INFINITY;
    for (const p of pool) {
      if (p.srttMs > bestRtt + AGGREGATE_MAX_SKEW_MS) continue;
      const weight = stripeWeight(p, pool);
      total += weight;
      const credit = (this.#credit.get(p) ?? 0) + weight;
      this.#credit.set(p, credit);
      if (credit > chosenCredit) {
        chosen = p;
        chosenCredit = credit;
      }
    }
    this.#credit.set(chosen!, chosenCredit - total);
    this.sequenced = true;
    return this.#one(chosen!);
  }

  /** Forgets per-path state of paths that are gone. */
  forget(path: Path): void {
    this.#credit.delete(path);
    if (this.#failoverPath === path) this.#failoverPath = undefined;
  }
}

/**
 * A path's share of striped traffic: what it delivers now, doubled while its RTT shows no queue
 * (it has spare capacity: offered more each time its delivery is measured, until a queue
 * builds), and equal shares before any estimate. Saturated paths settle in proportion to what
 * each carries.
 */
function stripeWeight(path: Path, pool: readonly Path[]): number {
  let best = 0;
  for (const p of pool) best = Math.max(best, p.deliveryRate);
  if (best === 0) return 1;
  const rate = Math.max(path.deliveryRate, 0.1 * best);
  return path.congested() ? rate : 2 * rate;
}

/** Lower is better: RTT plus variance, with loss weighing like 1 s of RTT per 100%. */
function byScore(a: Path, b: Path): number {
  return score(a) - score(b);
}

function score(p: Path): number {
  return p.srttMs + 4 * p.rttvarMs + 1000 * p.lossRate;
}

/** Regular before backup, then priority, then score. */
function byPreference(a: Path, b: Path): number {
  if (a.backup !== b.backup) return a.backup ? 1 : -1;
  if (a.priority !== b.priority) return a.priority - b.priority;
  return score(a) - score(b);
}
