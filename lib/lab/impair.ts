/**
 * Impairments of a link: a rate limit (`tc qdisc ... tbf`) and random loss
 * (`iptables -m statistic --mode random -j DROP`). `netem` is not used: it is missing on some
 * kernels. Thin wrappers; the {@link Lab} in lab.ts remembers the loss rules it added.
 * @module
 */
import { describeFailure, inNamespace, mustRun, run } from "./process.ts";
import { ensureCommand } from "./tools.ts";

/** Options for {@link rateLimit}; the defaults are the lab's standard slow path. */
export interface RateLimitOptions {
  /** Default `20mbit`. */
  readonly rate?: string;
  /** Default `32kbit`. */
  readonly burst?: string;
  /** Default `400ms`. */
  readonly latency?: string;
}

/** Where loss rules drop packets, seen from the namespace the rule is in. */
export type LossDirection = "egress" | "ingress" | "both";

const TC_WORD = /^[\w.-]+$/;

/** Rate-limits egress of `dev` in `ns` with a `tbf` root qdisc (replacing any root qdisc). */
export async function rateLimit(
  ns: string,
  dev: string,
  options: RateLimitOptions = {},
): Promise<void> {
  await ensureCommand("tc", "iproute2");
  const rate = options.rate ?? "20mbit";
  const burst = options.burst ?? "32kbit";
  const latency = options.latency ?? "400ms";
  for (const v of [dev, rate, burst, latency]) {
    if (!TC_WORD.test(v)) throw new Error(`bad tbf parameter ${JSON.stringify(v)}`);
  }
  await mustRun(inNamespace(ns, [
    "tc",
    "qdisc",
    "replace",
    "dev",
    dev,
    "root",
    "tbf",
    "rate",
    rate,
    "burst",
    burst,
    "latency",
    latency,
  ]));
}

/** Removes the root qdisc of `dev` (back to the default); no error when there is none. */
export async function clearRateLimit(ns: string, dev: string): Promise<void> {
  const argv = ["tc", "qdisc", "del", "dev", dev, "root"];
  const r = await run(inNamespace(ns, argv));
  if (!r.success && !/No such file|Cannot delete qdisc with handle of zero/i.test(r.stderr)) {
    throw new Error(describeFailure(argv, r));
  }
}

/** `tc qdisc show dev DEV` output. */
export async function showQdisc(ns: string, dev: string): Promise<string> {
  return (await mustRun(inNamespace(ns, ["tc", "qdisc", "show", "dev", dev]))).stdout;
}

/** Bits per second of a tc rate such as `20mbit`, `512kbit`, `1gbit` or `9600bit`; NaN if bad. */
export function rateBits(rate: string): number {
  const m = rate.match(/^(\d+(?:\.\d+)?)(bit|kbit|mbit|gbit)$/);
  if (!m) return NaN;
  const scale = { bit: 1, kbit: 1e3, mbit: 1e6, gbit: 1e9 }[m[2] as "bit"];
  return Number(m[1]) * scale;
}

/**
 * A tbf burst for `rate` that lets the rate be reached with the kernel's timer granularity:
 * 4 ms worth of bytes, at least 16 KiB (e.g. `16384` for 20mbit, `50000` for 100mbit).
 */
export function burstFor(rate: string): string {
  const bits = rateBits(rate);
  if (!Number.isFinite(bits)) throw new Error(`bad rate ${JSON.stringify(rate)}`);
  return String(Math.max(16_384, Math.ceil((bits / 8) * 0.004)));
}

/**
 * The iptables rule specs (chain and match, without `-A`/`-D`) that drop packets on `dev` with
 * probability `p` (0..1). Egress rules match locally sent (OUTPUT) and forwarded (FORWARD)
 * packets leaving `dev`; ingress rules match packets arriving on it (INPUT, FORWARD).
 */
export function lossRuleSpecs(dev: string, p: number, direction: LossDirection): string[][] {
  if (!(p > 0 && p <= 1)) throw new Error(`loss probability must be in (0, 1], got ${p}`);
  const match = [
    "-m",
    "statistic",
    "--mode",
    "random",
    "--probability",
    p.toFixed(6),
    "-j",
    "DROP",
  ];
  const specs: string[][] = [];
  if (direction !== "ingress") {
    specs.push(["OUTPUT", "-o", dev, ...match], ["FORWARD", "-o", dev, ...match]);
  }
  if (direction !== "egress") {
    specs.push(["INPUT", "-i", dev, ...match], ["FORWARD", "-i", dev, ...match]);
  }
  return specs;
}

/** Appends (`add`) or deletes one filter-table rule in `ns`. */
export async function iptablesFilter(
  ns: string,
  action: "add" | "delete",
  spec: readonly string[],
): Promise<void> {
  await ensureCommand("iptables", "iptables");
  const flag = action === "add" ? "-A" : "-D";
  await mustRun(inNamespace(ns, ["iptables", "-w", "10", "-t", "filter", flag, ...spec]));
}
