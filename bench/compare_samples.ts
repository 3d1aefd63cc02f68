/**
 * The systems `bench/compare.ts` measures, one sample per run and system, the metrics taken from
 * samples (with the overhead over the bare veth), and their summary over runs.
 * @module
 */
import { type Stats, stats } from "./compare_stats.ts";
import { type Hops } from "./hops.ts";

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
