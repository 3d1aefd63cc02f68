/**
 * Medians, ranges and their formatting for the side-by-side benchmark (compare.ts, hops.ts).
 * @module
 */

export function median(xs: readonly number[]): number {
  if (xs.length === 0) throw new Error("median of nothing");
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/** A distribution-free confidence interval for a median: two of the samples, and its coverage. */
export interface MedianInterval {
  readonly low: number;
  readonly high: number;
  /** The probability that the interval holds the true median (at least the one asked for). */
  readonly confidence: number;
}

/**
 * The interval between the k-th smallest and the k-th largest sample, with the largest k whose
 * coverage is still at least `confidence`. The number of samples below the true median is
 * binomial (n, 1/2) whatever the distribution, so the coverage is 1 - 2 P(B <= k - 1). Null when
 * even the whole range falls short (fewer than 6 samples at 95 %).
 */
export function medianInterval(
  xs: readonly number[],
  confidence = 0.95,
): MedianInterval | null {
  const s = [...xs].sort((a, b) => a - b);
  const n = s.length;
  let tail = 0; // P(B <= k - 1)
  let logTerm = n * Math.log(0.5); // log P(B = k - 1), in logs so that a large n does not underflow
  let best: MedianInterval | null = null;
  for (let k = 1; 2 * k <= n + 1; k++) {
    tail += Math.exp(logTerm);
    if (1 - 2 * tail < confidence) break;
    best = { low: s[k - 1], high: s[n - k], confidence: 1 - 2 * tail };
    logTerm += Math.log((n - k + 1) / k); // P(B = k) from P(B = k - 1)
  }
  return best;
}

/** `low–high× (95.7 %)`, or — when there is no interval. */
export function formatInterval(ci: MedianInterval | null): string {
  if (ci === null) return "—";
  const percent = Math.floor(ci.confidence * 1000) / 10;
  return `${formatNumber(ci.low)}–${formatNumber(ci.high)}× (${percent} %)`;
}

/** Median, extremes and count of some samples. */
export interface Stats {
  readonly median: number;
  readonly min: number;
  readonly max: number;
  readonly n: number;
}

/** Stats of the finite values among `xs`; null when there are none. */
export function stats(xs: readonly (number | null | undefined)[]): Stats | null {
  const v = xs.filter((x): x is number => typeof x === "number" && Number.isFinite(x));
  if (v.length === 0) return null;
  return { median: median(v), min: Math.min(...v), max: Math.max(...v), n: v.length };
}

/** A number with as many decimals as its size deserves: 12345, 123, 12.3, 1.23, 0.123. */
export function formatNumber(x: number): string {
  if (x === 0) return "0";
  const a = Math.abs(x);
  const digits = a >= 100 ? 0 : a >= 10 ? 1 : a >= 1 ? 2 : 3;
  return x.toFixed(digits);
}

/** `median (min–max)`, or just the value for one sample; `n=K` when samples are missing. */
export function formatStats(s: Stats | null, runs: number): string {
  if (s === null) return "—";
  const range = s.n > 1 ? ` (${formatNumber(s.min)}–${formatNumber(s.max)})` : "";
  const missing = s.n < runs ? ` n=${s.n}` : "";
  return `${formatNumber(s.median)}${range}${missing}`;
}

/** `a / b` of two medians as `0.42×`, or — when either is missing or b is 0. */
export function formatRatio(a: Stats | null, b: Stats | null): string {
  if (a === null || b === null || b.median === 0) return "—";
  const r = a.median / b.median;
  return `${r >= 10 ? r.toFixed(1) : r.toFixed(2)}×`;
}
