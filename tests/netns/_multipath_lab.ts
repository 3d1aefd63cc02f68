/**
 * Additions to the lab (lab.ts) for tests/netns/multipath_test.ts: a two-path tunnel with a
 * scheduling `Mode`, the status of a running peer read straight from its control socket, a 100 Hz
 * ping with per-reply time stamps, TCP progress sampled with `ss`, a minimal pcap reader and a UDP
 * replay tool that runs inside a namespace.
 *
 * Run as a script it is that replay tool:
 *
 * ```sh
 * deno run -A --unstable-net tests/netns/_multipath_lab.ts udp-replay --to 10.205.2.2:51820 \
 *     --hex 0400... --count 20 --listen-ms 2000
 * ```
 *
 * It sends the datagram `--count` times from a fresh socket, then listens on that socket for
 * `--listen-ms` and prints one JSON line: what it sent and every datagram it received.
 * @module
 */

import type { InterfaceStatus, PathStatus, PeerStatus } from "../../lib/control/status.ts";
import {
  controlDirFor,
  type Lab,
  type Proc,
  setupTwoPathTunnel,
  type TunnelPath,
  type TwoPathTunnel,
} from "./lab.ts";

export type { InterfaceStatus, PathStatus, PeerStatus };

/** The scheduling modes of docs/CONFIG.md. */
export type Mode = "duplicate" | "failover" | "aggregate" | "adaptive";

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// ---- the two-path tunnel with a Mode ----

/** Options for {@link setupModeTunnel}. */
export interface ModeTunnelOptions {
  /** `Mode` of both peers; absent: no Mode line (duplicate). */
  readonly mode?: Mode;
  /** Interface and config name; default `cpm0`. */
  readonly iface?: string;
  readonly port?: number;
  /** Runs after the namespaces and paths exist and before the peers start. */
  readonly beforeStart?: (a: string, b: string, paths: readonly TunnelPath[]) => Promise<void>;
  readonly echo?: boolean;
}

/** The lab's standard two-path tunnel (`setupTwoPathTunnel`) named `cpm0` by default. */
export function setupModeTunnel(
  lab: Lab,
  options: ModeTunnelOptions = {},
): Promise<TwoPathTunnel> {
  return setupTwoPathTunnel(lab, { ...options, iface: options.iface ?? "cpm0" });
}

// ---- status from the control socket ----

/**
 * `GET /status` on the control socket of the peer started with `confPath` (the object
 * `show --json NAME` prints, docs/CONTROL.md), read from this process: unix sockets live in the
 * file system, which namespaces share, and this costs milliseconds instead of a `deno` start.
 */
export async function peerStatus(confPath: string, timeoutMs = 5_000): Promise<InterfaceStatus> {
  const name = confPath.slice(confPath.lastIndexOf("/") + 1).replace(/\.conf$/, "");
  const socket = `${controlDirFor(confPath)}/${name}.sock`;
  const client = Deno.createHttpClient({ proxy: { transport: "unix", path: socket } });
  try {
    const response = await fetch("http://localhost/status", {
      client,
      signal: AbortSignal.timeout(timeoutMs),
    });
    const body = await response.text();
    if (response.status !== 200) throw new Error(`GET /status on ${socket}: ${response.status}`);
    return JSON.parse(body) as InterfaceStatus;
  } finally {
    client.close();
  }
}

/** The only peer of a status, or a clear error. */
export function onlyPeer(status: InterfaceStatus): PeerStatus {
  if (status.peers.length !== 1) {
    throw new Error(`expected one peer in ${status.interface}, got ${status.peers.length}`);
  }
  return status.peers[0];
}

/** The path of `peer` whose local address starts with `localIp` and remote with `remoteIp`. */
export function findPath(
  peer: PeerStatus,
  localIp: string,
  remoteIp: string,
): PathStatus | undefined {
  return peer.paths.find((p) =>
    (p.local_address ?? "").startsWith(`${localIp}:`) && p.remote.startsWith(`${remoteIp}:`)
  );
}

