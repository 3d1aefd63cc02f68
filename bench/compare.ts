/**
 * centipede next to wireguard-go on the real kernel. As root:
 *
 *   deno run -A bench/compare.ts [--runs N] [--seconds S] [--out DIR] [--quick]
 *
 * For each system — bare veth (no tunnel, the floor), wireguard-go (one path), centipede over one
 * path (on the main-thread loop, and with `--workers=2`) and centipede over two paths in
 * `duplicate` mode — the script builds the same two-namespace
 * topology (client namespace `a`, server namespace `b`, veth paths 10.213.K.1/24 <-> 10.213.K.2/24,
 * tunnel 10.214.0.1/24 <-> 10.214.0.2/24), measures, and tears it down again. The systems take
 * turns, the order reversed every other run (A B C D, D C B A, ...), so a drift of the machine
 * hits them all alike. Per run and system:
 *
 * - ping RTT right after start: `ping -c 200 -i 0.01`, average (a JIT-compiled tunnel still runs
 *   much of its data path unoptimized here);
 * - warm-up, the same for every system: a flood ping (`ping -f -c 5000`), its average recorded;
 * - ping RTT at rest, warmed up: `ping -c 200 -i 0.01`, average;
 * - the same with one idle-priority busy loop per CPU, so that no CPU halts (a VM's idle CPUs do);
 * - where that RTT goes (tunnels): 200 more pings at rest under `tcpdump -i any` in the client
 *   namespace, cut into client send hop, server turn and client receive hop (hops.ts);
 * - iperf3 TCP, one flow, S seconds; meanwhile ping every 50 ms (RTT under load), and the CPU time
 *   of the VPN processes of both ends (utime + stime from /proc/PID/stat) before and after;
 * - iperf3 TCP, 4 flows (`-P 4`), S seconds;
 * - iperf3 UDP flood (`-u -l 1200 -b 0`), S seconds: datagrams per second that reached the
 *   receiver;
 * - peak RSS (VmHWM) of each VPN process at the end.
 *
 * Output: a Markdown table (stdout and DIR/compare.md) of median and min-max per metric and system
 * with ratio columns centipede / wireguard-go, DIR/compare.json with every raw sample, and
 * DIR/compare.svg, a bar chart of throughput and RTT overhead. See docs/BENCHMARKS.md.
 *
 * Every process is ended by PID and every namespace deleted when a step ends, fails, or the
 * script gets SIGINT/SIGTERM. Traffic goes only to addresses inside the namespaces made here.
 * @module
 */
import {
  cleanupAll,
  installSignalCleanup,
  isStopping,
  Netns,
  randomHex,
  run,
  sleep,
  sweep,
  watchOtherNamespaces,
  which,
} from "./_netns.ts";
import { type PairedRound, renderPaired, summarizePaired } from "./paired_rtt.ts";
import { checkAlive, describe, measure, ping, WARM_UP_PING } from "./compare_measure.ts";
import { type Options, parseOptions, USAGE } from "./compare_options.ts";
import { renderMarkdown, renderSvg } from "./compare_report.ts";
import {
  emptySample,
  METRICS,
  runOrder,
  type Sample,
  summarize,
  type SystemDef,
  type SystemId,
  SYSTEMS,
} from "./compare_samples.ts";
import { ensureTools, log, loud, machineInfo, programExists, REPO_ROOT } from "./compare_tools.ts";
import {
  centipedeKeyPair,
  outputOf,
  setupCentipede,
  setupVeth,
  setupWireguardGo,
  type Topology,
  wgKeyPair,
  type WgKeys,
} from "./compare_topology.ts";

interface Keys {
  /** Null when wg or wireguard-go is missing. */
  wg: readonly [WgKeys, WgKeys] | null;
  centipede: readonly [WgKeys, WgKeys];
}

async function buildTopology(net: Netns, system: SystemId, ctx: StepContext) {
  const keys = ctx.keys;
  switch (system) {
    case "veth":
      return await setupVeth(net);
    case "wireguard-go":
      if (keys.wg === null) throw new Error("wireguard-go or wg is not installed");
      return await setupWireguardGo(net, keys.wg, ctx.hex, ctx.wireguardGo);
    case "centipede-1":
      return await setupCentipede(net, keys.centipede, 1);
    case "centipede-w2":
      return await setupCentipede(net, keys.centipede, 1, ["--workers=2"]);
    case "centipede-2":
      return await setupCentipede(net, keys.centipede, 2);
  }
}

/** What every benchmark step needs. */
interface StepContext {
  readonly prefix: string;
  readonly hex: string;
  readonly keys: Keys;
  readonly seconds: number;
  readonly wireguardGo: string;
}

