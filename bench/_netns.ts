/**
 * Network-namespace helpers for `bench/compare.ts`: run commands (always with a time limit), run
 * long-lived processes inside namespaces, build veth pairs, read a process's CPU time and peak
 * RSS, and undo everything afterwards.
 *
 * A {@link Netns} tracks what it made: every process it started is ended by PID (SIGTERM, then
 * SIGKILL), every namespace it created is deleted, every temporary directory and registered file
 * removed. {@link installSignalCleanup} makes SIGINT and SIGTERM run that cleanup for every live
 * {@link Netns} before the script exits.
 *
 * Network rule: traffic only ever goes to loopback or to addresses inside namespaces made here.
 * @module
 */

import { run as runCommand } from "../lib/lab/process.ts";

/** What a finished command produced. */
export interface CmdResult {
  readonly code: number;
  readonly success: boolean;
  readonly stdout: string;
  readonly stderr: string;
  /** True when the command ran past its time limit and was killed by PID. */
  readonly timedOut: boolean;
}

/** Options of {@link run}. */
export interface RunOptions {
  /** Kill the command (SIGKILL, by PID) after this many milliseconds. Default 30 000. */
  readonly timeoutMs?: number;
  readonly env?: Record<string, string>;
  readonly stdin?: string;
  readonly cwd?: string;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** `n` random hex digits. */
export function randomHex(n: number): string {
  const bytes = crypto.getRandomValues(new Uint8Array(Math.ceil(n / 2)));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("").slice(0, n);
}

function killPid(pid: number, signal: Deno.Signal): void {
  try {
    Deno.kill(pid, signal);
  } catch {
    // already gone
  }
}

/** Runs a command to completion and collects its output; killed by PID at the time limit. */
export function run(argv: readonly string[], options: RunOptions = {}): Promise<CmdResult> {
  return runCommand(argv, { ...options, timeoutMs: options.timeoutMs ?? 30_000 });
}

/** Like {@link run}, but throws (with the command and its output) unless it succeeded. */
export async function mustRun(
  argv: readonly string[],
  options: RunOptions = {},
): Promise<CmdResult> {
  const r = await run(argv, options);
  if (!r.success) {
    const why = r.timedOut ? "timed out" : `exit code ${r.code}`;
    const said = (r.stderr.trim() || r.stdout.trim()).slice(0, 2000);
    throw new Error(`command failed (${why}): ${argv.join(" ")}${said ? `\n${said}` : ""}`);
  }
  return r;
}

/** The argv that runs `argv` inside namespace `ns` (`ip netns exec` execs it: same PID). */
export function inNs(ns: string, argv: readonly string[]): string[] {
  return ["ip", "netns", "exec", ns, ...argv];
}

const SEARCH_PATH = ["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"];

/** Absolute path of an executable on PATH (or the usual sbin/bin folders), or null. */
export function which(command: string): string | null {
  const path = (Deno.env.get("PATH") ?? "").split(":").filter((d) => d !== "");
  for (const dir of [...path, ...SEARCH_PATH]) {
    try {
      const st = Deno.statSync(`${dir}/${command}`);
      if (st.isFile && ((st.mode ?? 0) & 0o111) !== 0) return `${dir}/${command}`;
    } catch {
      // not here
    }
  }
  return null;
}

/** Options of {@link BgProcess} and {@link Netns.spawn}. */
export interface SpawnOptions {
  readonly env?: Record<string, string>;
  readonly cwd?: string;
}

interface LineWaiter {
  readonly re: RegExp;
  readonly resolve: (line: string) => void;
}

/** A long-lived process; stdout and stderr are read continuously into {@link lines}. */
export class BgProcess {
  readonly pid: number;
  readonly name: string;
  /** Every output line so far, stdout and stderr interleaved as they arrived. */
  readonly lines: string[] = [];
  /** Resolves once the process has exited and its output is drained. */
  readonly finished: Promise<Deno.CommandStatus>;
  #exited = false;
  #waiters = new Set<LineWaiter>();

