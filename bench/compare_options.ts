/**
 * Command-line options of `bench/compare.ts`.
 * @module
 */
import { parseArgs } from "node:util";
import { type SystemDef, SYSTEMS } from "./compare_samples.ts";
import { REPO_ROOT } from "./compare_tools.ts";

/** Command-line options. */
export interface Options {
  readonly runs: number;
  readonly seconds: number;
  readonly outDir: string;
  readonly quick: boolean;
  /** The wireguard-go program to run; default `wireguard-go` from PATH. */
  readonly wireguardGo: string;
  /** The systems to measure (default all), in table order. */
  readonly systems: readonly SystemDef[];
  /** Rounds of the paired ping at rest (0: none). */
  readonly pairedRounds: number;
}

export const USAGE =
  `usage: deno run -A bench/compare.ts [--runs N] [--seconds S] [--out DIR] [--quick]
                                     [--wireguard-go PROGRAM] [--systems ID,...]
                                     [--paired-rounds N]

  --runs N                runs per system, alternating order (default 3; --quick: 1)
  --seconds S             length of each iperf3 test (default 5; --quick: 3)
  --out DIR               where compare.md, compare.json and compare.svg go
                          (default bench/results)
  --quick                 1 run, 3-second tests
  --wireguard-go PROGRAM  the wireguard-go to measure (default: wireguard-go from PATH)
  --systems ID,...        measure only these of veth, wireguard-go, centipede-1,
                          centipede-w2, centipede-2 (default all; ratios need
                          wireguard-go)
  --paired-rounds N       rounds of the paired ping at rest, after the runs: veth,
                          wireguard-go and centipede 1 path up at once, pinged in
                          turns (default 30; --quick: 3; 0: none)
Needs root (network namespaces, TUN).`;

/** Parses the command line; throws an Error with a usage message on bad input. */
export function parseOptions(args: readonly string[]): Options | "help" {
  const { values, positionals } = parseArgs({
    args: [...args],
    allowPositionals: true,
    options: {
      runs: { type: "string" },
      seconds: { type: "string" },
      out: { type: "string" },
      quick: { type: "boolean" },
      "wireguard-go": { type: "string" },
      systems: { type: "string" },
      "paired-rounds": { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) return "help";
  if (positionals.length > 0) throw new Error(`unexpected argument "${positionals[0]}"`);
  const quick = values.quick === true;
  return {
    runs: intOption("--runs", values.runs, quick ? 1 : 3, 1, 20),
    seconds: intOption("--seconds", values.seconds, quick ? 3 : 5, 1, 60),
    outDir: values.out ?? `${REPO_ROOT}bench/results`,
    quick,
    wireguardGo: values["wireguard-go"] ?? "wireguard-go",
    systems: systemsOption(values.systems),
    pairedRounds: intOption("--paired-rounds", values["paired-rounds"], quick ? 3 : 30, 0, 50),
  };
}

function systemsOption(text: string | undefined): readonly SystemDef[] {
  if (text === undefined) return SYSTEMS;
  const ids = text.split(",").map((id) => id.trim());
  for (const id of ids) {
    if (!SYSTEMS.some((s) => s.id === id)) {
      throw new Error(`--systems: unknown system "${id}" (${SYSTEMS.map((s) => s.id).join(", ")})`);
    }
  }
  return SYSTEMS.filter((s) => ids.includes(s.id));
}

/** A whole-number option from `lo` to `hi`, `dflt` when absent; throws with the option's name. */
export function intOption(
  name: string,
  text: string | undefined,
  dflt: number,
  lo: number,
  hi: number,
): number {
  if (text === undefined) return dflt;
  const n = Number(text);
  if (!/^\d+$/.test(text) || n < lo || n > hi) {
    throw new Error(`${name} takes a whole number from ${lo} to ${hi} (got "${text}")`);
  }
  return n;
}
