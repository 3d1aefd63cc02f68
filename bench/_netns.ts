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

import {
  addVethPair,
  createNamespace,
  deleteNamespace as deleteLabNamespace,
} from "../lib/lab/netns.ts";
import {
  describeFailure,
  type ExecResult,
  inNamespace,
  killPid,
  Proc,
  run as runCommand,
  sleep,
  type SpawnOptions,
} from "../lib/lab/process.ts";

export { which } from "../lib/lab/tools.ts";
export { sleep };
export type { Proc, SpawnOptions };

/** What a finished command produced. */
export type CmdResult = ExecResult;

/** Options of {@link run}. */
export interface RunOptions {
  /** Kill the command (SIGKILL, by PID) after this many milliseconds. Default 30 000. */
  readonly timeoutMs?: number;
  readonly env?: Record<string, string>;
  readonly stdin?: string;
  readonly cwd?: string;
}

/** `n` random hex digits. */
export function randomHex(n: number): string {
  const bytes = crypto.getRandomValues(new Uint8Array(Math.ceil(n / 2)));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("").slice(0, n);
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
  if (!r.success) throw new Error(describeFailure(argv, r));
  return r;
}

/** The argv that runs `argv` inside namespace `ns` (`ip netns exec` execs it: same PID). */
export function inNs(ns: string, argv: readonly string[]): string[] {
  return inNamespace(ns, argv);
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
  readonly processes: Proc[] = [];
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
    await createNamespace(ns);
    return ns;
  }

  /** A veth pair `dev` between `nsA` and `nsB` (the same name on both sides), addressed, up. */
  async addVeth(nsA: string, nsB: string, dev: string, addrA: string, addrB: string) {
    await addVethPair(nsA, nsB, dev, dev, { addrA, addrB });
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
    const proc = new Proc(inNs(ns, argv), { ...options, name });
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
    await Promise.all(this.processes.map((p) => p.terminate(5_000)));
    for (const ns of [...this.namespaces].reverse()) await deleteNamespace(ns);
    for (const path of [...this.#files, ...this.#dirs]) {
      await Deno.remove(path, { recursive: true }).catch(() => {});
    }
    live.delete(this);
  }
}

/** Deletes namespace `ns` if it exists; a failure is reported, not thrown (cleanup goes on). */
async function deleteNamespace(ns: string): Promise<void> {
  const error = await deleteLabNamespace(ns);
  if (error) console.error(`[netns] ${error}`);
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
