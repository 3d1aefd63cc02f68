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
import { parseArgs } from "node:util";
import {
  cleanupAll,
  cpuSeconds,
  installSignalCleanup,
  isStopping,
  mustRun,
  Netns,
  peakRssKiB,
  type Proc,
  processName,
  randomHex,
  run,
  sleep,
  sweep,
  watchOtherNamespaces,
  which,
} from "./_netns.ts";
import { formatNumber, formatRatio, formatStats, type Stats, stats } from "./compare_stats.ts";
import { type Hops, parseHops } from "./hops.ts";
import { type PairedRound, renderPaired, summarizePaired } from "./paired_rtt.ts";

/** Repository root, with a trailing slash. */
const REPO_ROOT = decodeURIComponent(new URL("../", import.meta.url).pathname);
const MAIN_TS = `${REPO_ROOT}main.ts`;

// ---------------------------------------------------------------------------------------------
// Options

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
                          turns (default 10; --quick: 3; 0: none)
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
    pairedRounds: intOption("--paired-rounds", values["paired-rounds"], quick ? 3 : 10, 0, 50),
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

function intOption(name: string, text: string | undefined, dflt: number, lo: number, hi: number) {
  if (text === undefined) return dflt;
  const n = Number(text);
  if (!/^\d+$/.test(text) || n < lo || n > hi) {
    throw new Error(`${name} takes a whole number from ${lo} to ${hi} (got "${text}")`);
  }
  return n;
}

// ---------------------------------------------------------------------------------------------
// Parsing tool output

/** The summary of an iputils `ping` run. */
export interface PingResult {
  readonly transmitted: number;
  readonly received: number;
  /** Average RTT in ms; null when no reply came back. */
  readonly avgMs: number | null;
}

/** Parses the statistics block of iputils `ping` output. */
export function parsePing(output: string): PingResult {
  const counts = output.match(/(\d+) packets transmitted, (\d+) (?:packets )?received/);
  if (!counts) throw new Error(`no ping statistics in:\n${output.slice(-500)}`);
  const rtt = output.match(/= [\d.]+\/([\d.]+)\/[\d.]+\/[\d.]+ ms/);
  return {
    transmitted: Number(counts[1]),
    received: Number(counts[2]),
    avgMs: rtt ? Number(rtt[1]) : null,
  };
}

/** What one iperf3 test delivered, from its `-J` report (receiver side). */
export interface IperfResult {
  /** Receiver bytes. */
  readonly bytes: number;
  readonly seconds: number;
  readonly mbps: number;
  /** UDP only: datagrams the receiver got, per second, and what was sent. */
  readonly receivedPps?: number;
  readonly sentPps?: number;
  readonly lossPercent?: number;
}

interface IperfSum {
  bytes?: number;
  seconds?: number;
  // deno-lint-ignore camelcase
  bits_per_second?: number;
  packets?: number;
  // deno-lint-ignore camelcase
  lost_packets?: number;
}

/** Parses an iperf3 `-J` report; throws with iperf3's own message when the test failed. */
export function parseIperf(json: string, udp: boolean): IperfResult {
  let report: { error?: string; end?: Record<string, IperfSum | undefined> };
  try {
    report = JSON.parse(json);
  } catch {
    throw new Error(`iperf3 printed no JSON report: ${json.slice(0, 300)}`);
  }
  if (report.error) throw new Error(`iperf3: ${report.error}`);
  const received = report.end?.sum_received ?? report.end?.sum;
  if (received?.bytes === undefined || !received.seconds) {
    throw new Error("iperf3 report has no receiver sum");
  }
  const result = {
    bytes: received.bytes,
    seconds: received.seconds,
    mbps: received.bits_per_second !== undefined
      ? received.bits_per_second / 1e6
      : received.bytes * 8 / received.seconds / 1e6,
  };
  if (!udp) return result;
  const sent = report.end?.sum_sent ?? report.end?.sum;
  const packets = received.packets ?? sent?.packets ?? 0;
  const lost = Math.max(0, received.lost_packets ?? 0);
  return {
    ...result,
    receivedPps: (packets - lost) / received.seconds,
    sentPps: sent?.packets !== undefined && sent.seconds ? sent.packets / sent.seconds : undefined,
    lossPercent: packets > 0 ? 100 * lost / packets : undefined,
  };
}

// ---------------------------------------------------------------------------------------------
// Systems and samples

export type SystemId = "veth" | "wireguard-go" | "centipede-1" | "centipede-w2" | "centipede-2";

export interface SystemDef {
  readonly id: SystemId;
  readonly label: string;
  /** Short tag for namespace names. */
  readonly tag: string;
  readonly tunnel: boolean;
}

export const SYSTEMS: readonly SystemDef[] = [
  { id: "veth", label: "bare veth", tag: "veth", tunnel: false },
  { id: "wireguard-go", label: "wireguard-go", tag: "wg", tunnel: true },
  { id: "centipede-1", label: "centipede 1 path", tag: "cp1", tunnel: true },
  { id: "centipede-w2", label: "centipede 1 path, 2 workers", tag: "cpw", tunnel: true },
  { id: "centipede-2", label: "centipede 2 paths (duplicate)", tag: "cp2", tunnel: true },
];

/** The systems in the order of run `run` (1-based): forward on odd runs, reversed on even ones. */
export function runOrder<T>(systems: readonly T[], run: number): T[] {
  return run % 2 === 1 ? [...systems] : [...systems].reverse();
}

