/**
 * `centipede show [--json] [--watch] [NAME]`: the status of one running interface, or of every
 * running interface, read from their control sockets. Human output follows `wg show`: an
 * interface block, then one block per peer with a table of its paths.
 * @module
 */
import { CLOCK_OFFSET_LOG_MS } from "../core/constants.ts";
import { listInterfaces, request } from "../control/client.ts";
import { controlDir } from "../control/paths.ts";
import type { InterfaceStatus, PathStatus, PeerStatus } from "../control/status.ts";

/** Options of `show`. */
export interface ShowOptions {
  /** One interface; every running one when absent. */
  readonly iface?: string;
  /** Print the status object (an array of them when no interface is named). */
  readonly json: boolean;
  /** Redraw every `intervalMs` until SIGINT (or `signal`). */
  readonly watch: boolean;
  /** Control socket directory; default $CENTIPEDE_CONTROL_DIR or /run/centipede. */
  readonly dir?: string;
  /** Standard output and error (tests); default the process's. */
  readonly out?: (text: string) => void;
  readonly err?: (text: string) => void;
  /** Ends watch mode (tests); SIGINT always does. */
  readonly signal?: AbortSignal;
  /** Watch redraw interval; default 1000 ms. */
  readonly intervalMs?: number;
}

/** ANSI: cursor home, clear screen. */
export const CLEAR_SCREEN = "\x1b[H\x1b[2J";

/** Runs `show`; resolves with the exit code (0 ok, 1 error). */
export async function show(options: ShowOptions): Promise<number> {
  const out = options.out ?? writeStdout;
  const err = options.err ?? ((text: string) => console.error(text.replace(/\n$/, "")));
  if (!options.watch) {
    const { text, errors } = await render(options);
    out(text);
    for (const e of errors) err(`${e}\n`);
    return errors.length > 0 ? 1 : 0;
  }
  const stop = new AbortController();
  const onSigint = () => stop.abort();
  Deno.addSignalListener("SIGINT", onSigint);
  options.signal?.addEventListener("abort", onSigint, { once: true });
  if (options.signal?.aborted) stop.abort();
  try {
    while (!stop.signal.aborted) {
      const { text, errors } = await render(options);
      out(`${CLEAR_SCREEN}${text}${errors.map((e) => `${e}\n`).join("")}`);
      await sleep(options.intervalMs ?? 1000, stop.signal);
    }
  } finally {
    Deno.removeSignalListener("SIGINT", onSigint);
    options.signal?.removeEventListener("abort", onSigint);
  }
  return 0;
}

/** One frame of output and the error lines of interfaces that could not be read. */
async function render(options: ShowOptions): Promise<{ text: string; errors: string[] }> {
  const dir = options.dir ?? controlDir();
  const errors: string[] = [];
  let names: string[];
  if (options.iface !== undefined) {
    names = [options.iface];
  } else {
    try {
      names = await listInterfaces(dir);
    } catch (error) {
      return { text: "", errors: [`cannot list ${dir}: ${messageOf(error)}`] };
    }
  }
  const statuses: InterfaceStatus[] = [];
  for (const name of names) {
    try {
      statuses.push(await fetchStatus(name, dir));
    } catch (error) {
      errors.push(messageOf(error));
    }
  }
  if (options.json) {
    if (options.iface !== undefined) {
      return {
        text: statuses.length > 0 ? `${JSON.stringify(statuses[0], null, 2)}\n` : "",
        errors,
      };
    }
    return { text: `${JSON.stringify(statuses, null, 2)}\n`, errors };
  }
  return { text: statuses.map(formatStatus).join("\n"), errors };
}

/** `GET /status` of one interface; throws with a printable message. */
export async function fetchStatus(
  name: string,
  dir: string = controlDir(),
): Promise<InterfaceStatus> {
  const response = await request(name, "GET", "/status", dir);
  if (response.status !== 200) {
    throw new Error(`interface ${name}: ${response.status} ${response.body.trim()}`);
  }
  return JSON.parse(response.body) as InterfaceStatus;
}

