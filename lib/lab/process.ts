/**
 * Processes of the lab: run a command to completion with a time limit ({@link run}), or start one
 * in the background and follow its output line by line ({@link Proc}: wait for a line, stop by
 * PID with SIGTERM then SIGKILL).
 *
 * Set `CENTIPEDE_LAB_VERBOSE=1` to echo every command and every output line of spawned processes.
 * @module
 */

/** True when `CENTIPEDE_LAB_VERBOSE=1` (and the environment may be read). */
export const VERBOSE: boolean = (() => {
  try {
    return Deno.env.get("CENTIPEDE_LAB_VERBOSE") === "1";
  } catch {
    return false;
  }
})();

/** What a finished command produced. */
export interface ExecResult {
  /** Exit code; 128 + signal number when the process was killed by a signal. */
  readonly code: number;
  readonly success: boolean;
  readonly signal: Deno.Signal | null;
  readonly stdout: string;
  readonly stderr: string;
  /** True when the command ran past its time limit and was killed (SIGKILL). */
  readonly timedOut: boolean;
}

/** Options for {@link run}. */
export interface ExecOptions {
  /** Bytes or text written to the command's standard input (otherwise stdin is /dev/null). */
  readonly stdin?: string | Uint8Array;
  /** Kill the command (SIGKILL, by PID) after this many milliseconds. Default 60 000. */
  readonly timeoutMs?: number;
  readonly cwd?: string;
  readonly env?: Record<string, string>;
}

/** Options for {@link Proc}. */
export interface SpawnOptions {
  readonly cwd?: string;
  readonly env?: Record<string, string>;
  /** Echo every output line to stderr, tagged with name and PID (also CENTIPEDE_LAB_VERBOSE=1). */
  readonly echo?: boolean;
  /** A short name for messages; default: the program name. */
  readonly name?: string;
}

const SIGNAL_NUMBERS: Partial<Record<Deno.Signal, number>> = {
  SIGHUP: 1,
  SIGINT: 2,
  SIGQUIT: 3,
  SIGKILL: 9,
  SIGSEGV: 11,
  SIGPIPE: 13,
  SIGALRM: 14,
  SIGTERM: 15,
};

/** The shell-style exit code of a status: 128 + signal number for a signal. */
export function exitCode(status: Deno.CommandStatus): number {
  if (status.signal !== null) return 128 + (SIGNAL_NUMBERS[status.signal] ?? 0);
  return status.code;
}

/** Resolves after `ms` milliseconds, or at once (without error) when `signal` is aborted. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted || ms <= 0) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
  });
}

/** A promise that rejects after `ms` unless `promise` settles first; the timer is always cleared. */
export async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** Sends `signal` to process `pid`; false when there is no such process any more. */
export function killPid(pid: number, signal: Deno.Signal): boolean {
  try {
    Deno.kill(pid, signal);
    return true;
  } catch {
    return false;
  }
}

/** `ip netns exec NS ...argv`, or `argv` itself when `ns` is null (the caller's namespace). */
export function inNamespace(ns: string | null, argv: readonly string[]): string[] {
  return ns === null ? [...argv] : ["ip", "netns", "exec", ns, ...argv];
}

/** Runs a command and collects its output; killed by PID after `timeoutMs`. */
export async function run(argv: readonly string[], options: ExecOptions = {}): Promise<ExecResult> {
  if (argv.length === 0) throw new Error("run: empty argv");
  if (VERBOSE) console.error(`[lab] $ ${argv.join(" ")}`);
  const child = new Deno.Command(argv[0], {
    args: argv.slice(1),
    stdin: options.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
    cwd: options.cwd,
    env: options.env,
  }).spawn();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    killPid(child.pid, "SIGKILL");
  }, options.timeoutMs ?? 60_000);
  try {
    if (options.stdin !== undefined) await writeStdin(child, options.stdin);
    const out = await child.output();
    const dec = new TextDecoder();
    return {
      code: exitCode(out),
      success: out.success,
      signal: out.signal,
      stdout: dec.decode(out.stdout),
      stderr: dec.decode(out.stderr),
      timedOut,
    };
  } finally {
    clearTimeout(timer);
  }
}

async function writeStdin(child: Deno.ChildProcess, input: string | Uint8Array): Promise<void> {
  const bytes = typeof input === "string" ? new TextEncoder().encode(input) : input;
  const writer = child.stdin.getWriter();
  try {
    await writer.write(bytes);
    await writer.close();
  } catch {
    // the process closed its stdin early; its exit status tells the rest
  }
}

