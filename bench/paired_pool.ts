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
import { formatInterval, formatNumber, median, medianInterval } from "./compare_stats.ts";
import { type PairedRound, roundRatios } from "./paired_rtt.ts";

/** The per-round ratios of one compare.json (none when it has no paired rounds). */
export function ratiosOf(json: { paired?: { rounds?: PairedRound[] } | null }): number[] {
  return roundRatios(json.paired?.rounds ?? []);
}

if (import.meta.main) {
  if (Deno.args.length === 0) {
    console.error("usage: deno run --allow-read bench/paired_pool.ts DIR_OR_JSON...");
    Deno.exit(2);
  }
  const all: number[] = [];
  for (const arg of Deno.args) {
    const path = arg.endsWith(".json") ? arg : `${arg}/compare.json`;
    const ratios = ratiosOf(JSON.parse(await Deno.readTextFile(path)));
    const middle = ratios.length > 0 ? `, median ${formatNumber(median(ratios))}x` : "";
    console.log(`${path}: ${ratios.length} rounds${middle}`);
    all.push(...ratios);
  }
  if (all.length === 0) {
    console.error("paired_pool: none of these runs has paired rounds");
    Deno.exit(1);
  }
  const under = all.filter((r) => r <= 0.5).length;
  console.log(
    `pooled: ${all.length} rounds, median ${formatNumber(median(all))}x, ` +
      `interval ${formatInterval(medianInterval(all))}; ${under} at 0.5x or under`,
  );
}