/** Everything measured for one system in one run. Null: not measured or failed. */
export interface Sample {
  readonly system: SystemId;
  readonly run: number;
  /** 1-based place of this system within its run. */
  readonly position: number;
  error: string | null;
  tcp1Mbps: number | null;
  tcp4Mbps: number | null;
  udpPps: number | null;
  udpSentPps: number | null;
  udpLossPercent: number | null;
  /** The first 200 pings after the tunnel came up (before the warm-up). */
  rttColdMs: number | null;
  /** The warm-up flood ping (the next ping leaves as soon as the reply is in). */
  rttFloodMs: number | null;
  rttRestMs: number | null;
  /** The same ping with every CPU kept out of idle by an idle-priority busy loop. */
  rttBusyMs: number | null;
  rttLoadMs: number | null;
  rttLoadLossPercent: number | null;
  /** Where the RTT at rest goes, from a capture in the client namespace (tunnels only). */
  hops: Hops | null;
  /** CPU seconds of the VPN processes of both ends during the single-flow TCP test. */
  cpuSeconds: number | null;
  /** Gigabits the receiver got in the single-flow TCP test. */
  tcp1Gigabits: number | null;
  cpuPerGbit: number | null;
  /** VmHWM of each VPN process, KiB. */
  rssKiB: number[];
  /** Extra facts, e.g. centipede's backends line or the wireguard-go link type. */
  notes: string[];
  /** Network namespaces not made by this script that existed during the step (other tests). */
  otherNamespaces: string[];
}

/** A sample with nothing measured yet. */
export function emptySample(system: SystemId, run: number, position: number): Sample {
  return {
    system,
    run,
    position,
    error: null,
    tcp1Mbps: null,
    tcp4Mbps: null,
    udpPps: null,
    udpSentPps: null,
    udpLossPercent: null,
    rttColdMs: null,
    rttFloodMs: null,
    rttRestMs: null,
    rttBusyMs: null,
    rttLoadMs: null,
    rttLoadLossPercent: null,
    hops: null,
    cpuSeconds: null,
    tcp1Gigabits: null,
    cpuPerGbit: null,
    rssKiB: [],
    notes: [],
    otherNamespaces: [],
  };
}

/** One row of the results table. */
export interface MetricDef {
  readonly key: string;
  readonly label: string;
  /** Only tunnels have it (no VPN process on bare veth). */
  readonly tunnelOnly: boolean;
  /** The value of a sample; `all` gives access to the other samples (for overheads). */
  readonly value: (s: Sample, all: readonly Sample[]) => number | null;
}

/** RTT of `s` minus the bare-veth RTT of the same run (the median over runs when missing). */
function overhead(s: Sample, all: readonly Sample[], pick: (x: Sample) => number | null) {
  const own = pick(s);
  if (own === null) return null;
  const veth = all.filter((x) => x.system === "veth" && x.error === null);
  const sameRun = veth.find((x) => x.run === s.run);
  const floor = (sameRun ? pick(sameRun) : null) ?? stats(veth.map(pick))?.median ?? null;
  return floor === null ? null : own - floor;
}

export const METRICS: readonly MetricDef[] = [
  { key: "tcp1", label: "TCP 1 flow (Mbit/s)", tunnelOnly: false, value: (s) => s.tcp1Mbps },
  { key: "tcp4", label: "TCP 4 flows (Mbit/s)", tunnelOnly: false, value: (s) => s.tcp4Mbps },
  { key: "udp", label: "UDP received (packets/s)", tunnelOnly: false, value: (s) => s.udpPps },
  {
    key: "rttCold",
    label: "ping RTT, first 200 after start (ms)",
    tunnelOnly: false,
    value: (s) => s.rttColdMs,
  },
  {
    key: "rttFlood",
    label: "ping RTT, flood (warm-up) (ms)",
    tunnelOnly: false,
    value: (s) => s.rttFloodMs,
  },
  { key: "rttRest", label: "ping RTT at rest (ms)", tunnelOnly: false, value: (s) => s.rttRestMs },
  {
    key: "rttBusy",
    label: "ping RTT, CPUs kept busy (ms)",
    tunnelOnly: false,
    value: (s) => s.rttBusyMs,
  },
  {
    key: "rttLoad",
    label: "ping RTT under load (ms)",
    tunnelOnly: false,
    value: (s) => s.rttLoadMs,
  },
  {
    key: "pingLoss",
    label: "ping loss under load (%)",
    tunnelOnly: false,
    value: (s) => s.rttLoadLossPercent,
  },
  {
    key: "overheadCold",
    label: "RTT overhead, first 200 after start (ms)",
    tunnelOnly: true,
    value: (s, all) => overhead(s, all, (x) => x.rttColdMs),
  },
  {
    key: "overheadRest",
    label: "RTT overhead at rest (ms)",
    tunnelOnly: true,
    value: (s, all) => overhead(s, all, (x) => x.rttRestMs),
  },
  {
    key: "overheadBusy",
    label: "RTT overhead, CPUs kept busy (ms)",
    tunnelOnly: true,
    value: (s, all) => overhead(s, all, (x) => x.rttBusyMs),
  },
  {
    key: "overheadLoad",
    label: "RTT overhead under load (ms)",
    tunnelOnly: true,
    value: (s, all) => overhead(s, all, (x) => x.rttLoadMs),
  },
  {
    key: "hopOut",
    label: "at rest, client send hop (µs, captured)",
    tunnelOnly: true,
    value: (s) => s.hops?.outUs ?? null,
  },
  {
    key: "hopTurn",
    label: "at rest, server turn incl. wire (µs, captured)",
    tunnelOnly: true,
    value: (s) => s.hops?.turnUs ?? null,
  },
  {
    key: "hopIn",
    label: "at rest, client receive hop (µs, captured)",
    tunnelOnly: true,
    value: (s) => s.hops?.inUs ?? null,
  },
  {
    key: "cpuPerGbit",
    label: "CPU seconds per Gbit (both ends)",
    tunnelOnly: true,
    value: (s) => s.cpuPerGbit,
  },
  {
    key: "rss",
    label: "peak RSS per VPN process (MiB)",
    tunnelOnly: true,
    value: (s) => (s.rssKiB.length === 0 ? null : Math.max(...s.rssKiB) / 1024),
  },
];