async function runOne(
  system: SystemDef,
  run: number,
  position: number,
  ctx: StepContext,
): Promise<Sample> {
  const sample = emptySample(system.id, run, position);
  const net = new Netns(`${ctx.prefix}-${system.tag}r${run}`, ctx.prefix);
  const started = performance.now();
  const watch = watchOtherNamespaces(ctx.prefix);
  try {
    const topo = await buildTopology(net, system.id, ctx);
    sample.notes.push(...topo.notes);
    await measure(net, topo, ctx.seconds, sample);
  } catch (error) {
    sample.error = (error as Error).message;
    const dying = net.processes.filter((p) => p.exited).map((p) => `${p.name}: ${outputOf(p, 5)}`);
    if (dying.length > 0) sample.error += `\nexited processes:\n${dying.join("\n")}`;
  } finally {
    sample.otherNamespaces = await watch.stop();
    await net.cleanup();
  }
  const took = ((performance.now() - started) / 1000).toFixed(1);
  if (sample.error !== null) {
    loud(`run ${run}: ${system.label} FAILED (${took} s):\n${sample.error}`);
  } else {
    log(`run ${run}: ${system.label} (${took} s): ${describe(sample)}`);
  }
  return sample;
}

/** Pings per turn of the paired ping at rest, at 100 Hz, all within 5 s. */
const PAIRED_PINGS = 100;
const PAIRED_PING = ["-c", String(PAIRED_PINGS), "-i", "0.01", "-W", "1", "-w", "5"];
/**
 * Quiet time before each turn: a centipede that just carried traffic waits in 1 ms polls for a
 * second after it, and those wake-ups would land in the next system's turn.
 */
const PAIRED_SETTLE_MS = 1_200;
const PAIRED_SYSTEMS: readonly SystemDef[] = SYSTEMS.filter((s) =>
  s.id === "veth" || s.id === "wireguard-go" || s.id === "centipede-1"
);

/**
 * The paired ping at rest (paired_rtt.ts): the bare veth, wireguard-go and centipede 1 path up
 * at the same time in their own namespaces, each warmed up, then `rounds` rounds of one
 * PAIRED_PING per system in turns. Throws when a system cannot be built or stops answering.
 */
async function pairedRest(ctx: StepContext, rounds: number): Promise<PairedRound[]> {
  const nets = PAIRED_SYSTEMS.map((s) => new Netns(`${ctx.prefix}-${s.tag}p`, ctx.prefix));
  try {
    const topos: Topology[] = [];
    for (const [i, system] of PAIRED_SYSTEMS.entries()) {
      topos.push(await buildTopology(nets[i], system.id, ctx));
      await ping(nets[i], topos[i], WARM_UP_PING, 25_000);
    }
    const out: PairedRound[] = [];
    for (let r = 1; r <= rounds && !isStopping(); r++) {
      const ms: (number | null)[] = [];
      for (const i of runOrder([0, 1, 2], r)) {
        await sleep(PAIRED_SETTLE_MS);
        ms[i] = (await ping(nets[i], topos[i], PAIRED_PING, 10_000)).avgMs;
        checkAlive(topos[i].vpn, `in round ${r} of the paired ping`);
      }
      out.push({ vethMs: ms[0], wireguardGoMs: ms[1], centipedeMs: ms[2] });
    }
    return out;
  } finally {
    for (const net of nets) await net.cleanup();
  }
}

/**
 * Runs the paired ping when asked for and possible (null when not). A failure is reported and
 * listed with the warnings, and the other figures are written all the same.
 */
async function pairedStep(
  options: Options,
  ctx: StepContext,
  warnings: string[],
): Promise<PairedRound[] | "failed" | null> {
  if (options.pairedRounds === 0 || isStopping()) return null;
  if (ctx.keys.wg === null) {
    warnings.push("no paired ping at rest: wireguard-go or wg is missing");
    return null;
  }
  log(`paired ping at rest: ${options.pairedRounds} rounds`);
  try {
    return await pairedRest(ctx, options.pairedRounds);
  } catch (error) {
    const msg = `the paired ping at rest FAILED: ${(error as Error).message}`;
    loud(msg);
    warnings.push(msg);
    return "failed";
  }
}

async function makeKeys(wgGo: string, warnings: string[]): Promise<Keys> {
  let wg: Keys["wg"] = null;
  if (which("wg") === null || !programExists(wgGo)) {
    const msg = `${wgGo} (or wg) is NOT installed: the wireguard-go column will be empty`;
    loud(msg);
    warnings.push(msg);
  } else {
    wg = [await wgKeyPair(), await wgKeyPair()];
  }
  log("generating centipede keys (main.ts genkey/pubkey)");
  const centipede = [await centipedeKeyPair(), await centipedeKeyPair()] as const;
  return { wg, centipede };
}

