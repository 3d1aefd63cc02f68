/**
 * TCP transfers through a two-path tunnel for the network-namespace tests: a sink in B, a source
 * in A, and the checks on what arrived. The sink and source themselves live in
 * lib/lab/tcp_transfer.ts; run as a script this module is that tool:
 *
 * ```sh
 * deno run -A tests/netns/_tcp_transfer.ts sink --listen 10.77.0.2:5201
 * ```
 * @module
 */
import assert from "node:assert/strict";
import {
  expectedSha256,
  parseTransfer,
  transferArgv,
  transferMain,
  type TransferResult,
} from "../../lib/lab/tcp_transfer.ts";
import type { Lab } from "../../lib/lab/lab.ts";
import type { TwoPathTunnel } from "../../lib/lab/two_path.ts";

export {
  expectedSha256,
  parseProgress,
  parseTransfer,
  PatternStream,
  transferArgv,
  transferMain,
  type TransferProgress,
  type TransferResult,
} from "../../lib/lab/tcp_transfer.ts";

/** What both ends reported, and the seed of the pattern sent. */
export interface Transfer {
  readonly sink: TransferResult;
  readonly source: TransferResult;
  readonly seed: number;
}

/** One transfer: to `t.tunB:port`, `bytes` at most (default 1 GB), for `duration` s at most. */
export interface TransferOptions {
  readonly port: number;
  readonly seed: number;
  readonly bytes?: number;
  /** Stop sending after this many seconds. */
  readonly duration?: number;
  /** Pace the source to this many Mbit/s. */
  readonly rateMbps?: number;
  /** Time limit of both ends; default the duration plus 30 s, or 120 s without one. */
  readonly timeoutS?: number;
}

/** A TCP transfer A -> B through the tunnel: a sink in B on `t.tunB:port`, a source in A. */
export async function tcpTransfer(
  lab: Lab,
  t: TwoPathTunnel,
  o: TransferOptions,
): Promise<Transfer> {
  const timeoutS = o.timeoutS ?? (o.duration !== undefined ? Math.ceil(o.duration) + 30 : 120);
  const bytes = o.bytes ?? 1_000_000_000;
  const sink = lab.spawn(
    t.b,
    transferArgv("sink", { listen: `${t.tunB}:${o.port}`, "max-bytes": bytes, timeout: timeoutS }),
    { name: "tcp-sink" },
  );
  await sink.waitForLine(/listening on/, 20_000);
  const argv = transferArgv("source", {
    connect: `${t.tunB}:${o.port}`,
    bytes,
    seed: o.seed,
    timeout: timeoutS,
    ...(o.duration !== undefined ? { duration: o.duration } : {}),
    ...(o.rateMbps !== undefined ? { rate: o.rateMbps } : {}),
  });
  const src = await lab.exec(t.a, argv, { timeoutMs: (timeoutS + 10) * 1000 });
  const status = await sink.wait(15_000);
  assert.ok(src.success, `TCP source failed (code ${src.code}):\n${src.stdout}\n${src.stderr}`);
  assert.ok(
    status.success,
    `TCP sink failed (code ${status.code}):\n${sink.stdout}\n${sink.stderr}`,
  );
  return { sink: parseTransfer(sink.stdout), source: parseTransfer(src.stdout), seed: o.seed };
}

/** {@link tcpTransfer} in the background; the promise never rejects (no unhandled error). */
export function startTransfer(lab: Lab, t: TwoPathTunnel, o: TransferOptions) {
  return tcpTransfer(lab, t, o).then(
    (v) => ({ ok: true as const, v }),
    (e: unknown) => ({ ok: false as const, e }),
  );
}

/** Everything sent arrived, unchanged, and was the pattern of the seed. */
export function assertTransferIntact(r: Transfer): void {
  assert.ok(r.sink.bytes > 0, "no TCP data got through");
  assert.equal(r.sink.bytes, r.source.bytes, "bytes received != bytes sent");
  assert.equal(r.sink.sha256, r.source.sha256, "sha256 of received data != sha256 of sent data");
  assert.equal(r.source.sha256, expectedSha256(r.seed, r.source.bytes), "source sent wrong data");
}

/** Kernel TCP counters of the sender's namespace that tell why a flow was slow. */
const TCP_COUNTERS = ["TcpRetransSegs", "TcpExtTCPTimeouts", "TcpExtTCPSACKReorder"] as const;

/** {@link TCP_COUNTERS} in namespace `ns` (absolute, from `nstat -asz`; 0 when absent). */
export async function tcpCounters(lab: Lab, ns: string): Promise<Record<string, number>> {
  const { stdout: out } = await lab.mustExec(ns, ["nstat", "-asz", ...TCP_COUNTERS]);
  const counts: Record<string, number> = {};
  for (const name of TCP_COUNTERS) {
    const m = out.match(new RegExp(`^${name}\\s+(\\d+)`, "m"));
    counts[name] = m ? Number(m[1]) : 0;
  }
  return counts;
}

/** What changed between two {@link tcpCounters} readings, for FIGURE lines. */
export function tcpCounterDelta(before: Record<string, number>, after: Record<string, number>) {
  return Object.keys(after).map((k) => `${k} +${after[k] - (before[k] ?? 0)}`).join(", ");
}

/** Rate, bytes, time and whether the hashes matched, for FIGURE lines. */
export function transferFigures(r: Transfer): string {
  return `${r.sink.mbps} Mbit/s (${r.sink.bytes} bytes in ${r.sink.seconds} s), ` +
    `sha256 ${r.sink.sha256 === r.source.sha256 ? "match" : "MISMATCH"}`;
}

if (import.meta.main) await transferMain(Deno.args);