/** Stats of every metric for every system: `table[metricKey][systemId]`. */
export type Summary = Record<string, Record<string, Stats | null>>;

export function summarize(samples: readonly Sample[]): Summary {
  const summary: Summary = {};
  for (const m of METRICS) {
    summary[m.key] = {};
    for (const sys of SYSTEMS) {
      const own = samples.filter((s) => s.system === sys.id && s.error === null);
      summary[m.key][sys.id] = m.tunnelOnly && !sys.tunnel
        ? null
        : stats(own.map((s) => m.value(s, samples)));
    }
  }
  return summary;
}

// ---------------------------------------------------------------------------------------------
// Report

/** Facts about the machine and the run, printed above the table. */
export interface MachineInfo {
  readonly date: string;
  readonly command: string;
  readonly nproc: number;
  readonly cpu: string;
  readonly kernel: string;
  readonly deno: string;
  readonly wireguardGo: string;
  readonly iperf3: string;
  readonly commit: string;
}

/** The systems with a ratio column against wireguard-go, and the column's name. */
const RATIOS: readonly [SystemId, string][] = [
  ["centipede-1", "centipede 1 path"],
  ["centipede-w2", "centipede 2 workers"],
  ["centipede-2", "centipede 2 paths"],
];

/** The results table: one row per metric, one column per system, then the ratios. */
export function renderTable(summary: Summary, runs: number): string {
  const header = [
    "metric",
    ...SYSTEMS.map((s) => s.label),
    ...RATIOS.map(([, label]) => `${label} / wireguard-go`),
  ];
  const rows = METRICS.map((m) => {
    const cells = SYSTEMS.map((s) => formatStats(summary[m.key][s.id], runs));
    const wg = summary[m.key]["wireguard-go"];
    return [
      m.label,
      ...cells,
      ...RATIOS.map(([id]) => formatRatio(summary[m.key][id], wg)),
    ];
  });
  const line = (cells: string[]) => `| ${cells.join(" | ")} |`;
  return [line(header), line(header.map(() => "---")), ...rows.map(line)].join("\n");
}

/** The whole Markdown report: machine facts, the table, notes and failures. */
export function renderMarkdown(
  info: MachineInfo,
  options: Options,
  samples: readonly Sample[],
  warnings: readonly string[],
): string {
  const summary = summarize(samples);
  const notes = [...new Set(samples.flatMap((s) => s.notes.map((n) => `${s.system}: ${n}`)))];
  const failures = samples.filter((s) => s.error !== null);
  const out = [
    `### centipede vs wireguard-go, ${info.date}`,
    "",
    `- command: \`${info.command}\``,
    `- machine: ${info.nproc} CPUs (${info.cpu}), Linux ${info.kernel}; Deno ${info.deno}; ` +
    `${info.wireguardGo}; ${info.iperf3}; centipede at ${info.commit}`,
    `- ${options.runs} run(s) per system, order reversed every other run; ${options.seconds} s ` +
    "per iperf3 test; cells are median (min–max) over runs; ratios are of medians",
    "",
    renderTable(summary, options.runs),
    "",
  ];
  if (notes.length > 0) out.push(...notes.map((n) => `- ${n}`), "");
  const busy = samples.filter((s) => s.otherNamespaces.length > 0);
  if (busy.length > 0) {
    out.push(
      `- **Not a quiet machine:** during ${busy.length} of ${samples.length} steps, network ` +
        "namespaces this script did not make existed (other tests were running), so those " +
        "figures share the CPUs with them; `otherNamespaces` in the JSON lists them per step.",
      "",
    );
  }
  if (failures.length > 0 || warnings.length > 0) {
    out.push("**Failures and warnings:**", "");
    for (const w of warnings) out.push(`- ${w}`);
    for (const f of failures) out.push(`- run ${f.run}, ${f.system}: ${oneLine(f.error ?? "")}`);
    out.push("");
  }
  return out.join("\n");
}

function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, " / ").slice(0, 400);
}