/** The human-readable status of one interface, ending in a line feed. */
export function formatStatus(s: InterfaceStatus): string {
  const lines = [`interface: ${s.interface}`, `  public key: ${s.public_key}`];
  const ends = s.listen.map((l) => `${l.address}${l.backup ? " (backup)" : ""}`);
  lines.push(`  listening on: ${ends.join(", ") || "(none)"}`);
  const backends = Object.entries(s.backends).map(([k, v]) => `${k}=${v}`).join(" ");
  if (backends) lines.push(`  backends: ${backends}`);
  lines.push(`  uptime: ${longDuration(s.uptime_seconds)}`);
  const drops = Object.entries(s.drops).filter(([, n]) => n > 0).map(([r, n]) => `${r} ${n}`);
  if (drops.length > 0) lines.push(`  drops: ${drops.join(", ")}`);
  if (s.io?.syscalls_per_packet != null) {
    const joined = s.io.super_packets_out > 0
      ? `, ${(s.io.segments_joined / s.io.super_packets_out).toFixed(1)} segments per joined write`
      : "";
    const cut = s.io.super_packets_in > 0
      ? `, ${(s.io.segments_cut / s.io.super_packets_in).toFixed(1)} segments per TUN super-packet`
      : "";
    lines.push(
      `  io: ${s.io.syscalls_per_packet.toFixed(2)} system calls per packet${cut}${joined}`,
    );
  }
  for (const l of s.listen) {
    const st = l.stats;
    if (!st || st.send_errors + st.send_dropped + st.receive_errors === 0) continue;
    const parts = [
      [st.send_errors, "send errors"],
      [st.send_dropped, "sends dropped"],
      [st.receive_errors, "receive errors"],
    ].filter(([n]) => n !== 0).map(([n, what]) => `${n} ${what}`);
    const last = st.last_send_error ? ` (last: ${st.last_send_error})` : "";
    lines.push(`  socket #${l.index} ${l.address}: ${parts.join(", ")}${last}`);
  }
  for (const peer of s.peers) lines.push("", ...formatPeer(peer));
  return `${lines.join("\n")}\n`;
}

function formatPeer(p: PeerStatus): string[] {
  const handshake = p.latest_handshake_seconds_ago === null
    ? "never"
    : `${longDuration(p.latest_handshake_seconds_ago)} ago`;
  const mode = p.mode === "duplicate" && p.redundancy > 0
    ? `duplicate on the ${p.redundancy} best paths`
    : p.mode === "failover" && p.failover_path
    ? `failover, using ${p.failover_path}`
    : p.mode;
  const lines = [
    `peer: ${p.public_key}`,
    `  mode: ${mode}`,
    `  latest handshake: ${handshake}`,
    ...clockLines(p),
    `  transfer: ${bytes(p.bytes_received)} received, ${bytes(p.bytes_sent)} sent`,
    `  packets: ${p.packets_received} received, ${p.packets_sent} sent, ` +
    `${p.duplicates_dropped} duplicates dropped`,
  ];
  if (p.paths.length === 0) return [...lines, "  paths: none"];
  const header = ["PATH", "STATE", "RTT", "LOSS", "SENT", "RECEIVED", "DUP", "FIRST", "HEARD"];
  const rows = p.paths.map(pathRow);
  lines.push("  paths:", ...table([header, ...rows]).map((row) => `    ${row}`));
  if (p.paths.some((path) => !path.configured)) {
    lines.push("    * learned from the peer's traffic (not in the config file)");
  }
  return lines;
}

/**
 * The peer's clock when it is a second or more off ours, and the newest initiation answered when
 * it is more than CLOCK_OFFSET_LOG_MS ahead of our clock (initiations from a clock behind it are
 * refused until then).
 */
