/**
 * A tiny TCP sink and source for pushing data through the tunnel.
 *
 * ```sh
 * deno run -A lib/lab/tcp_transfer.ts sink --listen 10.77.0.2:5201 [--max-bytes N] [--timeout S] \
 *     [--progress-ms MS]
 * deno run -A lib/lab/tcp_transfer.ts source --connect 10.77.0.2:5201 --bytes N \
 *     [--seed K] [--duration S] [--rate MBIT] [--timeout S]
 * ```
 *
 * The sink accepts one connection, reads until end of stream and prints one JSON line on stdout:
 * `{"role":"sink","bytes":N,"sha256":"…","seconds":S,"mbps":M,"remote":"ip:port"}`. It prints
 * `listening on HOST:PORT` on stderr once it accepts connections, and with `--progress-ms` a line
 * `progress UNIX_MS BYTES` on stderr every MS milliseconds while data arrives (see
 * {@link parseProgress}). The source prints `connected to HOST:PORT` on stderr once connected.
 *
 * The source sends `--bytes` bytes of deterministic pseudo-random data (a function of `--seed`
 * only; see {@link PatternStream}) or fewer if `--duration` seconds pass first, half-closes, waits
 * for the sink to close, and prints `{"role":"source","bytes":N,"sha256":"…",...}`. `--rate` paces
 * the writes to at most that many Mbit/s (a steady stream instead of a saturating one).
 *
 * Both are bounded: `--timeout` (default 120 s) ends the process with exit code 3 and a JSON line
 * with `"error"`; the sink refuses more than `--max-bytes` (default 1 GiB).
 * @module
 */

import { createHash } from "node:crypto";

/** Result line printed by either side. */
export interface TransferResult {
  readonly role: "sink" | "source";
  readonly bytes: number;
  readonly sha256: string;
  readonly seconds: number;
  /** Payload megabits (10^6) per second. */
  readonly mbps: number;
  readonly remote?: string;
  readonly error?: string;
}

/**
 * The deterministic byte stream: a 32-bit xorshift generator seeded from `seed` (never 0),
 * emitting each state word little-endian. The stream depends on the seed only, not on how it is
 * cut into chunks (chunk lengths need not be multiples of 4).
 */
export class PatternStream {
  #state: number;
  #spare = new Uint8Array(4);
  #spareLen = 0;

  constructor(seed: number) {
    this.#state = (Math.imul(seed >>> 0 ^ 0x9e3779b9, 0x85ebca6b) >>> 0) || 0x12345678;
  }

  #nextWord(): number {
    let x = this.#state;
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    this.#state = x;
    return x;
  }

  /** Fills `out` with the next `out.length` bytes of the stream. */
  fill(out: Uint8Array): Uint8Array {
    let i = 0;
    while (i < out.length && this.#spareLen > 0) {
      out[i++] = this.#spare[4 - this.#spareLen--];
    }
    while (i + 4 <= out.length) {
      const w = this.#nextWord();
      out[i] = w & 0xff;
      out[i + 1] = (w >>> 8) & 0xff;
      out[i + 2] = (w >>> 16) & 0xff;
      out[i + 3] = w >>> 24;
      i += 4;
    }
    if (i < out.length) {
      const w = this.#nextWord();
      this.#spare.set([w & 0xff, (w >>> 8) & 0xff, (w >>> 16) & 0xff, w >>> 24]);
      this.#spareLen = 4;
      while (i < out.length) out[i++] = this.#spare[4 - this.#spareLen--];
    }
    return out;
  }
}

/** The sha256 (hex) of the first `bytes` bytes of the pattern for `seed`, computed locally. */
export function expectedSha256(seed: number, bytes: number): string {
  const hash = createHash("sha256");
  const stream = new PatternStream(seed);
  const chunk = new Uint8Array(64 * 1024);
  for (let left = bytes; left > 0;) {
    const n = Math.min(left, chunk.length);
    hash.update(stream.fill(chunk.subarray(0, n)));
    left -= n;
  }
  return hash.digest("hex");
}