/** One line per path: state, rtt, loss, delivery rate, bytes and first-arrival share. */
export function describePaths(peer: PeerStatus): string {
  return peer.paths.map((p) => {
    const rate = p.delivery_rate_bytes_per_second;
    return `${p.local_address}->${p.remote} ${p.state} rtt ${p.rtt_ms?.toFixed(2) ?? "-"}` +
      `±${p.rttvar_ms?.toFixed(2) ?? "-"} ms loss ${p.loss === null ? "-" : p.loss.toFixed(3)} ` +
      `delivery ${rate === null ? "-" : (rate * 8 / 1e6).toFixed(2)} Mbit/s ` +
      `sent ${p.packets_sent} pkts/${p.bytes_sent} B recv ${p.packets_received} pkts/` +
      `${p.bytes_received} B dup ${p.duplicates} first ${
        p.first_arrival_share === null ? "-" : p.first_arrival_share.toFixed(3)
      }`;
  }).join("\n    ");
}

/**
 * Polls `check` every `intervalMs` until it returns true; throws (with `describe()`) after
 * `timeoutMs`. Bounded in time and in rounds.
 */
export async function waitUntil(
  what: string,
  check: () => Promise<boolean>,
  timeoutMs: number,
  describe: () => Promise<string> = () => Promise.resolve(""),
  intervalMs = 100,
): Promise<number> {
  const t0 = performance.now();
  const rounds = Math.ceil(timeoutMs / intervalMs) + 1;
  for (let i = 0; i < rounds && performance.now() - t0 <= timeoutMs; i++) {
    if (await check()) return Math.round(performance.now() - t0);
    await sleep(intervalMs);
  }
  throw new Error(`${what}: not reached within ${timeoutMs} ms\n${await describe()}`);
}

// ---- ping with time stamps ----

/** One echo reply of `ping -D`. */
export interface PingReply {
  readonly seq: number;
  /** Wall-clock ms (the `-D` stamp) when ping printed the reply. */
  readonly at: number;
  readonly rttMs: number;
  readonly dup: boolean;
}

/** Parses the reply lines of `ping -D -n` output. */
export function parsePingReplies(stdout: string): PingReply[] {
  const out: PingReply[] = [];
  const re =
    /^\[(\d+\.\d+)\] \d+ bytes from [^:]+: icmp_seq=(\d+) ttl=\d+ time=([\d.]+) ms( \(DUP!\))?/;
  for (const line of stdout.split("\n")) {
    const m = line.match(re);
    if (!m) continue;
    out.push({
      seq: Number(m[2]),
      at: Number(m[1]) * 1000,
      rttMs: Number(m[3]),
      dup: m[4] !== undefined,
    });
  }
  return out;
}

/**
 * The longest time without a reply (ms) between consecutive non-duplicate replies whose gap
 * overlaps `[from, to)` (wall-clock ms), and where it happened; 0 when fewer than two replies.
 */
export function longestGap(
  replies: readonly PingReply[],
  from = Number.NEGATIVE_INFINITY,
  to = Number.POSITIVE_INFINITY,
): { gapMs: number; afterSeq: number; beforeSeq: number; fromAt: number } {
  const fresh = replies.filter((r) => !r.dup).sort((x, y) => x.at - y.at);
  let best = { gapMs: 0, afterSeq: 0, beforeSeq: 0, fromAt: 0 };
  for (let i = 1; i < fresh.length; i++) {
    const prev = fresh[i - 1];
    const next = fresh[i];
    if (next.at < from || prev.at >= to) continue;
    const gap = next.at - prev.at;
    if (gap > best.gapMs) {
      best = { gapMs: Math.round(gap), afterSeq: prev.seq, beforeSeq: next.seq, fromAt: prev.at };
    }
  }
  return best;
}

// ---- TCP progress ----

/** One `ss` sample: when (wall-clock ms) and the socket's bytes received so far. */
export interface ProgressSample {
  readonly t: number;
  readonly bytes: number;
}

/**
 * Samples the `bytes_received` of the established TCP socket on local port `port` in `ns`
 * (`ss -tin`) every `intervalMs` until `stop()` is called, at most `maxSamples` times.
 */
export function sampleTcpProgress(
  lab: Lab,
  ns: string,
  port: number,
  intervalMs = 100,
  maxSamples = 600,
): { samples: ProgressSample[]; stop: () => Promise<void> } {
  const samples: ProgressSample[] = [];
  let stopped = false;
  const loop = (async () => {
    for (let i = 0; i < maxSamples && !stopped; i++) {
      const t = Date.now();
      try {
        const r = await lab.exec(
          ns,
          ["ss", "-tinH", "state", "established", "sport", "=", `:${port}`],
          { timeoutMs: 5_000 },
        );
        const m = r.stdout.match(/bytes_received:(\d+)/);
        if (m) samples.push({ t, bytes: Number(m[1]) });
      } catch {
        return; // the lab is gone (the test failed): stop sampling
      }
      const wait = intervalMs - (Date.now() - t);
      if (wait > 0) await sleep(wait);
    }
  })();
  return {
    samples,
    stop: async () => {
      stopped = true;
      await loop;
    },
  };
}