function clockLines(p: PeerStatus): string[] {
  const lines: string[] = [];
  const offset = p.clock_offset_seconds;
  if (offset !== null && Math.abs(offset) >= 1) {
    lines.push(
      `  clock: ${longDuration(Math.abs(offset))} ${offset > 0 ? "ahead of" : "behind"} ours`,
    );
  }
  if (p.timestamp_ahead_seconds * 1000 > CLOCK_OFFSET_LOG_MS) {
    lines.push(
      `  newest initiation answered: ${longDuration(p.timestamp_ahead_seconds)} ahead of our ` +
        "clock (older ones are refused; see centipede reset-timestamp)",
    );
  }
  return lines;
}

function pathRow(p: PathStatus): string[] {
  const rtt = p.rtt_ms === null ? "-" : `${fixed(p.rtt_ms)} ± ${fixed(p.rttvar_ms ?? 0)} ms`;
  return [
    `${p.local_address ?? `#${p.local_index}`} -> ${p.remote}${p.configured ? "" : " *"}`,
    p.backup ? `${p.state} (backup)` : p.state,
    rtt,
    p.loss === null ? "-" : percent(p.loss),
    bytes(p.bytes_sent),
    bytes(p.bytes_received),
    String(p.duplicates),
    p.first_arrival_share === null ? "-" : percent(p.first_arrival_share),
    p.last_heard_seconds_ago === null ? "never" : `${shortDuration(p.last_heard_seconds_ago)} ago`,
  ];
}

/** Left-aligned columns two spaces apart; trailing spaces trimmed. */
function table(rows: string[][]): string[] {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  return rows.map((r) => r.map((cell, c) => cell.padEnd(widths[c])).join("  ").trimEnd());
}

function percent(ratio: number): string {
  return `${(ratio * 100).toFixed(1)}%`;
}

/** RTT with precision that suits its size: 0.42, 12.5, 230. */
function fixed(ms: number): string {
  if (ms < 10) return ms.toFixed(2);
  if (ms < 100) return ms.toFixed(1);
  return ms.toFixed(0);
}

/** `wg show` style: "1 hour, 2 minutes, 3 seconds". */
export function longDuration(seconds: number): string {
  let left = Math.floor(seconds);
  const parts: string[] = [];
  for (const [unit, size] of UNITS) {
    const n = Math.floor(left / size);
    left -= n * size;
    if (n > 0) parts.push(`${n} ${unit}${n === 1 ? "" : "s"}`);
  }
  return parts.length > 0 ? parts.join(", ") : "0 seconds";
}

const UNITS: [string, number][] = [
  ["day", 86_400],
  ["hour", 3_600],
  ["minute", 60],
  ["second", 1],
];

/** Compact: "0.4s", "12s", "3m04s", "2h05m", "3d04h". */
export function shortDuration(seconds: number): string {
  if (seconds < 10) return `${seconds.toFixed(1)}s`;
  const s = Math.floor(seconds);
  if (s < 60) return `${s}s`;
  const two = (n: number) => String(n).padStart(2, "0");
  if (s < 3_600) return `${Math.floor(s / 60)}m${two(s % 60)}s`;
  if (s < 86_400) return `${Math.floor(s / 3_600)}h${two(Math.floor(s / 60) % 60)}m`;
  return `${Math.floor(s / 86_400)}d${two(Math.floor(s / 3_600) % 24)}h`;
}

/** `wg show` style: "512 B", "1.50 KiB", "3.00 MiB". */
export function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ["KiB", "MiB", "GiB", "TiB", "PiB"];
  let value = n / 1024;
  let i = 0;
  while (value >= 1024 && i < units.length - 1) {
    value /= 1024;
    i++;
  }
  return `${value.toFixed(2)} ${units[i]}`;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
  });
}

const encoder = new TextEncoder();

function writeStdout(text: string): void {
  const data = encoder.encode(text);
  for (let at = 0; at < data.length;) at += Deno.stdout.writeSync(data.subarray(at));
}