function escapeXml(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

interface Bar {
  readonly stats: Stats | null;
  readonly color: string;
}

interface Group {
  readonly label: string;
  readonly bars: readonly Bar[];
}

interface Panel {
  readonly title: string;
  readonly x: number;
  readonly width: number;
  readonly log: boolean;
  readonly groups: readonly Group[];
}

const CHART_TOP = 70;
const CHART_HEIGHT = 260;

/** Maps a value to a y pixel within a panel's plot area. */
function scaleFor(panel: Panel): { y: (v: number) => number; ticks: number[] } {
  const values = panel.groups.flatMap((g) =>
    g.bars.flatMap((b) => (b.stats ? [b.stats.min, b.stats.max, b.stats.median] : []))
  );
  const bottom = CHART_TOP + CHART_HEIGHT;
  if (panel.log) {
    const pos = values.filter((v) => v > 0);
    const lo = Math.floor(Math.log10(Math.min(...pos, 10)));
    const hi = Math.max(lo + 1, Math.ceil(Math.log10(Math.max(...pos, 10))));
    const y = (v: number) =>
      bottom - (Math.log10(Math.max(v, 10 ** lo)) - lo) / (hi - lo) * CHART_HEIGHT;
    return { y, ticks: Array.from({ length: hi - lo + 1 }, (_, i) => 10 ** (lo + i)) };
  }
  const lo = Math.min(0, ...values);
  const hi = Math.max(lo + 1e-3, ...values) * 1.1;
  const step = niceStep((hi - lo) / 5);
  const ticks: number[] = [];
  for (let t = Math.ceil(lo / step) * step; t <= hi; t += step) {
    ticks.push(Number(t.toPrecision(6)));
  }
  return { y: (v: number) => bottom - (v - lo) / (hi - lo) * CHART_HEIGHT, ticks };
}

function formatTick(t: number): string {
  return Number.isInteger(t) ? String(t) : String(Number(t.toPrecision(3)));
}

function niceStep(raw: number): number {
  const p = 10 ** Math.floor(Math.log10(raw));
  const f = raw / p;
  return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * p;
}

function renderPanel(panel: Panel): string {
  const { y, ticks } = scaleFor(panel);
  const left = panel.x + 50;
  const plotWidth = panel.width - 60;
  const parts = [
    `<text x="${panel.x + panel.width / 2}" y="40" text-anchor="middle" font-weight="bold">` +
    `${escapeXml(panel.title)}</text>`,
  ];
  for (const t of ticks) {
    const ty = y(t).toFixed(1);
    parts.push(
      `<line x1="${left}" y1="${ty}" x2="${left + plotWidth}" y2="${ty}" stroke="#ddd"/>`,
      `<text x="${left - 6}" y="${ty}" text-anchor="end" dominant-baseline="middle" ` +
        `font-size="11">${escapeXml(formatTick(t))}</text>`,
    );
  }
  const groupWidth = plotWidth / panel.groups.length;
  panel.groups.forEach((g, gi) => {
    const barWidth = Math.min(36, (groupWidth - 20) / g.bars.length);
    const start = left + gi * groupWidth + (groupWidth - barWidth * g.bars.length) / 2;
    g.bars.forEach((b, bi) => parts.push(renderBar(b, start + bi * barWidth, barWidth, y)));
    parts.push(
      `<text x="${(left + (gi + 0.5) * groupWidth).toFixed(1)}" y="${
        CHART_TOP + CHART_HEIGHT + 18
      }" ` +
        `text-anchor="middle" font-size="11">${escapeXml(g.label)}</text>`,
    );
  });
  const zero = y(panel.log ? ticks[0] : 0).toFixed(1);
  parts.push(
    `<line x1="${left}" y1="${zero}" x2="${left + plotWidth}" y2="${zero}" stroke="#333"/>`,
  );
  return parts.join("\n");
}

function renderBar(b: Bar, x: number, w: number, y: (v: number) => number): string {
  const cx = (x + w / 2).toFixed(1);
  if (b.stats === null) {
    return `<text x="${cx}" y="${y(0) - 4}" text-anchor="middle" font-size="10">n/a</text>`;
  }
  const base = y(0) > CHART_TOP + CHART_HEIGHT ? CHART_TOP + CHART_HEIGHT : y(0);
  const top = y(b.stats.median);
  const [y0, y1] = top < base ? [top, base] : [base, top];
  return [
    `<rect x="${(x + 1).toFixed(1)}" y="${y0.toFixed(1)}" width="${(w - 2).toFixed(1)}" ` +
    `height="${Math.max(0.5, y1 - y0).toFixed(1)}" fill="${b.color}"/>`,
    `<line x1="${cx}" y1="${y(b.stats.min).toFixed(1)}" x2="${cx}" y2="${
      y(b.stats.max).toFixed(1)
    }" stroke="#000"/>`,
    `<text x="${cx}" y="${(Math.min(y0, y(b.stats.max)) - 4).toFixed(1)}" text-anchor="middle" ` +
    `font-size="10">${escapeXml(formatNumber(b.stats.median))}</text>`,
  ].join("\n");
}

function legend(items: readonly [string, string][], x: number, y: number): string {
  return items.map(([label, color], i) => {
    const lx = x + i * 150;
    return `<rect x="${lx}" y="${y - 9}" width="12" height="12" fill="${color}"/>` +
      `<text x="${lx + 16}" y="${y + 1}" font-size="11">${escapeXml(label)}</text>`;
  }).join("\n");
}

const COLORS = ["#4e79a7", "#f28e2b"];

/** The bar chart: throughput (log scale) and RTT overhead per system, with min–max whiskers. */
export function renderSvg(samples: readonly Sample[], title: string): string {
  const summary = summarize(samples);
  const short: Record<SystemId, string> = {
    "veth": "bare veth",
    "wireguard-go": "wireguard-go",
    "centipede-1": "centipede 1p",
    "centipede-w2": "centipede 2w",
    "centipede-2": "centipede 2p dup",
  };
  const throughput: Panel = {
    title: "Throughput, Mbit/s (log scale)",
    x: 0,
    width: 480,
    log: true,
    groups: SYSTEMS.map((s) => ({
      label: short[s.id],
      bars: [
        { stats: summary.tcp1[s.id], color: COLORS[0] },
        { stats: summary.tcp4[s.id], color: COLORS[1] },
      ],
    })),
  };
  const rtt: Panel = {
    title: "RTT overhead over bare veth, ms",
    x: 500,
    width: 400,
    log: false,
    groups: SYSTEMS.filter((s) => s.tunnel).map((s) => ({
      label: short[s.id],
      bars: [
        { stats: summary.overheadRest[s.id], color: COLORS[0] },
        { stats: summary.overheadLoad[s.id], color: COLORS[1] },
      ],
    })),
  };
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="920" height="392" viewBox="0 0 920 392" ` +
    `font-family="sans-serif" font-size="12">`,
    `<rect width="920" height="392" fill="#fff"/>`,
    `<text x="460" y="18" text-anchor="middle" font-size="13">${escapeXml(title)}</text>`,
    `<text x="910" y="386" text-anchor="end" font-size="10" fill="#555">` +
    "bars: median; lines: min–max over runs</text>",
    renderPanel(throughput),
    renderPanel(rtt),
    legend([["TCP 1 flow", COLORS[0]], ["TCP 4 flows", COLORS[1]]], 60, 365),
    legend([["at rest", COLORS[0]], ["under load (1 TCP flow)", COLORS[1]]], 560, 365),
    `</svg>`,
    "",
  ].join("\n");
}

// ---------------------------------------------------------------------------------------------
// Tools and machine

const PACKAGES: readonly [string, string][] = [
  ["iperf3", "iperf3"],
  ["ping", "iputils-ping"],
  ["wg", "wireguard-tools"],
  ["wireguard-go", "wireguard-go"],
  ["tcpdump", "tcpdump"],
];

/** Installs the Debian packages of missing tools (apt-get update && apt-get install -y ...). */
async function ensureTools(): Promise<void> {
  const missing = PACKAGES.filter(([cmd]) => which(cmd) === null).map(([, pkg]) => pkg);
  if (missing.length === 0) return;
  log(`installing ${missing.join(" ")} with apt-get`);
  const env = { DEBIAN_FRONTEND: "noninteractive" };
  const lock = ["-o", "DPkg::Lock::Timeout=300"];
  const update = await run(["apt-get", ...lock, "update"], { env, timeoutMs: 600_000 });
  const install = update.success
    ? await run(["apt-get", ...lock, "install", "-y", "--no-install-recommends", ...missing], {
      env,
      timeoutMs: 600_000,
    })
    : update;
  if (!install.success) log(`apt-get failed:\n${(install.stderr || install.stdout).slice(-1500)}`);
  for (const cmd of ["iperf3", "ping"]) {
    if (which(cmd) === null) throw new Error(`${cmd} is missing and could not be installed`);
  }
}

async function firstLine(argv: string[]): Promise<string> {
  const r = await run(argv, { timeoutMs: 30_000, cwd: REPO_ROOT }).catch(() => null);
  return (r?.stdout || r?.stderr || "").trim().split("\n")[0] || "unknown";
}

async function machineInfo(args: readonly string[], wgGo: string): Promise<MachineInfo> {
  const cpuinfo = await Deno.readTextFile("/proc/cpuinfo").catch(() => "");
  const dirty = (await run(["git", "status", "--porcelain"], { cwd: REPO_ROOT })).stdout.trim();
  return {
    date: new Date().toISOString().replace(/\.\d+Z$/, "Z"),
    command: ["deno", "run", "-A", "bench/compare.ts", ...args].join(" "),
    nproc: navigator.hardwareConcurrency,
    cpu: cpuinfo.match(/^model name\s*:\s*(.*)$/m)?.[1] ?? "unknown CPU",
    kernel: Deno.osRelease(),
    deno: Deno.version.deno,
    wireguardGo: programExists(wgGo) ? await firstLine([wgGo, "--version"]) : `${wgGo} missing`,
    iperf3: (await firstLine(["iperf3", "--version"])).replace(/ \(.*\)$/, ""),
    commit: `${await firstLine(["git", "rev-parse", "--short", "HEAD"])}${
      dirty ? " (with uncommitted changes)" : ""
    }`,
  };
}

/** True when `program` is a command on PATH or an executable file path. */
function programExists(program: string): boolean {
  if (!program.includes("/")) return which(program) !== null;
  try {
    return ((Deno.statSync(program).mode ?? 0) & 0o111) !== 0;
  } catch {
    return false;
  }
}

function log(message: string): void {
  console.error(`[compare] ${message}`);
}

function loud(message: string): void {
  const bar = "!".repeat(78);
  console.error(`\n${bar}\n!! ${message.split("\n").join("\n!! ")}\n${bar}\n`);
}

// ---------------------------------------------------------------------------------------------
// Topologies

/** What a built topology offers to the measurements. */
interface Topology {
  readonly client: string;
  readonly server: string;
  /** Address of the server end that traffic goes to (through the tunnel, if any). */
  readonly target: string;
  /** The VPN processes of both ends (none for bare veth). */
  readonly vpn: readonly Proc[];
  readonly notes: string[];
}

const PORT = 51820;
const MTU = 1420;
const TUN_CLIENT = "10.214.0.1";
const TUN_SERVER = "10.214.0.2";

/** Namespaces `a` (client) and `b` (server) joined by `paths` veth pairs p1, p2, ... */
async function buildPaths(net: Netns, paths: number) {
  const client = await net.addNamespace("a");
  const server = await net.addNamespace("b");
  const clientIps: string[] = [];
  const serverIps: string[] = [];
  for (let k = 1; k <= paths; k++) {
    clientIps.push(`10.213.${k}.1`);
    serverIps.push(`10.213.${k}.2`);
    await net.addVeth(client, server, `p${k}`, `10.213.${k}.1/24`, `10.213.${k}.2/24`);
  }
  return { client, server, clientIps, serverIps };
}

/** Pings `target` from `ns` once a second-ish until a reply comes (at most `tries` tries). */
async function waitForPing(net: Netns, ns: string, target: string, tries = 30): Promise<void> {
  for (let i = 0; i < tries; i++) {
    const r = await net.exec(ns, ["ping", "-c", "1", "-W", "1", target], { timeoutMs: 5_000 });
    if (r.success) return;
    await sleep(200);
  }
  throw new Error(`no ping reply from ${target} within ${tries} tries`);
}

async function setupVeth(net: Netns): Promise<Topology> {
  const { client, server, serverIps } = await buildPaths(net, 1);
  await waitForPing(net, client, serverIps[0]);
  return { client, server, target: serverIps[0], vpn: [], notes: [] };
}

/** A WireGuard key pair from `wg genkey` / `wg pubkey`. */
interface WgKeys {
  readonly privateKey: string;
  readonly publicKey: string;
}

async function wgKeyPair(): Promise<WgKeys> {
  const privateKey = (await mustRun(["wg", "genkey"])).stdout.trim();
  const publicKey = (await mustRun(["wg", "pubkey"], { stdin: `${privateKey}\n` })).stdout.trim();
  return { privateKey, publicKey };
}

/** One end of the wireguard-go tunnel. */
interface WgEnd {
  readonly ns: string;
  /** Interface name, also the name of its UAPI socket in /var/run/wireguard (shared by all). */
  readonly name: string;
  readonly keys: WgKeys;
  readonly peerKey: string;
  /** Own tunnel address and the peer's. */
  readonly addr: string;
  readonly peerAddr: string;
  /** The peer's `ip:port`; the server end has none and learns it. */
  readonly endpoint?: string;
}

/** Starts `wireguard-go -f NAME` in the end's namespace and configures it. */
async function startWireguardGoEnd(
  net: Netns,
  end: WgEnd,
  program: string,
  keyDir: string,
): Promise<Proc> {
  const sock = `/var/run/wireguard/${end.name}.sock`;
  net.removeAtCleanup(sock);
  const proc = net.spawn(end.ns, end.name, [program, "-f", end.name], {
    env: { WG_PROCESS_FOREGROUND: "1", LOG_LEVEL: "error" },
  });
  await waitForFile(sock, proc, 10_000);
  const keyFile = `${keyDir}/${end.name}.key`;
  await Deno.writeTextFile(keyFile, `${end.keys.privateKey}\n`, { mode: 0o600 });
  const peer = ["peer", end.peerKey, "allowed-ips", `${end.peerAddr}/32`];
  if (end.endpoint) peer.push("endpoint", end.endpoint);
  const listen = ["listen-port", String(PORT)];
  await net.mustExec(end.ns, ["wg", "set", end.name, "private-key", keyFile, ...listen, ...peer]);
  await net.mustExec(end.ns, ["ip", "addr", "add", `${end.addr}/24`, "dev", end.name]);
  await net.mustExec(end.ns, ["ip", "link", "set", "dev", end.name, "mtu", String(MTU), "up"]);
  const link = (await net.mustExec(end.ns, ["ip", "-d", "link", "show", "dev", end.name])).stdout;
  if (!/\btun\b/.test(link)) {
    throw new Error(`${end.name} is not a TUN device (not wireguard-go?):\n${link}`);
  }
  return proc;
}

/** wireguard-go in both namespaces over one path; interface names are unique per script run. */
async function setupWireguardGo(
  net: Netns,
  keys: readonly [WgKeys, WgKeys],
  hex: string,
  program: string,
): Promise<Topology> {
  const { client, server, serverIps } = await buildPaths(net, 1);
  const keyDir = await net.tempDir();
  const clientEnd: WgEnd = {
    ns: client,
    name: `wg${hex}a`,
    keys: keys[0],
    peerKey: keys[1].publicKey,
    addr: TUN_CLIENT,
    peerAddr: TUN_SERVER,
    endpoint: `${serverIps[0]}:${PORT}`,
  };
  const serverEnd: WgEnd = {
    ns: server,
    name: `wg${hex}b`,
    keys: keys[1],
    peerKey: keys[0].publicKey,
    addr: TUN_SERVER,
    peerAddr: TUN_CLIENT,
  };
  const vpn = [
    await startWireguardGoEnd(net, clientEnd, program, keyDir),
    await startWireguardGoEnd(net, serverEnd, program, keyDir),
  ];
  await waitForPing(net, client, TUN_SERVER);
  return {
    client,
    server,
    target: TUN_SERVER,
    vpn,
    notes: ["userspace (TUN device), one path; kernel WireGuard not used"],
  };
}

/** The last `n` lines a process wrote to stdout, then to stderr (wireguard-go logs to stdout). */
function outputOf(p: Proc, n = 15): string {
  return [...p.stdoutLines.slice(-n), ...p.stderrLines.slice(-n)].join("\n");
}

async function waitForFile(path: string, proc: Proc, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (proc.exited) {
      const { code, signal } = await proc.finished;
      const how = signal ? `signal ${signal}` : `code ${code}`;
      throw new Error(`${proc.name} exited with ${how} at start; output:\n${outputOf(proc)}`);
    }
    try {
      await Deno.stat(path);
      return;
    } catch {
      await sleep(100);
    }
  }
  throw new Error(`${proc.name} made no ${path} within ${timeoutMs} ms:\n${outputOf(proc)}`);
}

/** A centipede key pair from `main.ts genkey` / `main.ts pubkey`. */
async function centipedeKeyPair(): Promise<WgKeys> {
  const deno = Deno.execPath();
  const gen = await mustRun([deno, "run", "-A", MAIN_TS, "genkey"], {
    cwd: REPO_ROOT,
    timeoutMs: 120_000,
  });
  const privateKey = gen.stdout.trim();
  const pub = await mustRun([deno, "run", "-A", MAIN_TS, "pubkey"], {
    cwd: REPO_ROOT,
    stdin: `${privateKey}\n`,
    timeoutMs: 60_000,
  });
  return { privateKey, publicKey: pub.stdout.trim() };
}

/** The text of a centipede config file. */
export function centipedeConfig(c: {
  privateKey: string;
  address: string;
  binds: readonly string[];
  peerKey: string;
  endpoints: readonly string[];
  allowed: string;
}): string {
  const lines = [
    "[Interface]",
    `PrivateKey = ${c.privateKey}`,
    `Address = ${c.address}`,
    `ListenPort = ${PORT}`,
    `MTU = ${MTU}`,
    `Bind = ${c.binds.join(", ")}`,
    "",
    "[Peer]",
    `PublicKey = ${c.peerKey}`,
    `AllowedIPs = ${c.allowed}`,
    "Mode = duplicate",
  ];
  if (c.endpoints.length > 0) lines.push(`Endpoint = ${c.endpoints.join(", ")}`);
  return lines.join("\n") + "\n";
}

const CENTIPEDE_IFACE = "cpbench0";

/** centipede in both namespaces over `paths` veth pairs; the client alone knows the endpoints. */
async function setupCentipede(
  net: Netns,
  keys: readonly [WgKeys, WgKeys],
  paths: number,
  flags: readonly string[] = [],
): Promise<Topology> {
  const { client, server, clientIps, serverIps } = await buildPaths(net, paths);
  const dir = await net.tempDir();
  const ends = [
    {
      ns: client,
      side: "a",
      text: centipedeConfig({
        privateKey: keys[0].privateKey,
        address: `${TUN_CLIENT}/24`,
        binds: clientIps,
        peerKey: keys[1].publicKey,
        endpoints: serverIps.map((ip) => `${ip}:${PORT}`),
        allowed: `${TUN_SERVER}/32`,
      }),
    },
    {
      ns: server,
      side: "b",
      text: centipedeConfig({
        privateKey: keys[1].privateKey,
        address: `${TUN_SERVER}/24`,
        binds: serverIps,
        peerKey: keys[0].publicKey,
        endpoints: [],
        allowed: `${TUN_CLIENT}/32`,
      }),
    },
  ];
  const procs = await Promise.all(ends.map(async (end) => {
    const sideDir = `${dir}/${end.side}`;
    await Deno.mkdir(`${sideDir}/run`, { recursive: true, mode: 0o700 });
    const conf = `${sideDir}/${CENTIPEDE_IFACE}.conf`;
    await Deno.writeTextFile(conf, end.text, { mode: 0o600 });
    await Deno.chmod(conf, 0o600);
    const proc = net.spawn(end.ns, `centipede-${end.side}`, [
      Deno.execPath(),
      "run",
      "-A",
      MAIN_TS,
      "up",
      ...flags,
      conf,
    ], { cwd: REPO_ROOT, env: { CENTIPEDE_CONTROL_DIR: `${sideDir}/run` } });
    const ready = await proc.waitForLine(new RegExp(`interface ${CENTIPEDE_IFACE} is up`), 60_000);
    return { proc, ready };
  }));
  await waitForPing(net, client, TUN_SERVER);
  const backends = procs[0].ready.match(/backends: (.*)$/)?.[1];
  return {
    client,
    server,
    target: TUN_SERVER,
    vpn: procs.map((p) => p.proc),
    notes: backends ? [`backends ${backends}`] : [],
  };
}

// ---------------------------------------------------------------------------------------------
// Measurements

function iperfArgv(target: string, seconds: number, extra: string[]): string[] {
  return [
    "iperf3",
    "-c",
    target,
    "-t",
    String(seconds),
    "-J",
    "--connect-timeout",
    "5000",
    ...extra,
  ];
}

async function iperf(
  net: Netns,
  topo: Topology,
  seconds: number,
  extra: string[],
): Promise<IperfResult> {
  const r = await net.exec(topo.client, iperfArgv(topo.target, seconds, extra), {
    timeoutMs: (seconds + 30) * 1000,
  });
  if (r.timedOut) throw new Error(`iperf3 ${extra.join(" ")} timed out`);
  return parseIperf(r.stdout || r.stderr, extra.includes("-u"));
}

async function ping(net: Netns, topo: Topology, argv: string[], timeoutMs: number) {
  const r = await net.exec(topo.client, ["ping", "-q", ...argv, topo.target], { timeoutMs });
  return parsePing(r.stdout);
}

async function vpnCpuSeconds(vpn: readonly Proc[]): Promise<number> {
  let total = 0;
  for (const p of vpn) total += await cpuSeconds(p.pid);
  return total;
}

/** Throws when a VPN process has exited: its figures would be meaningless. */
function checkAlive(vpn: readonly Proc[], when: string): void {
  for (const p of vpn) {
    if (p.exited) {
      throw new Error(`${p.name} (pid ${p.pid}) exited ${when}; output:\n${outputOf(p)}`);
    }
  }
}

/** The ping at rest: 200 at 100 Hz (2 s), each waiting up to 1 s, all within 10 s. */
const REST_PING = ["-c", "200", "-i", "0.01", "-W", "1", "-w", "10"];
/**
 * The warm-up: 5000 pings, each sent when the last reply is in (about 1 s), all within 15 s.
 * A VPN runs for hours; a JIT-compiled one reaches its optimized code only after a few thousand
 * packets, and the figures at rest are meant for the tunnel as it runs, not as it starts.
 */
const WARM_UP_PING = ["-f", "-c", "5000", "-W", "1", "-w", "15"];

/**
 * The ping at rest again while one `nice -n 19` busy loop per CPU keeps every CPU out of idle
 * (they yield to any other task). On a VM whose idle CPUs halt, waking from a halt and running on
 * cold caches is a large part of a tunnel's RTT at rest; this shows the RTT without that part.
 */
async function pingWithBusyCpus(net: Netns, topo: Topology): Promise<number | null> {
  const spinners = Array.from(
    { length: navigator.hardwareConcurrency },
    (_, cpu) =>
      net.spawn(topo.client, `busy-cpu${cpu}`, [
        ...["taskset", "-c", String(cpu), "nice", "-n", "19", "timeout", "60"],
        ...["sh", "-c", "while :; do :; done"],
      ]),
  );
  try {
    await sleep(500);
    return (await ping(net, topo, REST_PING, 20_000)).avgMs;
  } finally {
    await Promise.all(spinners.map((p) => p.stop()));
  }
}

/**
 * A second ping at rest (200 at 100 Hz) under `tcpdump -i any` in the client namespace, cut into
 * hops (hops.ts). Null, with a note, when tcpdump is missing or the capture shows no full ping.
 */
async function captureHops(net: Netns, topo: Topology, notes: string[]): Promise<Hops | null> {
  if (which("tcpdump") === null) {
    notes.push("tcpdump missing: no hop figures");
    return null;
  }
  const file = `${await net.tempDir()}/hops.pcap`;
  const capture = net.spawn(topo.client, "tcpdump", [
    "tcpdump",
    ...["-i", "any", "-nn", "-U", "-Z", "root", "-w", file, "icmp or udp"],
  ]);
  await capture.waitForLine(/listening on/, 10_000, "stderr");
  await ping(net, topo, REST_PING, 20_000);
  await sleep(200);
  await capture.stop();
  const text = await run(["tcpdump", "-nn", "-tt", "-r", file], { timeoutMs: 30_000 });
  const hops = parseHops(text.stdout);
  if (hops === null) notes.push("the capture showed no complete ping: no hop figures");
  return hops;
}

/** The single-flow TCP test with ping alongside and the VPN's CPU time around it. */
async function tcpUnderLoad(net: Netns, topo: Topology, seconds: number, sample: Sample) {
  const cpuBefore = await vpnCpuSeconds(topo.vpn);
  const interval = 0.05;
  const count = Math.max(5, Math.floor((seconds - 1.5) / interval));
  const loaded = sleep(500).then(() =>
    ping(
      net,
      topo,
      ["-i", String(interval), "-c", String(count), "-W", "2", "-w", String(seconds)],
      (seconds + 10) * 1000,
    )
  );
  const [tcp, pingLoad] = await Promise.all([iperf(net, topo, seconds, []), loaded]);
  checkAlive(topo.vpn, "during the single-flow TCP test");
  const cpuAfter = await vpnCpuSeconds(topo.vpn);
  sample.tcp1Mbps = tcp.mbps;
  sample.tcp1Gigabits = tcp.bytes * 8 / 1e9;
  sample.rttLoadMs = pingLoad.avgMs;
  sample.rttLoadLossPercent = 100 * (1 - pingLoad.received / Math.max(1, pingLoad.transmitted));
  if (topo.vpn.length > 0) {
    sample.cpuSeconds = cpuAfter - cpuBefore;
    sample.cpuPerGbit = sample.tcp1Gigabits > 0 ? sample.cpuSeconds / sample.tcp1Gigabits : null;
  }
}

/** Runs every test against a built topology and fills `sample`. */
async function measure(net: Netns, topo: Topology, seconds: number, sample: Sample) {
  for (const p of topo.vpn) sample.notes.push(`VPN process: ${await processName(p.pid) ?? "gone"}`);
  const server = net.spawn(topo.server, "iperf3-server", ["iperf3", "-s", "--forceflush"]);
  await server.waitForLine(/Server listening/, 10_000, "stdout");
  sample.rttColdMs = (await ping(net, topo, REST_PING, 20_000)).avgMs;
  sample.rttFloodMs = (await ping(net, topo, WARM_UP_PING, 25_000)).avgMs;
  await sleep(300);
  sample.rttRestMs = (await ping(net, topo, REST_PING, 20_000)).avgMs;
  sample.rttBusyMs = await pingWithBusyCpus(net, topo);
  if (topo.vpn.length > 0) sample.hops = await captureHops(net, topo, sample.notes);
  await tcpUnderLoad(net, topo, seconds, sample);
  await sleep(300);
  sample.tcp4Mbps = (await iperf(net, topo, seconds, ["-P", "4"])).mbps;
  await sleep(300);
  const udp = await iperf(net, topo, seconds, ["-u", "-l", "1200", "-b", "0"]);
  sample.udpPps = udp.receivedPps ?? null;
  sample.udpSentPps = udp.sentPps ?? null;
  sample.udpLossPercent = udp.lossPercent ?? null;
  checkAlive(topo.vpn, "during the tests");
  for (const p of topo.vpn) sample.rssKiB.push(await peakRssKiB(p.pid));
}

function describe(s: Sample): string {
  const f = (x: number | null, unit: string) => (x === null ? "n/a" : `${formatNumber(x)}${unit}`);
  return [
    `tcp1 ${f(s.tcp1Mbps, " Mbit/s")}`,
    `tcp4 ${f(s.tcp4Mbps, " Mbit/s")}`,
    `udp ${f(s.udpPps, " pps")}`,
    `rtt ${f(s.rttRestMs, " ms")} / loaded ${f(s.rttLoadMs, " ms")}`,
    `cpu ${f(s.cpuPerGbit, " s/Gbit")}`,
    `rss ${s.rssKiB.length ? f(Math.max(...s.rssKiB) / 1024, " MiB") : "n/a"}`,
  ].join(", ");
}

// ---------------------------------------------------------------------------------------------
// Main

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
