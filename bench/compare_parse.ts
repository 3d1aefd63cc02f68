/**
 * What `ping` and `iperf3 --json` print, read into numbers for `bench/compare.ts`.
 * @module
 */

/** The RTT of every reply (ms) in the per-packet lines of iputils `ping` output, in order. */
export function parsePingTimes(output: string): number[] {
  return [...output.matchAll(/ time=([\d.]+) ms/g)].map((m) => Number(m[1]));
}

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