/**
 * Writes the three files and runs `deno fmt` on them with the repository's settings, so that they
 * pass `deno fmt --check` where they are kept in the tree. Returns the Markdown as written.
 */
async function writeOutputs(
  outDir: string,
  markdown: string,
  svg: string,
  json: unknown,
): Promise<string> {
  await Deno.mkdir(outDir, { recursive: true });
  const files = ["md", "svg", "json"].map((ext) => `${outDir}/compare.${ext}`);
  await Deno.writeTextFile(files[0], markdown);
  await Deno.writeTextFile(files[1], svg);
  await Deno.writeTextFile(files[2], JSON.stringify(json, null, 2) + "\n");
  const config = ["--config", `${REPO_ROOT}deno.json`];
  const fmt = await run([Deno.execPath(), "fmt", "--quiet", ...config, ...files], {
    timeoutMs: 60_000,
  });
  if (!fmt.success) log(`deno fmt failed (files left unformatted): ${fmt.stderr.trim()}`);
  return await Deno.readTextFile(files[0]);
}

async function main(args: readonly string[]): Promise<number> {
  let parsed: Options | "help";
  try {
    parsed = parseOptions(args);
  } catch (error) {
    console.error(`compare: ${(error as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (parsed === "help") {
    console.log(USAGE);
    return 0;
  }
  const options = parsed;
  if (Deno.uid() !== 0) {
    console.error("compare: needs root (network namespaces, veth, TUN); run it as root");
    return 1;
  }
  installSignalCleanup();
  const warnings: string[] = [];
  await ensureTools();
  const info = await machineInfo(args, options.wireguardGo);
  const keys = await makeKeys(options.wireguardGo, warnings);
  const hex = randomHex(4);
  const prefix = `cpb${hex}`;
  // Three iperf3 tests, four 2-second pings at rest (cold, warm, busy CPUs, captured), the
  // warm-up flood, set-up.
  const perSystem = 3 * (options.seconds + 0.5) + 16;
  // Set-up and warm-up of three systems, then three 1-second turns after a settling pause.
  const pairedSeconds = options.pairedRounds > 0 ? 20 + options.pairedRounds * 3 * 2.4 : 0;
  const minutes = (options.runs * options.systems.length * perSystem + pairedSeconds) / 60;
  log(
    `namespaces ${prefix}-*; ${options.runs} run(s) x ${options.systems.length} systems, ` +
      `${options.pairedRounds} paired round(s), about ${Math.ceil(minutes)} minutes`,
  );
  const samples: Sample[] = [];
  const ctx = { prefix, hex, keys, seconds: options.seconds, wireguardGo: options.wireguardGo };
  for (let r = 1; r <= options.runs && !isStopping(); r++) {
    for (const [i, system] of runOrder(options.systems, r).entries()) {
      if (isStopping()) break;
      samples.push(await runOne(system, r, i + 1, ctx));
    }
  }
  const paired = await pairedStep(options, ctx, warnings);
  const left = await sweep();
  if (left.length > 0) {
    const msg = `namespaces were left behind (now deleted): ${left.join(" ")}`;
    loud(msg);
    warnings.push(msg);
  }
  const wgFailed = samples.filter((x) => x.system === "wireguard-go" && x.error !== null);
  if (wgFailed.length > 0) {
    const msg = `WIREGUARD-GO FAILED in ${wgFailed.length} of ${options.runs} run(s); see below`;
    warnings.push(msg);
    loud(`${msg}\nthe other systems are reported all the same`);
  }
  const rounds = Array.isArray(paired) ? paired : null;
  const pairedSummary = rounds === null ? null : summarizePaired(rounds);
  const markdown = renderMarkdown(info, options, samples, warnings) +
    (pairedSummary === null ? "" : `\n${renderPaired(pairedSummary, PAIRED_PINGS)}`);
  const svg = renderSvg(samples, `centipede vs wireguard-go, ${info.date}, ${info.nproc} CPUs`);
  const written = await writeOutputs(options.outDir, markdown, svg, {
    info,
    options,
    namespacePrefix: prefix,
    metrics: METRICS.map((m) => ({ key: m.key, label: m.label })),
    summary: summarize(samples),
    samples,
    paired: rounds === null ? null : { rounds, summary: pairedSummary },
    warnings,
  });
  console.log(written);
  log(`wrote ${options.outDir}/compare.md, compare.json, compare.svg`);
  return samples.some((s) => s.error !== null) || paired === "failed" ? 1 : 0;
}

if (import.meta.main) {
  let code = 1;
  try {
    code = await main(Deno.args);
  } catch (error) {
    console.error(`compare: ${(error as Error).stack ?? error}`);
  } finally {
    await cleanupAll();
  }
  Deno.exit(code);
}