function parseHostPort(text: string): { hostname: string; port: number } {
  const m = text.match(/^\[?([^\]]+?)\]?:(\d+)$/);
  if (!m) throw new Error(`expected HOST:PORT, got ${JSON.stringify(text)}`);
  const port = Number(m[2]);
  if (!(port > 0 && port < 65536)) throw new Error(`bad port in ${text}`);
  return { hostname: m[1], port };
}

function parseArgs(args: string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (let i = 0; i < args.length; i += 2) {
    const key = args[i];
    const value = args[i + 1];
    if (!key.startsWith("--") || value === undefined) {
      throw new Error(`bad arguments near ${JSON.stringify(key)}`);
    }
    out.set(key.slice(2), value);
  }
  return out;
}

function numberArg(opts: Map<string, string>, key: string, fallback?: number): number {
  const text = opts.get(key);
  if (text === undefined) {
    if (fallback === undefined) throw new Error(`--${key} is required`);
    return fallback;
  }
  const n = Number(text);
  if (!Number.isFinite(n) || n < 0) throw new Error(`--${key}: bad number ${text}`);
  return n;
}

function mbps(bytes: number, seconds: number): number {
  return seconds > 0 ? Math.round((bytes * 8) / seconds / 1e4) / 100 : 0;
}

function report(result: TransferResult): void {
  console.log(JSON.stringify(result));
}

/** Ends the process after `seconds` with a JSON error line and exit code 3. */
function deadline(seconds: number, partial: () => TransferResult): void {
  const timer = setTimeout(() => {
    report({ ...partial(), error: `time limit of ${seconds} s reached` });
    Deno.exit(3);
  }, seconds * 1000);
  Deno.unrefTimer(timer);
}

/** One `progress UNIX_MS BYTES` line of a sink: bytes received so far at wall-clock time `at`. */
export interface TransferProgress {
  /** Unix time in ms. */
  readonly at: number;
  readonly bytes: number;
}

/** Parses a sink's `progress UNIX_MS BYTES` line; null for any other line. */
export function parseProgress(line: string): TransferProgress | null {
  const m = line.match(/^progress (\d+) (\d+)$/);
  return m ? { at: Number(m[1]), bytes: Number(m[2]) } : null;
}

async function sink(opts: Map<string, string>): Promise<void> {
  const addr = parseHostPort(opts.get("listen") ?? "");
  const maxBytes = numberArg(opts, "max-bytes", 1 << 30);
  const timeout = numberArg(opts, "timeout", 120);
  const progressMs = numberArg(opts, "progress-ms", 0);
  const hash = createHash("sha256");
  let bytes = 0;
  let start = 0;
  let remote = "";
  const t0 = performance.now();
  const elapsed = () => (performance.now() - (start || t0)) / 1000;
  deadline(timeout, () => ({
    role: "sink",
    bytes,
    sha256: "",
    seconds: elapsed(),
    mbps: mbps(bytes, elapsed()),
    remote,
  }));
  using listener = Deno.listen({ hostname: addr.hostname, port: addr.port, transport: "tcp" });
  console.error(`listening on ${addr.hostname}:${addr.port}`);
  const conn = await listener.accept();
  start = performance.now();
  const ra = conn.remoteAddr as Deno.NetAddr;
  remote = `${ra.hostname}:${ra.port}`;
  const buf = new Uint8Array(256 * 1024);
  const progress = progressMs > 0
    ? setInterval(() => console.error(`progress ${Date.now()} ${bytes}`), progressMs)
    : undefined;
  try {
    while (true) {
      const n = await conn.read(buf);
      if (n === null) break;
      bytes += n;
      if (bytes > maxBytes) throw new Error(`received more than --max-bytes ${maxBytes}`);
      hash.update(buf.subarray(0, n));
    }
  } finally {
    clearInterval(progress);
    conn.close();
  }
  if (progressMs > 0) console.error(`progress ${Date.now()} ${bytes}`);
  const seconds = (performance.now() - start) / 1000;
  report({
    role: "sink",
    bytes,
    sha256: hash.digest("hex"),
    seconds: Math.round(seconds * 1000) / 1000,
    mbps: mbps(bytes, seconds),
    remote,
  });
}

