/**
 * Figures computed from what a lab run observed: the ping figures of a time window (by send
 * time), the TCP rate of a window (from the sink's progress), and per event the outage (the
 * longest time without a ping reply in the 5 s after it) and the TCP rate before and after.
 * Pure; times are Unix ms unless named otherwise.
 * @module
 */
import type { PingReply } from "./ping.ts";
import type { OutageFigures, PingSecond, Sample } from "./samples.ts";
import type { TransferProgress } from "./tcp_transfer.ts";

/** How long after an event its outage is looked for, ms. */
export const OUTAGE_WINDOW_MS = 5_000;

/** The first (non-duplicate) reply of every answered request, by sequence number. */
export function firstReplies(replies: readonly PingReply[]): Map<number, PingReply> {
  const out = new Map<number, PingReply>();
  for (const r of replies) if (!r.dup && !out.has(r.seq)) out.set(r.seq, r);
  return out;
}

/**
 * Ping figures of the requests sent in [from, to): `sendTimes[i]` is the send time of request
 * i + 1; replies that arrived after `settledAt` do not count (yet).
 */
export function pingWindow(
  sendTimes: readonly number[],
  answered: ReadonlyMap<number, PingReply>,
  from: number,
  to: number,
  settledAt = Infinity,
): PingSecond {
  let sent = 0;
  let received = 0;
  let rttSum = 0;
  let rttMax: number | null = null;
  for (let i = 0; i < sendTimes.length; i++) {
    if (sendTimes[i] < from || sendTimes[i] >= to) continue;
    sent++;
    const r = answered.get(i + 1);
    if (r === undefined || r.at > settledAt) continue;
    received++;
    rttSum += r.rttMs;
    rttMax = Math.max(rttMax ?? 0, r.rttMs);
  }
  return {
    sent,
    received,
    lost: sent - received,
    "rtt_avg_ms": received > 0 ? rttSum / received : null,
    "rtt_max_ms": rttMax,
  };
}

/** Bytes the sink had received at time `at`, interpolated between progress lines. */
export function bytesAt(progress: readonly TransferProgress[], at: number): number {
  if (progress.length === 0) return 0;
  if (at <= progress[0].at) return progress[0].bytes;
  for (let i = 1; i < progress.length; i++) {
    const [a, b] = [progress[i - 1], progress[i]];
    if (at <= b.at) {
      return b.at === a.at
        ? b.bytes
        : a.bytes + ((b.bytes - a.bytes) * (at - a.at)) / (b.at - a.at);
    }
  }
  return progress[progress.length - 1].bytes;
}

/** TCP payload rate in [from, to), Mbit/s. */
export function tcpMbps(progress: readonly TransferProgress[], from: number, to: number): number {
  if (to <= from) return 0;
  return Math.max(
    0,
    ((bytesAt(progress, to) - bytesAt(progress, from)) * 8) / ((to - from) / 1000) / 1e6,
  );
}

/**
 * The ping figures of the `windowMs` after an event at `at`: the longest interval between two
 * consecutive replies (ping start and end count as replies) that overlaps [at, at + windowMs],
 * and the requests sent in the window that were never answered.
 */
export function outageAfter(
  at: number,
  replies: readonly PingReply[],
  sendTimes: readonly number[],
  pingStart: number,
  pingEnd: number,
  windowMs = OUTAGE_WINDOW_MS,
): OutageFigures {
  const end = Math.min(at + windowMs, pingEnd);
  const arrivals = [...firstReplies(replies).values()].map((r) => r.at).sort((a, b) => a - b);
  const points = [pingStart, ...arrivals.filter((t) => t >= pingStart && t <= pingEnd), pingEnd];
  let gap = 0;
  for (let i = 1; i < points.length; i++) {
    if (points[i] > at && points[i - 1] < end) gap = Math.max(gap, points[i] - points[i - 1]);
  }
  const w = pingWindow(sendTimes, firstReplies(replies), at, end);
  return { "longest_gap_ms": Math.round(gap * 10) / 10, sent: w.sent, lost: w.lost };
}

/** Mean TCP Mbit/s of the whole seconds inside [from, to] (seconds since start); null if none. */
export function meanTcp(samples: readonly Sample[], from: number, to: number): number | null {
  const inside = samples.filter((s) =>
    s.t - 1 >= from - 1e-9 && s.t <= to + 1e-9 && s.tcp_mbps !== null
  );
  if (inside.length === 0) return null;
  return inside.reduce((n, s) => n + s.tcp_mbps!, 0) / inside.length;
}
