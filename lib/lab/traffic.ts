/**
 * The traffic of a lab run, client to server through the tunnel: a `ping -D` at a fixed rate
 * (every reply with its arrival time) and one TCP bulk flow (lib/lab/tcp_transfer.ts, the sink
 * reporting the bytes received every 100 ms). Both are bounded in time by their own options and
 * are processes of the lab, so cleanup ends them whatever happens.
 * @module
 */
import type { Lab } from "./lab.ts";
import { parsePingReply, type PingReply } from "./ping.ts";
import type { Proc } from "./process.ts";
import { ensureCommand } from "./tools.ts";
import {
  parseProgress,
  parseTransfer,
  transferArgv,
  type TransferProgress,
  type TransferResult,
} from "./tcp_transfer.ts";

/** A running ping and its replies so far. */
export interface PingFlow {
  readonly proc: Proc;
  /** Every reply line so far, duplicates included, in arrival order. */
  readonly replies: PingReply[];
  /** Unix ms when ping was started. */
  readonly startAt: number;
  /** The requested interval between echo requests, ms. */
  readonly intervalMs: number;
}

/**
 * The `ping -i` value that comes closest to `hz` on this machine. iputils ping keeps whole
 * milliseconds and, on some kernels, stretches intervals of 10 ms and more to the next timer
 * tick (`-i 0.01` sends every 16 ms), so the requested interval and the whole millisecond below
 * it are each timed with 20 pings to loopback inside `ns`, and the closer one wins.
 */
export async function calibratePingInterval(lab: Lab, ns: string, hz: number): Promise<string> {
  await ensureCommand("ping", "iputils-ping");
  const wanted = 1000 / hz;
  const candidates = [
    ...new Set([Math.max(1, Math.round(wanted)), Math.max(1, Math.ceil(wanted) - 1)]),
  ];
  let best = { interval: (candidates[0] / 1000).toFixed(3), error: Infinity };
  for (const ms of candidates) {
    const interval = (ms / 1000).toFixed(3);
    const t0 = performance.now();
    const r = await lab.exec(ns, ["ping", "-n", "-q", "-i", interval, "-c", "21", "127.0.0.1"], {
      timeoutMs: 10_000,
    });
    const measured = (performance.now() - t0) / 20;
    const error = Math.abs(measured - wanted);
    if (r.success && error < best.error) best = { interval, error };
  }
  return best.interval;
}

/** Starts `ping -D -i INTERVAL` from `ns` to `target`, ending by itself after `maxSeconds`. */
export async function startPing(
  lab: Lab,
  ns: string,
  target: string,
  interval: string,
  maxSeconds: number,
): Promise<PingFlow> {
  await ensureCommand("ping", "iputils-ping");
  const replies: PingReply[] = [];
  const startAt = Date.now();
  const proc = lab.spawn(ns, [
    "ping",
    "-n",
    "-D",
    "-i",
    interval,
    "-w",
    String(Math.ceil(maxSeconds)),
    target,
  ], { name: "ping" });
  proc.onLine((line, stream) => {
    const reply = stream === "stdout" ? parsePingReply(line) : null;
    if (reply !== null) replies.push(reply);
  });
  return { proc, replies, startAt, intervalMs: Number(interval) * 1000 };
}

/** Stops a ping (SIGINT, as Ctrl-C: it prints its statistics) and waits for it. */
export async function stopPing(ping: PingFlow): Promise<void> {
  ping.proc.kill("SIGINT");
  await ping.proc.wait(5_000).catch(() => ping.proc.terminate());
}

/** A running TCP flow and the sink's progress so far. */
export interface TcpFlow {
  readonly sink: Proc;
  readonly source: Proc;
  /** The sink's `progress` lines: bytes received by wall-clock time. */
  readonly progress: TransferProgress[];
}

/** Where the TCP flow goes. */
export interface TcpTarget {
  readonly clientNs: string;
  readonly serverNs: string;
  /** The server's tunnel address. */
  readonly address: string;
  readonly port: number;
}

/**
 * Starts a sink in the server's namespace and a source in the client's, and resolves once the
 * source is connected. The source sends for `seconds` (paced to `rateMbps`, or as fast as it
 * can when null); both give up after `seconds` + 30 s whatever happens.
 */
export async function startTcp(
  lab: Lab,
  target: TcpTarget,
  seconds: number,
  rateMbps: number | null,
): Promise<TcpFlow> {
  const progress: TransferProgress[] = [];
  const timeout = Math.ceil(seconds + 30);
  const endpoint = `${target.address}:${target.port}`;
  const sink = lab.spawn(
    target.serverNs,
    transferArgv("sink", {
      listen: endpoint,
      "max-bytes": 1e12,
      timeout,
      "progress-ms": 100,
    }),
    { name: "tcp-sink" },
  );
  sink.onLine((line, stream) => {
    const p = stream === "stderr" ? parseProgress(line) : null;
    if (p !== null) progress.push(p);
  });
  await sink.waitForLine(/listening on/, 30_000);
  const source = lab.spawn(
    target.clientNs,
    transferArgv("source", {
      connect: endpoint,
      bytes: 1e12,
      seed: 1,
      duration: seconds,
      timeout,
      ...(rateMbps === null ? {} : { rate: rateMbps }),
    }),
    { name: "tcp-source" },
  );
  await source.waitForLine(/connected to/, 30_000);
  return { sink, source, progress };
}

/** What a finished TCP flow reports; an `error` when a side failed or did not finish. */
export interface TcpOutcome {
  readonly sink: TransferResult | null;
  readonly source: TransferResult | null;
  readonly error: string | null;
}

/** Waits (up to `timeoutMs`) for both sides to finish, ends them otherwise, and parses results. */
export async function finishTcp(tcp: TcpFlow, timeoutMs: number): Promise<TcpOutcome> {
  const errors: string[] = [];
  for (const proc of [tcp.source, tcp.sink]) {
    try {
      const status = await proc.wait(timeoutMs);
      if (!status.success) {
        errors.push(`${proc.name} exited with code ${proc.code}: ${proc.tail(3)}`);
      }
    } catch {
      errors.push(`${proc.name} did not finish within ${timeoutMs} ms`);
      await proc.terminate();
    }
  }
  const parse = (p: Proc) => {
    try {
      return parseTransfer(p.stdout);
    } catch {
      return null;
    }
  };
  const sink = parse(tcp.sink);
  const source = parse(tcp.source);
  if (sink !== null && source !== null && sink.sha256 !== source.sha256) {
    errors.push("the data received differs from the data sent (sha256)");
  }
  return { sink, source, error: errors.length === 0 ? null : errors.join("; ") };
}