  constructor(name: string, argv: readonly string[], options: SpawnOptions = {}) {
    this.name = name;
    const child = new Deno.Command(argv[0], {
      args: argv.slice(1),
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      env: options.env,
      cwd: options.cwd,
    }).spawn();
    this.pid = child.pid;
    const pumps = [this.#pump(child.stdout), this.#pump(child.stderr)];
    this.finished = child.status.then(async (status) => {
      await Promise.all(pumps);
      this.#exited = true;
      return status;
    });
  }

  get exited(): boolean {
    return this.#exited;
  }

  async #pump(stream: ReadableStream<Uint8Array>): Promise<void> {
    let rest = "";
    try {
      for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
        rest += chunk;
        let nl: number;
        while ((nl = rest.indexOf("\n")) >= 0) {
          this.#push(rest.slice(0, nl));
          rest = rest.slice(nl + 1);
        }
      }
    } catch {
      // torn down; the exit status tells the rest
    }
    if (rest !== "") this.#push(rest);
  }

  #push(line: string): void {
    this.lines.push(line);
    for (const w of this.#waiters) {
      if (w.re.test(line)) {
        this.#waiters.delete(w);
        w.resolve(line);
      }
    }
  }

  /** The last `n` output lines, for error messages. */
  tail(n = 15): string {
    return this.lines.slice(-n).join("\n");
  }

  /** The first output line matching `re` (earlier lines count); throws on timeout or exit. */
  async waitForLine(re: RegExp, timeoutMs: number): Promise<string> {
    const seen = this.lines.find((l) => re.test(l));
    if (seen !== undefined) return seen;
    let waiter: LineWaiter | undefined;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const line = new Promise<string>((resolve) => {
      waiter = { re, resolve };
      this.#waiters.add(waiter);
    });
    const timeout = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), timeoutMs);
    });
    const exit = this.finished.then(() => "exit" as const);
    try {
      const got = await Promise.race([line, timeout, exit]);
      if (got === "timeout" || got === "exit") {
        const what = got === "timeout"
          ? `printed nothing matching ${re} within ${timeoutMs} ms`
          : `exited without printing a line matching ${re}`;
        throw new Error(`${this.name} (pid ${this.pid}) ${what}; output:\n${this.tail()}`);
      }
      return got;
    } finally {
      clearTimeout(timer);
      if (waiter) this.#waiters.delete(waiter);
    }
  }

  /** Ends the process by PID: `signal`, then SIGKILL after `graceMs`. */
  async stop(graceMs = 5_000, signal: Deno.Signal = "SIGTERM"): Promise<Deno.CommandStatus> {
    if (!this.#exited) killPid(this.pid, signal);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<"late">((resolve) => {
      timer = setTimeout(() => resolve("late"), graceMs);
    });
    const first = await Promise.race([this.finished, late]);
    clearTimeout(timer);
    if (first !== "late") return first;
    killPid(this.pid, "SIGKILL");
    return await this.finished;
  }
}

const live = new Set<Netns>();
const prefixes = new Set<string>();
let stopping = false;

/** True once SIGINT or SIGTERM arrived: no new namespace or process may be made. */
export function isStopping(): boolean {
  return stopping;
}

function refuseWhenClosed(closed: boolean, what: string): void {
  if (stopping) throw new Error(`stopping on a signal: not making ${what}`);
  if (closed) throw new Error(`already cleaned up: not making ${what}`);
}

/**
 * A set of namespaces made for one benchmark step, with everything started in them. Namespaces
 * are named `PREFIX-ROLE`; the prefix carries random hex digits, so concurrent runs never clash.
 */
export class Netns {
  readonly prefix: string;
  readonly namespaces: string[] = [];
  readonly processes: BgProcess[] = [];
  readonly #dirs: string[] = [];
  readonly #files: string[] = [];
  #cleaned: Promise<void> | undefined;

  /**
   * `sweepPrefix` (a leading part of `prefix`) marks every namespace of this script run: after a
   * signal, {@link sweep} deletes whatever namespace with that prefix is still there.
   */
  constructor(prefix: string, sweepPrefix = prefix) {
    refuseWhenClosed(false, `namespaces ${prefix}-*`);
    this.prefix = prefix;
    prefixes.add(sweepPrefix);
    live.add(this);
  }