/** Like {@link run} but throws (with the command and its stderr) unless the exit code is 0. */
export async function mustRun(
  argv: readonly string[],
  options: ExecOptions = {},
): Promise<ExecResult> {
  const r = await run(argv, options);
  if (!r.success) throw new Error(describeFailure(argv, r));
  return r;
}

/** `command failed (exit code N): ARGV` and the command's stderr (or stdout). */
export function describeFailure(argv: readonly string[], r: ExecResult): string {
  const why = r.timedOut ? "timed out" : `exit code ${r.code}`;
  const err = r.stderr.trim() || r.stdout.trim();
  return `command failed (${why}): ${argv.join(" ")}${err ? `\n${err}` : ""}`;
}

type Waiter = {
  re: RegExp;
  stream: "stdout" | "stderr";
  resolve: (line: string) => void;
  reject: (e: Error) => void;
  timer: ReturnType<typeof setTimeout>;
};

/** A listener called with every new output line of a {@link Proc}. */
export type LineListener = (line: string, stream: "stdout" | "stderr") => void;

/**
 * A process started in the background. Its output is read continuously (so it never blocks on
 * a full pipe) and kept as lines.
 */
export class Proc {
  readonly pid: number;
  readonly name: string;
  readonly argv: readonly string[];
  /** Every stdout line so far. */
  readonly stdoutLines: string[] = [];
  /** Every stderr line so far. */
  readonly stderrLines: string[] = [];
  /** Resolves with the exit status once the process has exited and its output is drained. */
  readonly finished: Promise<Deno.CommandStatus>;
  #status: Deno.CommandStatus | null = null;
  #waiters = new Set<Waiter>();
  #listeners = new Set<LineListener>();
  #echo: boolean;

  constructor(argv: readonly string[], options: SpawnOptions = {}) {
    if (argv.length === 0) throw new Error("spawn: empty argv");
    this.argv = argv;
    this.#echo = options.echo === true || VERBOSE;
    if (VERBOSE) console.error(`[lab] & ${argv.join(" ")}`);
    const child = new Deno.Command(argv[0], {
      args: argv.slice(1),
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      cwd: options.cwd,
      env: options.env,
    }).spawn();
    this.pid = child.pid;
    this.name = options.name ?? `${argv.find((a, i) => i > 0 && !a.startsWith("-")) ?? argv[0]}`;
    const out = this.#pump(child.stdout, this.stdoutLines, "stdout");
    const err = this.#pump(child.stderr, this.stderrLines, "stderr");
    this.finished = this.#watch(child.status, out, err);
  }

