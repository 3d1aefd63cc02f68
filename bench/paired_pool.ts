/**
 * Pools the paired rounds of several `bench/compare.ts` runs: the median per-round ratio of RTT
 * overheads (centipede / wireguard-go) over all of them and its 95 % confidence interval.
 *
 *     deno run --allow-read bench/paired_pool.ts DIR_OR_JSON...
 *
 * Each argument is a `--out` directory of compare.ts or its `compare.json`. Only pool runs of
 * one data path: the interval assumes the rounds come from one distribution.
 * @module
 */
import { formatNumber, median, medianInterval } from "./compare_stats.ts";
import { type PairedRound, roundRatio } from "./paired_rtt.ts";

/** The per-round ratios of one compare.json (none when it has no paired rounds). */
export function ratiosOf(json: { paired?: { rounds?: PairedRound[] } | null }): number[] {
  const rounds = json.paired?.rounds ?? [];
  return rounds.map(roundRatio).filter((r): r is number => r !== null);
}

if (import.meta.main) {
  const all: number[] = [];
  for (const arg of Deno.args) {
    const path = arg.endsWith(".json") ? arg : `${arg}/compare.json`;
    const ratios = ratiosOf(JSON.parse(await Deno.readTextFile(path)));
    console.log(`${path}: ${ratios.length} rounds, median ${formatNumber(median(ratios))}x`);
    all.push(...ratios);
  }
  const ci = medianInterval(all);
  const under = all.filter((r) => r <= 0.5).length;
  console.log(
    `pooled: ${all.length} rounds, median ${formatNumber(median(all))}x, ` +
      (ci === null
        ? "too few rounds for an interval"
        : `${Math.floor(ci.confidence * 1000) / 10} % interval ` +
          `${formatNumber(ci.low)}x-${formatNumber(ci.high)}x`) +
      `; ${under} at 0.5x or under`,
  );
}
