/**
 * Reading iputils `ping` output: the statistics block at the end ({@link parsePing}), and, for a
 * ping followed while it runs (`ping -D`, one timestamped line per reply), the replies and the
 * estimated send time of every echo request, answered or not ({@link estimateSendTimes}).
 * @module
 */

/** Figures from a finished `ping` run. */
export interface PingSummary {
  readonly transmitted: number;
  readonly received: number;
  readonly duplicates: number;
  readonly errors: number;
  readonly lossPercent: number;
  /** min/avg/max/mdev in ms, null when nothing was received. */
  readonly rtt: { min: number; avg: number; max: number; mdev: number } | null;
}

/** Parses the statistics block of iputils `ping` output. Throws when it is missing. */
export function parsePing(output: string): PingSummary {
  const m = output.match(/(\d+) packets transmitted, (\d+) received(.*)/);
  if (!m) throw new Error(`no ping statistics in output:\n${output}`);
  const rest = m[3];
  const dup = rest.match(/\+(\d+) duplicates/);
  const err = rest.match(/\+(\d+) errors/);
  const loss = rest.match(/([\d.]+)% packet loss/);
  const rtt = output.match(/= ([\d.]+)\/([\d.]+)\/([\d.]+)\/([\d.]+) ms/);
  return {
    transmitted: Number(m[1]),
    received: Number(m[2]),
    duplicates: dup ? Number(dup[1]) : 0,
    errors: err ? Number(err[1]) : 0,
    lossPercent: loss ? Number(loss[1]) : NaN,
    rtt: rtt
      ? { min: Number(rtt[1]), avg: Number(rtt[2]), max: Number(rtt[3]), mdev: Number(rtt[4]) }
      : null,
  };
}

/** One echo reply line of `ping -D`. */
export interface PingReply {
  readonly seq: number;
  /** When the reply arrived: Unix time in ms (ping's `[seconds.micros]` prefix). */
  readonly at: number;
  readonly rttMs: number;
  /** A second reply to the same request (`(DUP!)`). */
  readonly dup: boolean;
}

const REPLY = /^\[(\d+(?:\.\d+)?)\] .*icmp_seq=(\d+) .*time=([\d.]+) ms( \(DUP!\))?/;

/** Parses one `ping -D` reply line; null for any other line. */
export function parsePingReply(line: string): PingReply | null {
  const m = line.match(REPLY);
  if (!m) return null;
  return {
    at: Number(m[1]) * 1000,
    seq: Number(m[2]),
    rttMs: Number(m[3]),
    dup: m[4] !== undefined,
  };
}

/** Send times (Unix ms) of the answered requests up to `count`, by sequence number, sorted. */
function anchors(replies: readonly PingReply[], count: number): [number, number][] {
  const known = new Map<number, number>();
  for (const r of replies) {
    if (!r.dup && r.seq >= 1 && r.seq <= count && !known.has(r.seq)) {
      known.set(r.seq, r.at - r.rttMs);
    }
  }
  return [...known.entries()].sort((a, b) => a[0] - b[0]);
}

/** The interval measured between the first and last answered requests, else `intervalMs`. */
function measuredStep(points: readonly [number, number][], intervalMs: number): number {
  if (points.length < 2) return intervalMs;
  const [[s0, t0], [s1, t1]] = [points[0], points[points.length - 1]];
  return (t1 - t0) / (s1 - s0);
}

/**
 * The send time (Unix ms) of requests 1..`count`: exact (reply time − RTT) for answered ones,
 * interpolated between answered neighbours for the others, and extrapolated with the measured
 * interval (or `intervalMs` when fewer than two were answered) before the first and after the
 * last answered one. `startAt` anchors request 1 when none was answered. Index 0 is request 1.
 */
export function estimateSendTimes(
  replies: readonly PingReply[],
  count: number,
  startAt: number,
  intervalMs: number,
): number[] {
  const points = anchors(replies, count);
  const out = new Array<number>(count);
  if (points.length === 0) {
    for (let i = 0; i < count; i++) out[i] = startAt + i * intervalMs;
    return out;
  }
  const step = measuredStep(points, intervalMs);
  const [first, firstAt] = points[0];
  const [last, lastAt] = points[points.length - 1];
  for (let s = 1; s < first; s++) out[s - 1] = firstAt - (first - s) * step;
  for (let i = 0; i + 1 < points.length; i++) {
    const [[a, ta], [b, tb]] = [points[i], points[i + 1]];
    for (let s = a; s < b; s++) out[s - 1] = ta + ((tb - ta) * (s - a)) / (b - a);
  }
  for (let s = last; s <= count; s++) out[s - 1] = lastAt + (s - last) * step;
  return out;
}

/**
 * How many requests a ping started at `startAt` has sent by `now`: the last answered one plus
 * those due since, at the measured interval.
 */
export function estimateSentCount(
  replies: readonly PingReply[],
  now: number,
  startAt: number,
  intervalMs: number,
): number {
  const points = anchors(replies, Infinity);
  if (points.length === 0) return Math.max(0, Math.floor((now - startAt) / intervalMs) + 1);
  const [last, lastAt] = points[points.length - 1];
  return last + Math.max(0, Math.floor((now - lastAt) / measuredStep(points, intervalMs)));
}