  async #watch(
    exit: Promise<Deno.CommandStatus>,
    out: Promise<void>,
    err: Promise<void>,
  ): Promise<Deno.CommandStatus> {
    const status = await exit;
    await Promise.all([out, err]);
    this.#status = status;
    for (const w of this.#waiters) {
      clearTimeout(w.timer);
      w.reject(
        new Error(
          `${this.name} (pid ${this.pid}) exited with code ${exitCode(status)} before printing ` +
            `a line matching ${w.re}; stderr:\n${this.tail()}`,
        ),
      );
    }
    this.#waiters.clear();
    return status;
  }

  #push(line: string, lines: string[], kind: "stdout" | "stderr"): void {
    lines.push(line);
    if (this.#echo) {
      console.error(`[${this.name}:${this.pid}${kind === "stderr" ? "!" : ""}] ${line}`);
    }
    for (const listener of this.#listeners) listener(line, kind);
    for (const w of this.#waiters) {
      if (w.stream === kind && w.re.test(line)) {
        clearTimeout(w.timer);
        this.#waiters.delete(w);
        w.resolve(line);
      }
    }
  }

  async #pump(stream: ReadableStream<Uint8Array>, lines: string[], kind: "stdout" | "stderr") {
    let rest = "";
    try {
      for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
        rest += chunk;
        let nl: number;
        while ((nl = rest.indexOf("\n")) >= 0) {
          this.#push(rest.slice(0, nl), lines, kind);
          rest = rest.slice(nl + 1);
        }
      }
    } catch {
      // stream torn down; the exit status says what happened
    }
    if (rest !== "") this.#push(rest, lines, kind);
  }

  /** Calls `listener` with every output line printed from now on; returns a remover. */
  onLine(listener: LineListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** True once the process has exited and its output is fully read. */
  get exited(): boolean {
    return this.#status !== null;
  }

  /** The exit status once {@link exited}, else null. */
  get status(): Deno.CommandStatus | null {
    return this.#status;
  }

  /** Exit code once exited (128 + signal number for a signal), else null. */
  get code(): number | null {
    return this.#status === null ? null : exitCode(this.#status);
  }

  get stdout(): string {
    return this.stdoutLines.join("\n");
  }

  get stderr(): string {
    return this.stderrLines.join("\n");
  }

  /** The last `n` stderr lines, for error messages. */
  tail(n = 20): string {
    return this.stderrLines.slice(-n).join("\n");
  }

  /**
   * Resolves with the first line of `stream` (default stderr) matching `re`; lines already
   * printed count too. Rejects after `timeoutMs`, or when the process exits without printing one.
   */
  waitForLine(
    re: RegExp,
    timeoutMs: number,
    stream: "stdout" | "stderr" = "stderr",
  ): Promise<string> {
    const lines = stream === "stderr" ? this.stderrLines : this.stdoutLines;
    const seen = lines.find((l) => re.test(l));
    if (seen !== undefined) return Promise.resolve(seen);
    if (this.exited) {
      return Promise.reject(
        new Error(
          `${this.name} (pid ${this.pid}) already exited with code ${this.code} without a line ` +
            `matching ${re}; stderr:\n${this.tail()}`,
        ),
      );
    }
    return new Promise((resolve, reject) => {
      const w: Waiter = {
        re,
        stream,
        resolve,
        reject,
        timer: setTimeout(() => {
          this.#waiters.delete(w);
          reject(
            new Error(
              `${this.name} (pid ${this.pid}) printed no line matching ${re} within ${timeoutMs} ms; ` +
                `stderr so far:\n${this.tail()}`,
            ),
          );
        }, timeoutMs),
      };
      this.#waiters.add(w);
    });
  }

  /**
   * Runs `action` (e.g. sending a signal), then resolves with the first line of `stream`
   * (default stderr) matching `re` printed after that; lines printed before do not count.
   * Rejects after `timeoutMs`, or when the process exits first.
   */
  async lineAfter(
    action: () => void,
    re: RegExp,
    timeoutMs: number,
    stream: "stdout" | "stderr" = "stderr",
  ): Promise<string> {
    let off = () => {};
    const line = new Promise<string>((resolve) => {
      off = this.onLine((l, s) => {
        if (s === stream && re.test(l)) resolve(l);
      });
    });
    try {
      action();
      const exited = this.finished.then(() => {
        throw new Error(
          `${this.name} (pid ${this.pid}) exited before printing a line matching ${re}`,
        );
      });
      return await withTimeout(
        Promise.race([line, exited]),
        timeoutMs,
        `${this.name}: a line matching ${re}`,
      );
    } finally {
      off();
    }
  }

  /** Sends a signal to this process by PID (no-op once it has exited). */
  kill(signal: Deno.Signal = "SIGTERM"): void {
    if (!this.exited) killPid(this.pid, signal);
  }

  /** Waits for the exit status; rejects after `timeoutMs` (the process is left running). */
  wait(timeoutMs = 60_000): Promise<Deno.CommandStatus> {
    return withTimeout(this.finished, timeoutMs, `${this.name} (pid ${this.pid}) to exit`);
  }

  /**
   * Sends `signal` (default SIGTERM) by PID and resolves with the exit status. If the process has
   * not exited within `timeoutMs` it is killed with SIGKILL and this rejects, so a hanging
   * shutdown fails the caller.
   */
  async stop(timeoutMs = 10_000, signal: Deno.Signal = "SIGTERM"): Promise<Deno.CommandStatus> {
    this.kill(signal);
    try {
      return await this.wait(timeoutMs);
    } catch {
      this.kill("SIGKILL");
      await this.wait(5_000).catch(() => undefined);
      throw new Error(
        `${this.name} (pid ${this.pid}) ignored ${signal} for ${timeoutMs} ms and was killed; ` +
          `stderr:\n${this.tail()}`,
      );
    }
  }

  /** Ends the process whatever it takes (SIGTERM, then SIGKILL); never throws. */
  async terminate(graceMs = 3_000): Promise<void> {
    if (this.exited) return;
    this.kill("SIGTERM");
    try {
      await this.wait(graceMs);
      return;
    } catch {
      // escalate
    }
    this.kill("SIGKILL");
    await this.wait(5_000).catch(() => undefined);
  }
}
