/**
 * The A/B of two centipede builds' RTT at rest: how a change to the hop was measured for
 * docs/LATENCY.md. A `bench:compare` run cannot resolve a few percent of the RTT centipede adds;
 * this runs the two builds side by side, pinged in turns, with their slots swapped half-way
 * (the arithmetic and the report are in rtt_ab_stats.ts).
 *
 *     deno task bench:ab --b ../other-checkout [--rounds 16] [--pings 200]
 *
 * A build is a checkout (`--a`, `--b`; default this one: an A/A run shows the noise) plus
 * arguments for `up` (`--a-up`, `--b-up`), for `deno run` (`--a-deno`, `--b-deno`) and
 * environment variables (`--a-env`, `--b-env`, `NAME=VALUE`), each repeatable. Needs root.
 * @module
 */
import { parseArgs } from "node:util";
import { installSignalCleanup, isStopping, Netns, randomHex, run, sleep } from "./_netns.ts";
import { intOption } from "./compare_options.ts";
import { parsePingTimes } from "./compare_parse.ts";
import { checkAlive, ping, WARM_UP_PING } from "./compare_measure.ts";
import {
  type CentipedeBuild,
  centipedeKeyPair,
  serverPathAddress,
  setupCentipede,
  type Topology,
  type WgKeys,
} from "./compare_topology.ts";
import { REPO_ROOT } from "./compare_tools.ts";
import { type AbRound, renderAb, summarizeAb, type Turn } from "./rtt_ab_stats.ts";

const USAGE = `usage: deno run -A bench/rtt_ab.ts [--a DIR] [--b DIR] [--rounds N] [--pings N]
                                    [--a-up ARG]... [--b-up ARG]...
                                    [--a-deno ARG]... [--b-deno ARG]...
                                    [--a-env NAME=VALUE]... [--b-env NAME=VALUE]...
                                    [--out FILE]

  --a DIR, --b DIR   the checkouts to run (default: this one)
  --rounds N         rounds per half (default 16); the slots swap for the second half
  --pings N          pings per turn, at 100 Hz (default 200)
  --X-up ARG         an argument for build X's \`centipede up\` (e.g. --b-up=--workers=1)
  --X-deno ARG       an argument for build X's \`deno run\`, before main.ts
  --X-env NAME=VAL   an environment variable for build X's processes
  --out FILE         also write the rounds and the summary as JSON
Needs root (network namespaces, TUN).`;

/** Fewest replies per turn, as a share of the pings, that a turn may have. */
const MIN_REPLIED = 0.9;

interface Side {
  readonly label: string;
  readonly up: readonly string[];
  readonly build: CentipedeBuild;
}

interface AbOptions {
  readonly a: Side;
  readonly b: Side;
  readonly rounds: number;
  readonly pings: number;
  readonly out: string | undefined;
}

function log(msg: string): void {
  console.error(`[rtt_ab] ${msg}`);
}

function envOf(name: string, pairs: readonly string[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const pair of pairs) {
    const at = pair.indexOf("=");
    if (at <= 0) throw new Error(`${name} takes NAME=VALUE (got "${pair}")`);
    env[pair.slice(0, at)] = pair.slice(at + 1);
  }
  return env;
}

/** The checkout's commit, with `+` when it has uncommitted changes. */
async function describeCheckout(root: string): Promise<string> {
  const head = await run(["git", "-C", root, "rev-parse", "--short", "HEAD"]);
  const dirty = await run(["git", "-C", root, "status", "--porcelain", "--untracked-files=no"]);
  if (!head.success) return root;
  return `${root} at ${head.stdout.trim()}${dirty.stdout.trim() === "" ? "" : "+"}`;
}

async function sideOf(
  x: "a" | "b",
  values: Record<string, string | string[] | boolean | undefined>,
): Promise<Side> {
  const dir = values[x] as string | undefined;
  const root = dir === undefined ? REPO_ROOT : `${await Deno.realPath(dir)}/`;
  await Deno.stat(`${root}main.ts`).catch(() => {
    throw new Error(`--${x}: ${root} has no main.ts`);
  });
  const up = (values[`${x}-up`] ?? []) as string[];
  const denoArgs = (values[`${x}-deno`] ?? []) as string[];
  const env = envOf(`--${x}-env`, (values[`${x}-env`] ?? []) as string[]);
  const extras = [
    ...up.map((arg) => `up ${arg}`),
    ...denoArgs.map((arg) => `deno ${arg}`),
    ...Object.entries(env).map(([k, v]) => `${k}=${v}`),
  ];
  const label = await describeCheckout(root);
  return {
    label: extras.length === 0 ? label : `${label}, ${extras.join(", ")}`,
    up,
    build: { root, denoArgs, env },
  };
}