/**
 * The longest time (ms) between two samples that saw the received byte count grow, and the
 * wall-clock ms of the first of them; ms 0 when fewer than two samples saw growth.
 */
export function longestStall(samples: readonly ProgressSample[]): { ms: number; from: number } {
  let lastGrowth: ProgressSample | undefined;
  let prevBytes = 0;
  let worst = { ms: 0, from: 0 };
  for (const s of samples) {
    if (s.bytes > prevBytes) {
      if (lastGrowth && s.t - lastGrowth.t > worst.ms) {
        worst = { ms: Math.round(s.t - lastGrowth.t), from: lastGrowth.t };
      }
      lastGrowth = s;
      prevBytes = s.bytes;
    }
  }
  return worst;
}

// ---- pcap ----

/** One UDP/IPv4 datagram from a capture. */
export interface CapturedUdp {
  /** Wall-clock ms of the capture. */
  readonly at: number;
  readonly src: string;
  readonly dst: string;
  readonly srcPort: number;
  readonly dstPort: number;
  readonly payload: Uint8Array;
}

/**
 * The UDP/IPv4 datagrams of a classic pcap file (`tcpdump -w`): either byte order, micro- or
 * nanosecond stamps, link types Ethernet (1), Linux cooked (113) and Linux cooked v2 (276).
 */
export function parsePcapUdp(file: Uint8Array): CapturedUdp[] {
  if (file.length < 24) throw new Error(`pcap too short: ${file.length} bytes`);
  const view = new DataView(file.buffer, file.byteOffset, file.byteLength);
  const magicLE = view.getUint32(0, true);
  let little: boolean;
  let nano: boolean;
  if (magicLE === 0xa1b2c3d4 || magicLE === 0xa1b23c4d) {
    little = true;
    nano = magicLE === 0xa1b23c4d;
  } else {
    const magicBE = view.getUint32(0, false);
    if (magicBE !== 0xa1b2c3d4 && magicBE !== 0xa1b23c4d) {
      throw new Error(`not a pcap file (magic ${magicLE.toString(16)})`);
    }
    little = false;
    nano = magicBE === 0xa1b23c4d;
  }
  const linkType = view.getUint32(20, little);
  const out: CapturedUdp[] = [];
  for (let off = 24; off + 16 <= file.length;) {
    const sec = view.getUint32(off, little);
    const frac = view.getUint32(off + 4, little);
    const incl = view.getUint32(off + 8, little);
    const start = off + 16;
    off = start + incl;
    if (off > file.length) break; // truncated last record
    const frame = file.subarray(start, start + incl);
    const at = sec * 1000 + (nano ? frac / 1e6 : frac / 1e3);
    let ipAt: number;
    let proto: number;
    if (linkType === 1) {
      if (frame.length < 14) continue;
      proto = (frame[12] << 8) | frame[13];
      ipAt = 14;
    } else if (linkType === 113) {
      if (frame.length < 16) continue;
      proto = (frame[14] << 8) | frame[15];
      ipAt = 16;
    } else if (linkType === 276) {
      if (frame.length < 20) continue;
      proto = (frame[0] << 8) | frame[1];
      ipAt = 20;
    } else {
      throw new Error(`unsupported pcap link type ${linkType}`);
    }
    if (proto !== 0x0800 || frame.length < ipAt + 20) continue;
    const ihl = (frame[ipAt] & 0x0f) * 4;
    if (frame[ipAt] >> 4 !== 4 || frame[ipAt + 9] !== 17) continue;
    const udpAt = ipAt + ihl;
    if (frame.length < udpAt + 8) continue;
    const udpLen = (frame[udpAt + 4] << 8) | frame[udpAt + 5];
    if (udpLen < 8 || frame.length < udpAt + udpLen) continue;
    const ip = (at: number) => Array.from(frame.subarray(at, at + 4)).join(".");
    out.push({
      at,
      src: ip(ipAt + 12),
      dst: ip(ipAt + 16),
      srcPort: (frame[udpAt] << 8) | frame[udpAt + 1],
      dstPort: (frame[udpAt + 2] << 8) | frame[udpAt + 3],
      payload: frame.slice(udpAt + 8, udpAt + udpLen),
    });
  }
  return out;
}

