/**
 * The paired ping at rest of the side-by-side benchmark (compare.ts): the bare veth, wireguard-go
 * and centipede are up at the same time, warmed up, and pinged in turns, round after round. Each
 * round gives one RTT overhead ratio centipede / wireguard-go from pings a few seconds apart, so
 * that the drift of a shared VM (which moves a separate run's RTT at rest by 2x) cancels out.
 * This file holds the arithmetic and the report; compare.ts does the pinging.
 * @module
 */
import {
  formatInterval,
  formatNumber,
  formatStats,
  type MedianInterval,
  medianInterval,
  type Stats,
  stats,
} from "./compare_stats.ts";

/** Average RTTs (ms) of one round; null where a ping got no reply. */
export interface PairedRound {
  readonly vethMs: number | null;
  readonly wireguardGoMs: number | null;
  readonly centipedeMs: number | null;
}

/** Medians (min–max) over the rounds. */
export interface PairedSummary {
  readonly rounds: number;
  readonly vethMs: Stats | null;
  readonly wireguardGoMs: Stats | null;
  readonly centipedeMs: Stats | null;
  /** Tunnel minus veth, per round. */
  readonly wireguardGoOverheadMs: Stats | null;
  readonly centipedeOverheadMs: Stats | null;
  /** centipede's overhead / wireguard-go's, per round (rounds where wireguard-go's is > 0). */
  readonly overheadRatio: Stats | null;
  /** A 95 % confidence interval for the median of those ratios; null with under 6 rounds. */
  readonly overheadRatioInterval: MedianInterval | null;
}

/** `tunnel - veth` of one round, or null. */
function overheadOf(tunnelMs: number | null, vethMs: number | null): number | null {
  return tunnelMs === null || vethMs === null ? null : tunnelMs - vethMs;
}

/** The ratio of one round, or null when it is undefined. */
export function roundRatio(round: PairedRound): number | null {
  const cp = overheadOf(round.centipedeMs, round.vethMs);
  const wg = overheadOf(round.wireguardGoMs, round.vethMs);
  return cp === null || wg === null || !(wg > 0) ? null : cp / wg;
}

/** The ratios of the rounds that have one. */
export function roundRatios(rounds: readonly PairedRound[]): number[] {
  return rounds.map(roundRatio).filter((r): r is number => r !== null);
}

export function summarizePaired(rounds: readonly PairedRound[]): PairedSummary {
  const ratios = roundRatios(rounds);
  return {
    rounds: rounds.length,
    vethMs: stats(rounds.map((r) => r.vethMs)),
    wireguardGoMs: stats(rounds.map((r) => r.wireguardGoMs)),
    centipedeMs: stats(rounds.map((r) => r.centipedeMs)),
    wireguardGoOverheadMs: stats(rounds.map((r) => overheadOf(r.wireguardGoMs, r.vethMs))),
    centipedeOverheadMs: stats(rounds.map((r) => overheadOf(r.centipedeMs, r.vethMs))),
    overheadRatio: stats(ratios),
    overheadRatioInterval: medianInterval(ratios),
  };
}

/** The Markdown section: how it was measured and a three-row table. */
export function renderPaired(s: PairedSummary, pingsPerTurn: number): string {
  const f = (x: Stats | null) => formatStats(x, s.rounds);
  const ratio = s.overheadRatio === null
    ? "—"
    : `${formatNumber(s.overheadRatio.median)}× (${formatNumber(s.overheadRatio.min)}–` +
      `${formatNumber(s.overheadRatio.max)}×)`;
  return [
    `#### Paired ping at rest (${s.rounds} rounds)`,
    "",
    "The bare veth, wireguard-go and centipede 1 path up at once, each warmed up with a flood " +
    `ping, then pinged in turns (${pingsPerTurn} pings at 100 Hz per turn, order reversed every ` +
    "other round). Cells are median (min–max) over rounds; the ratio is taken per round. Its " +
    "confidence interval is for the median ratio: the k-th smallest to the k-th largest round, " +
    "the number of rounds below the true median being binomial (distribution-free).",
    "",
    "| | bare veth | wireguard-go | centipede 1 path |",
    "| --- | --- | --- | --- |",
    `| ping RTT at rest (ms) | ${f(s.vethMs)} | ${f(s.wireguardGoMs)} | ${f(s.centipedeMs)} |`,
    `| RTT overhead at rest (ms) | — | ${f(s.wireguardGoOverheadMs)} | ` +
    `${f(s.centipedeOverheadMs)} |`,
    `| overhead centipede / wireguard-go, per round | | | ${ratio} |`,
    `| median of that ratio, confidence interval | | | ${
      formatInterval(s.overheadRatioInterval)
    } |`,
    "",
  ].join("\n");
}