async function parseAbOptions(args: readonly string[]): Promise<AbOptions | "help"> {
  const many = { type: "string", multiple: true } as const;
  const { values, positionals } = parseArgs({
    args: [...args],
    allowPositionals: true,
    options: {
      a: { type: "string" },
      b: { type: "string" },
      rounds: { type: "string" },
      pings: { type: "string" },
      out: { type: "string" },
      "a-up": many,
      "b-up": many,
      "a-deno": many,
      "b-deno": many,
      "a-env": many,
      "b-env": many,
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) return "help";
  if (positionals.length > 0) throw new Error(`unexpected argument "${positionals[0]}"`);
  return {
    a: await sideOf("a", values),
    b: await sideOf("b", values),
    rounds: intOption("--rounds", values.rounds, 16, 1, 200),
    pings: intOption("--pings", values.pings, 200, 1, 1000),
    out: values.out,
  };
}

/** One turn of a slot: pings through its tunnel, then as many over its bare veth. */
async function turn(net: Netns, topo: Topology, pings: number): Promise<Turn> {
  const argv = (target: string) => [
    "ping",
    "-n",
    "-c",
    String(pings),
    "-i",
    "0.01",
    "-W",
    "1",
    "-w",
    String(Math.ceil(pings / 100) + 5),
    target,
  ];
  const timeoutMs = (pings / 100 + 15) * 1000;
  const tunnel = await net.exec(topo.client, argv(topo.target), { timeoutMs });
  const veth = await net.exec(topo.client, argv(serverPathAddress(1)), { timeoutMs });
  const result = { tunnelMs: parsePingTimes(tunnel.stdout), vethMs: parsePingTimes(veth.stdout) };
  // Nothing is lost at rest between two namespaces: missing replies mean a broken set-up.
  for (const [what, times] of [["tunnel", result.tunnelMs], ["veth", result.vethMs]] as const) {
    if (times.length < pings * MIN_REPLIED) {
      throw new Error(`${net.prefix}: ${times.length} of ${pings} pings over the ${what} answered`);
    }
  }
  return result;
}

/** One half: both slots built (`first` in slot 1), warmed up, then `rounds` rounds. */
async function half(
  n: 1 | 2,
  first: "a" | "b",
  options: AbOptions,
  keys: readonly [WgKeys, WgKeys],
  prefix: string,
): Promise<AbRound[]> {
  const order = first === "a" ? (["a", "b"] as const) : (["b", "a"] as const);
  const nets = order.map((_, slot) => new Netns(`${prefix}-h${n}s${slot + 1}`, prefix));
  try {
    const topos: Topology[] = [];
    for (const [slot, x] of order.entries()) {
      const side = options[x];
      topos.push(await setupCentipede(nets[slot], keys, 1, side.up, side.build));
      await ping(nets[slot], topos[slot], WARM_UP_PING, 25_000);
    }
    const rounds: AbRound[] = [];
    for (let r = 1; r <= options.rounds && !isStopping(); r++) {
      const turns: Partial<Record<"a" | "b", Turn>> = {};
      const slots = r % 2 === 1 ? [0, 1] : [1, 0];
      for (const slot of slots) {
        turns[order[slot]] = await turn(nets[slot], topos[slot], options.pings);
        checkAlive(topos[slot].vpn, `in round ${r} of half ${n}`);
      }
      rounds.push({ half: n, a: turns.a!, b: turns.b! });
      const s = summarizeAb(rounds).halves[n - 1];
      log(`half ${n}, round ${r}: B / A so far ${s.ratio?.toFixed(3) ?? "—"}`);
    }
    return rounds;
  } finally {
    for (const net of nets) await net.cleanup();
  }
}

async function main(): Promise<number> {
  let options: AbOptions | "help";
  try {
    options = await parseAbOptions(Deno.args);
  } catch (error) {
    console.error(`${(error as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (options === "help") {
    console.log(USAGE);
    return 0;
  }
  if (Deno.uid() !== 0) {
    console.error("rtt_ab: needs root (network namespaces, TUN)");
    return 1;
  }
  installSignalCleanup();
  log(`A: ${options.a.label}`);
  log(`B: ${options.b.label}`);
  const minutes = Math.ceil(2 * options.rounds * 2 * (options.pings / 50 + 1) / 60 + 1);
  log(`${options.rounds} rounds per half, ${options.pings} pings per turn: about ${minutes} min`);
  const keys = [await centipedeKeyPair(), await centipedeKeyPair()] as const;
  const prefix = `cpab${randomHex(4)}`;
  const rounds: AbRound[] = [];
  try {
    rounds.push(...await half(1, "a", options, keys, prefix));
    await sleep(1_000);
    if (!isStopping()) rounds.push(...await half(2, "b", options, keys, prefix));
  } catch (error) {
    console.error(`rtt_ab: FAILED: ${(error as Error).message}`);
    return 1;
  }
  const summary = summarizeAb(rounds);
  console.log(
    renderAb(summary, { a: options.a.label, b: options.b.label, pingsPerTurn: options.pings }),
  );
  if (options.out !== undefined) {
    const labels = { a: options.a.label, b: options.b.label };
    await Deno.writeTextFile(options.out, JSON.stringify({ labels, rounds, summary }, null, 1));
  }
  return 0;
}

if (import.meta.main) Deno.exit(await main());
