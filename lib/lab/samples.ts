/**
 * What a lab run records each second, and the per-path figures made from two consecutive status
 * snapshots of a peer (`GET /status`, the object `centipede show --json` prints): state, RTT,
 * send rate, first-arrival share and duplicates over the second. Pure. JSON keys are snake_case,
 * like the status JSON's.
 * @module
 */
import type { PathStatus, PeerStatus } from "../control/status.ts";
import type { TopologyPlan } from "./topology.ts";

/** The ping figures of one second (by send time). */
export interface PingSecond {
  /** Echo requests sent during the second. */
  sent: number;
  /** Of those, the ones answered. */
  received: number;
  lost: number;
  /** Mean and maximum RTT of those answered; null when none was. */
  "rtt_avg_ms": number | null;
  "rtt_max_ms": number | null;
}

/** One lab path, from the client's status, over one second. */
export interface PathSample {
  /** centipede's state of the path (`active`, `validating`, `down`); null when not listed. */
  state: string | null;
  "rtt_ms": number | null;
  /** centipede's estimate of the outbound loss, 0..1. */
  loss: number | null;
  /** What the client sent on the path (all copies, encrypted), Mbit/s. */
  "sent_mbps": number;
  /** Share of the packets the client received from the server that arrived first here. */
  "first_share": number | null;
  /** Copies that arrived here after another path had delivered them. */
  duplicates: number;
  /** Cumulative counters at the end of the second. */
  "bytes_sent": number;
  "first_arrivals": number;
  /** What the lab had set on the path at the end of the second. */
  link: "up" | "down";
  rate: string | null;
  "loss_set": number;
}

/** One path of the server's peer (the client), by remote address, over one second. */
export interface ServerPathSample {
  remote: string;
  configured: boolean;
  state: string;
  "rtt_ms": number | null;
  "sent_mbps": number;
}

/** Everything recorded for one second. */
export interface Sample {
  /** End of the second, seconds since the traffic started (1, 2, ...). */
  t: number;
  ping: PingSecond | null;
  /** TCP payload received by the sink during the second, Mbit/s; null without TCP. */
  "tcp_mbps": number | null;
  /** By lab path name. */
  paths: Record<string, PathSample>;
  "server_paths": ServerPathSample[];
}

/** What the lab has set on a path (see build.ts). */
export interface Condition {
  readonly up: boolean;
  readonly rate: string | null;
  readonly loss: number;
}

function hostOf(address: string | null): string {
  if (address === null) return "";
  const colon = address.lastIndexOf(":");
  return (colon < 0 ? address : address.slice(0, colon)).replace(/^\[|\]$/g, "");
}

/**
 * The status paths of each lab path: from the path's client address to the server address
 * reached through it (crossed pairs, which cannot be reached, belong to no lab path).
 */
function byLabPath(peer: PeerStatus | null, plan: TopologyPlan): Map<string, PathStatus[]> {
  const out = new Map<string, PathStatus[]>(plan.paths.map((p) => [p.name, []]));
  for (const s of peer?.paths ?? []) {
    const p = plan.paths.find((q) =>
      q.clientIp === hostOf(s.local_address) && q.serverIp === hostOf(s.remote)
    );
    if (p !== undefined) out.get(p.name)!.push(s);
  }
  return out;
}

function sum(paths: readonly PathStatus[], key: "bytes_sent" | "duplicates" | "first_arrivals") {
  return paths.reduce((n, p) => n + p[key], 0);
}

/** A state for several status paths of one lab path: the configured one's, else the best. */
function stateOf(paths: readonly PathStatus[]): PathStatus | null {
  const rank = (p: PathStatus) =>
    (p.configured ? 0 : 4) + ["active", "standby", "validating", "down"].indexOf(p.state);
  return [...paths].sort((a, b) => rank(a) - rank(b))[0] ?? null;
}

function mbps(bytes: number, seconds: number): number {
  return seconds > 0 ? Math.max(0, (bytes * 8) / seconds / 1e6) : 0;
}

/**
 * The client's figures of every lab path over the `seconds` between status `prev` (null at the
 * start) and `cur`, with what the lab had set on each path.
 */
export function clientPathSamples(
  prev: PeerStatus | null,
  cur: PeerStatus | null,
  seconds: number,
  plan: TopologyPlan,
  conditions: ReadonlyMap<string, Condition>,
): Record<string, PathSample> {
  const before = byLabPath(prev, plan);
  const now = byLabPath(cur, plan);
  const received = (cur?.packets_received ?? 0) - (prev?.packets_received ?? 0);
  const out: Record<string, PathSample> = {};
  for (const p of plan.paths) {
    const a = before.get(p.name)!;
    const b = now.get(p.name)!;
    const main = stateOf(b);
    const firsts = sum(b, "first_arrivals") - sum(a, "first_arrivals");
    const c = conditions.get(p.name);
    out[p.name] = {
      state: main?.state ?? null,
      "rtt_ms": main?.rtt_ms ?? null,
      loss: main?.loss ?? null,
      "sent_mbps": mbps(sum(b, "bytes_sent") - sum(a, "bytes_sent"), seconds),
      "first_share": received > 0 ? Math.max(0, Math.min(1, firsts / received)) : null,
      duplicates: Math.max(0, sum(b, "duplicates") - sum(a, "duplicates")),
      "bytes_sent": sum(b, "bytes_sent"),
      "first_arrivals": sum(b, "first_arrivals"),
      link: c?.up === false ? "down" : "up",
      rate: c?.rate ?? null,
      "loss_set": c?.loss ?? 0,
    };
  }
  return out;
}

/** The server's figures of each of its paths to the client over `seconds`. */
export function serverPathSamples(
  prev: PeerStatus | null,
  cur: PeerStatus | null,
  seconds: number,
): ServerPathSample[] {
  return (cur?.paths ?? []).map((p) => {
    const old = prev?.paths.find((q) => q.remote === p.remote && q.local_index === p.local_index);
    return {
      remote: p.remote,
      configured: p.configured,
      state: p.state,
      "rtt_ms": p.rtt_ms,
      "sent_mbps": mbps(p.bytes_sent - (old?.bytes_sent ?? 0), seconds),
    };
  });
}

/** The ping figures of the 5 s after an event. */
export interface OutageFigures {
  /** The longest time without a ping reply that overlaps the window, ms. */
  "longest_gap_ms": number;
  /** Echo requests sent in the window, and how many of them got no reply. */
  sent: number;
  lost: number;
}

/** One timeline event as it happened. */
export interface EventRecord {
  /** Scheduled time, seconds since the traffic started. */
  at: number;
  /** When it was carried out. */
  t: number;
  /** How long carrying it out took, ms. */
  "took_ms": number;
  kind: string;
  label: string;
  /** What the lab did, e.g. `ip link set wifi down (client)`. */
  detail: string;
  /** Why it failed; null when it worked. */
  error: string | null;
  /** Ping figures of the 5 s after it; null without ping. */
  outage: OutageFigures | null;
  /** Mean TCP Mbit/s over the 5 s before and after; null without TCP or without full seconds. */
  "tcp_before_mbps": number | null;
  "tcp_after_mbps": number | null;
}