  /** Creates namespace `PREFIX-ROLE` with its loopback up. */
  async addNamespace(role: string): Promise<string> {
    const ns = `${this.prefix}-${role}`;
    refuseWhenClosed(this.#cleaned !== undefined, `namespace ${ns}`);
    // Listed before it exists, so that a cleanup racing with this creation still deletes it.
    this.namespaces.push(ns);
    await mustRun(["ip", "netns", "add", ns]);
    await mustRun(["ip", "-n", ns, "link", "set", "lo", "up"]);
    return ns;
  }

  /** A veth pair `dev` between `nsA` and `nsB` (the same name on both sides), addressed, up. */
  async addVeth(nsA: string, nsB: string, dev: string, addrA: string, addrB: string) {
    await mustRun([
      "ip",
      "link",
      "add",
      dev,
      "netns",
      nsA,
      "type",
      "veth",
      "peer",
      "name",
      dev,
      "netns",
      nsB,
    ]);
    for (const [ns, addr] of [[nsA, addrA], [nsB, addrB]]) {
      await mustRun(["ip", "-n", ns, "addr", "add", addr, "dev", dev]);
      await mustRun(["ip", "-n", ns, "link", "set", dev, "up"]);
    }
  }

  /** Runs a command inside `ns` to completion. */
  exec(ns: string, argv: readonly string[], options: RunOptions = {}): Promise<CmdResult> {
    return run(inNs(ns, argv), options);
  }

  /** Like {@link exec} but throws unless the command succeeded. */
  mustExec(ns: string, argv: readonly string[], options: RunOptions = {}): Promise<CmdResult> {
    return mustRun(inNs(ns, argv), options);
  }

  /** Starts a long-lived process inside `ns`; cleanup ends it by PID. */
  spawn(ns: string, name: string, argv: readonly string[], options: SpawnOptions = {}) {
    refuseWhenClosed(this.#cleaned !== undefined, `process ${name}`);
    const proc = new BgProcess(name, inNs(ns, argv), options);
    this.processes.push(proc);
    return proc;
  }

  /** A fresh temporary directory (mode 0700), removed at cleanup. */
  async tempDir(): Promise<string> {
    const dir = await Deno.makeTempDir({ prefix: `${this.prefix}-` });
    await Deno.chmod(dir, 0o700);
    this.#dirs.push(dir);
    return dir;
  }

  /** A file some process may leave behind (e.g. a UAPI socket); removed at cleanup if present. */
  removeAtCleanup(path: string): void {
    this.#files.push(path);
  }

  /** Stops every process, deletes every namespace, removes temp dirs and files. Idempotent. */
  cleanup(): Promise<void> {
    this.#cleaned ??= this.#cleanup();
    return this.#cleaned;
  }

  async #cleanup(): Promise<void> {
    await Promise.all(this.processes.map((p) => p.stop(5_000).catch(() => {})));
    for (const ns of [...this.namespaces].reverse()) await deleteNamespace(ns);
    for (const path of [...this.#files, ...this.#dirs]) {
      await Deno.remove(path, { recursive: true }).catch(() => {});
    }
    live.delete(this);
  }
}

/** Deletes namespace `ns` if it exists, retrying briefly while it is busy. */
async function deleteNamespace(ns: string): Promise<void> {
  for (let i = 0; i < 6; i++) {
    if (!(await namespacesWithPrefix(ns)).includes(ns)) return;
    const r = await run(["ip", "netns", "del", ns]);
    if (r.success) return;
    if (i === 5) console.error(`[netns] could not delete namespace ${ns}: ${r.stderr.trim()}`);
    await sleep(200);
  }
}

/** Cleans up every live {@link Netns}. */
export async function cleanupAll(): Promise<void> {
  await Promise.all([...live].map((n) => n.cleanup()));
}

/**
 * The last resort after a signal: every namespace whose name starts with a prefix this script
 * registered and that is still there has its processes killed (by PID, from `ip netns pids`;
 * only this script starts processes in them) and is deleted. Returns the names it found.
 */
export async function sweep(): Promise<string[]> {
  const found: string[] = [];
  for (const prefix of prefixes) {
    for (const ns of await namespacesWithPrefix(prefix)) {
      found.push(ns);
      const pids = (await run(["ip", "netns", "pids", ns])).stdout.split(/\s+/).filter((p) => p);
      for (const pid of pids) killPid(Number(pid), "SIGKILL");
      await deleteNamespace(ns);
    }
  }
  return found;
}

let signalsInstalled = false;

/** On SIGINT or SIGTERM: clean up every live {@link Netns}, then exit 130 or 143. */
export function installSignalCleanup(): void {
  if (signalsInstalled) return;
  signalsInstalled = true;
  for (const [signal, code] of [["SIGINT", 130], ["SIGTERM", 143]] as const) {
    Deno.addSignalListener(signal, () => {
      if (stopping) return;
      stopping = true;
      console.error(`\n[netns] ${signal}: stopping processes and deleting namespaces...`);
      cleanupAll()
        .then(() => sleep(500)) // a step may still be creating something: let it fail first
        .then(cleanupAll)
        .then(sweep)
        .catch((e) => console.error(`[netns] cleanup: ${e}`))
        .finally(() => Deno.exit(code));
    });
  }
}

/** Every namespace whose name starts with `prefix` (`ip netns list`). */
export async function namespacesWithPrefix(prefix: string): Promise<string[]> {
  const r = await mustRun(["ip", "netns", "list"]);
  return r.stdout.split("\n").map((l) => l.split(" ")[0]).filter((n) => n.startsWith(prefix));
}

/** utime + stime in clock ticks from the text of /proc/PID/stat. */
export function parseProcStatTicks(text: string): number {
  // The command name (field 2) is in parentheses and may contain spaces: split after it.
  const close = text.lastIndexOf(")");
  if (close < 0) throw new Error("not a /proc/PID/stat line");
  const fields = text.slice(close + 2).trim().split(/\s+/);
  // fields[0] is field 3 (state); utime is field 14, stime field 15.
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) throw new Error("bad /proc/PID/stat");
  return utime + stime;
}

/** VmHWM (peak resident set size) in KiB from the text of /proc/PID/status. */
export function parseVmHwmKiB(text: string): number {
  const m = text.match(/^VmHWM:\s+(\d+)\s+kB/m);
  if (!m) throw new Error("no VmHWM in /proc/PID/status");
  return Number(m[1]);
}

let clockTicks: number | undefined;

/** Clock ticks per second (`getconf CLK_TCK`, 100 on Linux when it cannot be read). */
export async function clockTicksPerSecond(): Promise<number> {
  if (clockTicks === undefined) {
    const r = await run(["getconf", "CLK_TCK"], { timeoutMs: 5_000 }).catch(() => null);
    const n = Number(r?.stdout.trim());
    clockTicks = r?.success && n > 0 ? n : 100;
  }
  return clockTicks;
}

/** User + system CPU seconds a process has used so far (all its threads). */
export async function cpuSeconds(pid: number): Promise<number> {
  const ticks = parseProcStatTicks(await Deno.readTextFile(`/proc/${pid}/stat`));
  return ticks / await clockTicksPerSecond();
}

/** Peak resident set size of a process in KiB (VmHWM). */
export async function peakRssKiB(pid: number): Promise<number> {
  return parseVmHwmKiB(await Deno.readTextFile(`/proc/${pid}/status`));
}

/** The process name (`/proc/PID/comm`), or null when the process is gone. */
export async function processName(pid: number): Promise<string | null> {
  try {
    return (await Deno.readTextFile(`/proc/${pid}/comm`)).trim();
  } catch {
    return null;
  }
}

/** What {@link watchOtherNamespaces} saw. */
export interface NamespaceWatch {
  /** Stops polling; resolves with every foreign namespace name seen, sorted. */
  stop(): Promise<string[]>;
}

/**
 * Polls `ip netns list` every `intervalMs` (at most `maxPolls` times) and remembers every
 * namespace whose name does not start with `ownPrefix`: a sign that something else (another test
 * suite) is using the machine meanwhile.
 */
export function watchOtherNamespaces(
  ownPrefix: string,
  intervalMs = 1_000,
  maxPolls = 600,
): NamespaceWatch {
  const seen = new Set<string>();
  let stopped = false;
  const loop = (async () => {
    for (let i = 0; i < maxPolls && !stopped; i++) {
      const r = await run(["ip", "netns", "list"], { timeoutMs: 5_000 }).catch(() => null);
      for (const line of r?.stdout.split("\n") ?? []) {
        const name = line.split(" ")[0];
        if (name && !name.startsWith(ownPrefix)) seen.add(name);
      }
      if (!stopped) await sleep(intervalMs);
    }
  })();
  return {
    async stop() {
      stopped = true;
      await loop;
      return [...seen].sort();
    },
  };
}