export function toHex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function fromHex(hex: string): Uint8Array {
  if (!/^([0-9a-f]{2})+$/i.test(hex)) {
    throw new Error("--hex: expected an even number of hex digits");
  }
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

// ---- UDP replay tool ----

/** What {@link udpReplayArgv}'s process prints. */
export interface ReplayResult {
  readonly sent: number;
  readonly sentBytes: number;
  readonly local: string;
  /** Every datagram received on the sending socket while listening. */
  readonly received: { from: string; bytes: number; atMs: number; head: string }[];
}

/** argv of the replay tool (see the module doc). */
export function udpReplayArgv(o: {
  to: string;
  payload: Uint8Array;
  count: number;
  listenMs: number;
  gapMs?: number;
}): string[] {
  const script = decodeURIComponent(new URL(import.meta.url).pathname);
  return [
    Deno.execPath(),
    "run",
    "-A",
    "--unstable-net",
    script,
    "udp-replay",
    "--to",
    o.to,
    "--hex",
    toHex(o.payload),
    "--count",
    String(o.count),
    "--listen-ms",
    String(o.listenMs),
    "--gap-ms",
    String(o.gapMs ?? 5),
  ];
}

/** Parses the replay tool's JSON line. */
export function parseReplay(stdout: string): ReplayResult {
  const line = stdout.split("\n").reverse().find((l) => l.trim().startsWith("{"));
  if (line === undefined) throw new Error(`no JSON line from udp-replay:\n${stdout}`);
  return JSON.parse(line) as ReplayResult;
}

async function udpReplay(args: string[]): Promise<void> {
  const opt = new Map<string, string>();
  for (let i = 0; i + 1 < args.length; i += 2) opt.set(args[i].replace(/^--/, ""), args[i + 1]);
  const m = (opt.get("to") ?? "").match(/^(\d+\.\d+\.\d+\.\d+):(\d+)$/);
  if (!m) throw new Error("--to IPV4:PORT is required");
  const payload = fromHex(opt.get("hex") ?? "");
  const count = Math.min(1000, Number(opt.get("count") ?? "1"));
  const listenMs = Math.min(30_000, Number(opt.get("listen-ms") ?? "1000"));
  const gapMs = Math.min(1000, Number(opt.get("gap-ms") ?? "5"));
  const conn = Deno.listenDatagram({ transport: "udp", hostname: "0.0.0.0", port: 0 });
  const local = conn.addr as Deno.NetAddr;
  const received: ReplayResult["received"] = [];
  const t0 = performance.now();
  const receiving = (async () => {
    try {
      for (let i = 0; i < 10_000; i++) {
        const [data, from] = await conn.receive();
        const f = from as Deno.NetAddr;
        received.push({
          from: `${f.hostname}:${f.port}`,
          bytes: data.length,
          atMs: Math.round(performance.now() - t0),
          head: toHex(data.subarray(0, 4)),
        });
      }
    } catch {
      // closed
    }
  })();
  const to = { transport: "udp" as const, hostname: m[1], port: Number(m[2]) };
  let sent = 0;
  for (let i = 0; i < count; i++) {
    await conn.send(payload, to);
    sent++;
    if (gapMs > 0) await sleep(gapMs);
  }
  await sleep(listenMs);
  conn.close();
  await receiving;
  console.log(JSON.stringify(
    {
      sent,
      sentBytes: sent * payload.length,
      local: `${local.hostname}:${local.port}`,
      received,
    } satisfies ReplayResult,
  ));
}

// ---- misc ----

/** The stderr lines of `proc` that match `re` (for log-based checks and reports). */
export function logLines(proc: Proc, re: RegExp): string[] {
  return proc.stderrLines.filter((l) => re.test(l));
}

if (import.meta.main) {
  const [mode, ...rest] = Deno.args;
  try {
    if (mode === "udp-replay") await udpReplay(rest);
    else throw new Error("usage: _multipath_lab.ts udp-replay --to IP:PORT --hex HEX ...");
    Deno.exit(0);
  } catch (e) {
    console.error(`_multipath_lab ${mode}: ${e instanceof Error ? e.message : e}`);
    Deno.exit(1);
  }
}
