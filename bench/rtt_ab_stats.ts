/**
 * The arithmetic and the report of `bench/rtt_ab.ts`, the A/B of two centipede builds' RTT at rest.
 *
 * Each round pings both tunnels in turns; a tunnel's overhead is the median RTT through it minus
 * the median RTT over its own bare veth, in the same turn. A round's ratio is B's overhead over
 * A's. The builds swap their slots (namespaces made first or second) for the second half, because
 * two slots running the same build differ by a few percent on their own; the effect of B is the
 * geometric mean of the two halves' median ratios.
 * @module
 */
import {
  formatInterval,
  formatNumber,
  median,
  type MedianInterval,
  medianInterval,
} from "./compare_stats.ts";

/** One turn: the RTTs of the pings through a tunnel and over its bare veth (ms). */
export interface Turn {
  readonly tunnelMs: readonly number[];
  readonly vethMs: readonly number[];
}

/** One round of one half: a turn of each build. */
export interface AbRound {
  readonly half: 1 | 2;
  readonly a: Turn;
  readonly b: Turn;
}

/** Tunnel minus veth, by medians and by means (ms); null without replies on either. */
export function overheadOf(turn: Turn): { median: number; mean: number } | null {
  if (turn.tunnelMs.length === 0 || turn.vethMs.length === 0) return null;
  return {
    median: median(turn.tunnelMs) - median(turn.vethMs),
    mean: mean(turn.tunnelMs) - mean(turn.vethMs),
  };
}

function mean(xs: readonly number[]): number {
  return xs.reduce((s, x) => s + x, 0) / xs.length;
}

/** B's overhead over A's in one round, by medians and by means; null where A's is not > 0. */
export function roundRatio(round: AbRound): { median: number; mean: number } | null {
  const a = overheadOf(round.a);
  const b = overheadOf(round.b);
  if (a === null || b === null || !(a.median > 0) || !(a.mean > 0)) return null;
  return { median: b.median / a.median, mean: b.mean / a.mean };
}

/** One half: the median of its rounds' ratios (by medians and by means) and an interval. */
export interface HalfSummary {
  readonly rounds: number;
  readonly overheadAMs: number | null;
  readonly overheadBMs: number | null;
  readonly ratio: number | null;
  readonly ratioInterval: MedianInterval | null;
  readonly ratioOfMeans: number | null;
}

export interface AbSummary {
  readonly halves: readonly [HalfSummary, HalfSummary];
  /** √(half 1 × half 2) of the median ratios: B's effect with the slots' bias cancelled. */
  readonly effect: number | null;
  readonly effectOfMeans: number | null;
}

function medianOrNull(xs: readonly number[]): number | null {
  return xs.length === 0 ? null : median(xs);
}

function summarizeHalf(rounds: readonly AbRound[]): HalfSummary {
  const ratios = rounds.map(roundRatio).filter((r) => r !== null);
  const byMedian = ratios.map((r) => r.median);
  const overheads = (pick: (r: AbRound) => Turn) =>
    rounds.map((r) => overheadOf(pick(r))?.median).filter((x) => x !== undefined);
  return {
    rounds: rounds.length,
    overheadAMs: medianOrNull(overheads((r) => r.a)),
    overheadBMs: medianOrNull(overheads((r) => r.b)),
    ratio: medianOrNull(byMedian),
    ratioInterval: medianInterval(byMedian),
    ratioOfMeans: medianOrNull(ratios.map((r) => r.mean)),
  };
}

function geometricMean(x: number | null, y: number | null): number | null {
  return x === null || y === null || !(x > 0) || !(y > 0) ? null : Math.sqrt(x * y);
}

export function summarizeAb(rounds: readonly AbRound[]): AbSummary {
  const halves = [
    summarizeHalf(rounds.filter((r) => r.half === 1)),
    summarizeHalf(rounds.filter((r) => r.half === 2)),
  ] as const;
  return {
    halves,
    effect: geometricMean(halves[0].ratio, halves[1].ratio),
    effectOfMeans: geometricMean(halves[0].ratioOfMeans, halves[1].ratioOfMeans),
  };
}

/** What the two builds were, for the report's first lines. */
export interface AbLabels {
  readonly a: string;
  readonly b: string;
  readonly pingsPerTurn: number;
}

const num = (x: number | null) => x === null ? "—" : formatNumber(x);
const times = (x: number | null) => x === null ? "—" : `${x.toFixed(3)}×`;

/** The Markdown report: the builds, a row per half and the effect. */
export function renderAb(s: AbSummary, labels: AbLabels): string {
  const row = (h: HalfSummary, n: number, slots: string) =>
    `| ${n} (${slots}) | ${h.rounds} | ${num(h.overheadAMs)} | ${num(h.overheadBMs)} | ` +
    `${times(h.ratio)} | ${formatInterval(h.ratioInterval)} | ${times(h.ratioOfMeans)} |`;
  return [
    "#### RTT at rest, build B against build A",
    "",
    `- A: ${labels.a}`,
    `- B: ${labels.b}`,
    "",
    `Both tunnels up at once, each over its own veth, warmed up by a flood ping, then pinged in ` +
    `turns (${labels.pingsPerTurn} pings at 100 Hz through the tunnel, then as many over its ` +
    "veth; order reversed every other round). Overhead: median tunnel RTT minus median veth RTT " +
    "of the same turn (ms, median over rounds). Ratio: B's overhead over A's per round, median " +
    "over rounds, with a distribution-free 95 % interval; the builds swap slots for half 2.",
    "",
    "| Half (slots) | Rounds | A overhead | B overhead | B / A | Interval | B / A of means |",
    "| --- | --- | --- | --- | --- | --- | --- |",
    row(s.halves[0], 1, "A first, B second"),
    row(s.halves[1], 2, "B first, A second"),
    "",
    `**Effect of B: ${times(s.effect)}** the overhead of A (geometric mean of the two halves; ` +
    `${times(s.effectOfMeans)} by means). An effect that the two halves do not show the same way ` +
    "is not resolved.",
    "",
  ].join("\n");
}