async function connectWithRetry(
  addr: { hostname: string; port: number },
  until: number,
): Promise<Deno.TcpConn> {
  while (true) {
    try {
      return await Deno.connect({ hostname: addr.hostname, port: addr.port, transport: "tcp" });
    } catch (e) {
      // Refused: the sink is not listening yet. Anything else (timeouts included) is final.
      if (!(e instanceof Deno.errors.ConnectionRefused) || performance.now() > until) throw e;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

async function source(opts: Map<string, string>): Promise<void> {
  const addr = parseHostPort(opts.get("connect") ?? "");
  const total = numberArg(opts, "bytes");
  const seed = numberArg(opts, "seed", 1);
  const duration = numberArg(opts, "duration", Infinity);
  const rateMbps = numberArg(opts, "rate", Infinity);
  const timeout = numberArg(opts, "timeout", 120);
  const hash = createHash("sha256");
  let bytes = 0;
  const t0 = performance.now();
  const elapsed = () => (performance.now() - t0) / 1000;
  deadline(timeout, () => ({
    role: "source",
    bytes,
    sha256: "",
    seconds: elapsed(),
    mbps: mbps(bytes, elapsed()),
  }));
  const conn = await connectWithRetry(addr, t0 + Math.min(timeout, 10) * 1000);
  console.error(`connected to ${addr.hostname}:${addr.port}`);
  const start = performance.now();
  const stream = new PatternStream(seed);
  // Paced streams write small chunks so that the pacing is smooth.
  const chunk = new Uint8Array(Number.isFinite(rateMbps) ? 8 * 1024 : 64 * 1024);
  try {
    while (bytes < total && (performance.now() - start) / 1000 < duration) {
      if (Number.isFinite(rateMbps) && rateMbps > 0) {
        const dueMs = (bytes * 8) / (rateMbps * 1000);
        const aheadMs = dueMs - (performance.now() - start);
        if (aheadMs > 1) await new Promise((r) => setTimeout(r, aheadMs));
      }
      const part = stream.fill(chunk.subarray(0, Math.min(chunk.length, total - bytes)));
      hash.update(part);
      for (let off = 0; off < part.length;) off += await conn.write(part.subarray(off));
      bytes += part.length;
    }
    await conn.closeWrite();
    // Wait until the sink has read everything and closed its side.
    const scratch = new Uint8Array(1024);
    while ((await conn.read(scratch)) !== null) {
      // the sink sends nothing; ignore stray bytes
    }
  } finally {
    conn.close();
  }
  const seconds = (performance.now() - start) / 1000;
  report({
    role: "source",
    bytes,
    sha256: hash.digest("hex"),
    seconds: Math.round(seconds * 1000) / 1000,
    mbps: mbps(bytes, seconds),
    remote: `${addr.hostname}:${addr.port}`,
  });
}

/** The argv that runs this script: `deno run -A tcp_transfer.ts ROLE --key value ...`. */
export function transferArgv(
  role: "sink" | "source",
  options: Record<string, string | number>,
): string[] {
  const script = decodeURIComponent(new URL(import.meta.url).pathname);
  const args = Object.entries(options).flatMap(([k, v]) => [`--${k}`, String(v)]);
  return [Deno.execPath(), "run", "-A", script, role, ...args];
}

/** Parses the JSON result line of a sink or source from its stdout. */
export function parseTransfer(stdout: string): TransferResult {
  const line = stdout.split("\n").reverse().find((l) => l.trim().startsWith("{"));
  if (line === undefined) throw new Error(`no JSON result line in output:\n${stdout}`);
  return JSON.parse(line) as TransferResult;
}

/** Runs the sink or the source as the command line `[mode, ...args]` says, then exits. */
export async function transferMain(args: readonly string[]): Promise<never> {
  const [mode, ...rest] = args;
  try {
    const opts = parseArgs(rest);
    if (mode === "sink") await sink(opts);
    else if (mode === "source") await source(opts);
    else throw new Error("usage: tcp_transfer.ts sink|source [--options]");
    Deno.exit(0);
  } catch (e) {
    console.error(`tcp_transfer ${mode}: ${e instanceof Error ? e.message : e}`);
    Deno.exit(1);
  }
}

if (import.meta.main) await transferMain(Deno.args);
