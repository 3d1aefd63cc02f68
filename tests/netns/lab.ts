/**
 * A small real-kernel test lab: network namespaces, veth paths, link up/down, `tbf` rate limits,
 * random loss with iptables, a NAT router, and processes running inside namespaces.
 *
 * Everything a {@link Lab} makes is tracked and undone by its cleanup: every process it started is
 * ended by PID (SIGTERM, then SIGKILL), every namespace it created is deleted and every temporary
 * directory removed, also when the test using it fails:
 *
 * ```ts
 * await using lab = await Lab.create();
 * const a = await lab.addNamespace("a");
 * const b = await lab.addNamespace("b");
 * await lab.addVeth(a, b, { devA: "p1", devB: "p1", addrA: "10.201.1.1/24", addrB: "10.201.1.2/24" });
 * const r = await lab.exec(a, ["ping", "-c", "1", "10.201.1.2"]);
 * ```
 *
 * Namespaces are named `cp` + 4 random hex digits + a role (`cp3fa9a`), so parallel runs never
 * collide, and because every namespace has its own interfaces, addresses and routing table, two
 * labs can use the same subnets and interface names at the same time.
 *
 * The last part drives the VPN under test: {@link genKeyPair} (the real `genkey`/`pubkey`),
 * {@link writeConfig}, {@link startPeer} (`main.ts up`, waits for `interface NAME is up`) and
 * {@link setupTwoPathTunnel}, the standard two-namespace, two-path topology with both peers up.
 *
 * Needs root (uid 0), `ip` (iproute2) and, for some helpers, `tc`, `iptables` and `conntrack`.
 * Missing Debian packages are installed on demand with apt-get ({@link ensureCommand}).
 *
 * Network rule: a lab only ever sends traffic to loopback or to namespaces it created.
 * Set `CENTIPEDE_LAB_VERBOSE=1` to echo every command and every output line of spawned processes.
 * @module
 */

/** Absolute path of the repository root (with a trailing slash). */
export const REPO_ROOT: string = decodeURIComponent(new URL("../../", import.meta.url).pathname);

const VERBOSE = (() => {
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

/** Options for {@link run} and {@link Lab.exec}. */
export interface ExecOptions {
  /** Bytes or text written to the command's standard input (otherwise stdin is /dev/null). */
  readonly stdin?: string | Uint8Array;
  /** Kill the command (SIGKILL, by PID) after this many milliseconds. Default 60 000. */
  readonly timeoutMs?: number;
  readonly cwd?: string;
  readonly env?: Record<string, string>;
}

/** Options for {@link Lab.spawn}. */
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

function exitCode(status: Deno.CommandStatus): number {
  if (status.signal !== null) return 128 + (SIGNAL_NUMBERS[status.signal] ?? 0);
  return status.code;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
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

/** Runs a command on the host (in the test's own namespace) and collects its output. */
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
    try {
      Deno.kill(child.pid, "SIGKILL");
    } catch {
      // already gone
    }
  }, options.timeoutMs ?? 60_000);
  try {
    if (options.stdin !== undefined) {
      const bytes = typeof options.stdin === "string"
        ? new TextEncoder().encode(options.stdin)
        : options.stdin;
      const writer = child.stdin.getWriter();
      try {
        await writer.write(bytes);
        await writer.close();
      } catch {
        // the process closed its stdin early; its exit status tells the rest
      }
    }
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

/** Like {@link run} but throws (with the command and its stderr) unless the exit code is 0. */
export async function mustRun(
  argv: readonly string[],
  options: ExecOptions = {},
): Promise<ExecResult> {
  const r = await run(argv, options);
  if (!r.success) throw new Error(describeFailure(argv, r));
  return r;
}

function describeFailure(argv: readonly string[], r: ExecResult): string {
  const why = r.timedOut ? "timed out" : `exit code ${r.code}`;
  const err = r.stderr.trim() || r.stdout.trim();
  return `command failed (${why}): ${argv.join(" ")}${err ? `\n${err}` : ""}`;
}

/**
 * Throws a loud error unless running as root. Tests call this first so that a run without root
 * fails instead of silently passing or skipping.
 */
export function requireRoot(what = "tests/netns"): void {
  if (Deno.uid() !== 0) {
    throw new Error(
      `${what} needs root (uid 0) to create network namespaces, veth pairs and TUN devices; ` +
        `it is running as uid ${Deno.uid()}. Run it as root, e.g. ` +
        "`sudo deno test -A tests/netns/`.",
    );
  }
}

const SEARCH_PATH = ["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"];

/** Absolute path of an executable found on PATH (or the usual sbin/bin folders), or null. */
export function which(command: string): string | null {
  const path = (Deno.env.get("PATH") ?? "").split(":").filter((d) => d !== "");
  for (const dir of [...path, ...SEARCH_PATH]) {
    const file = `${dir}/${command}`;
    try {
      const st = Deno.statSync(file);
      if (st.isFile && st.mode !== null && (st.mode & 0o111) !== 0) return file;
    } catch {
      // not here
    }
  }
  return null;
}

let aptQueue: Promise<unknown> = Promise.resolve();

/**
 * Makes sure `command` exists, installing Debian package `pkg` with apt-get when it does not
 * (a fresh CI machine runs as root). Installs are serialized within this process and wait for
 * the dpkg lock of other processes.
 */
export function ensureCommand(command: string, pkg: string): Promise<string> {
  const found = which(command);
  if (found !== null) return Promise.resolve(found);
  const job = aptQueue.then(async () => {
    const again = which(command);
    if (again !== null) return again;
    requireRoot(`installing ${pkg} (for ${command})`);
    console.error(`[lab] ${command} is missing; installing Debian package ${pkg} with apt-get`);
    const env = { DEBIAN_FRONTEND: "noninteractive" };
    const lock = ["-o", "DPkg::Lock::Timeout=300"];
    await mustRun(["apt-get", ...lock, "update"], { env, timeoutMs: 600_000 });
    await mustRun(["apt-get", ...lock, "install", "-y", "--no-install-recommends", pkg], {
      env,
      timeoutMs: 600_000,
    });
    const installed = which(command);
    if (installed === null) throw new Error(`installed ${pkg} but ${command} is still missing`);
    return installed;
  });
  aptQueue = job.catch(() => undefined);
  return job;
}

type Waiter = {
  re: RegExp;
  stream: "stdout" | "stderr";
  resolve: (line: string) => void;
  reject: (e: Error) => void;
  timer: ReturnType<typeof setTimeout>;
};

/**
 * A process started by {@link Lab.spawn}. Its output is read continuously (so it never blocks on
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
  #child: Deno.ChildProcess;
  #status: Deno.CommandStatus | null = null;
  #waiters = new Set<Waiter>();
  #echo: boolean;

  constructor(argv: readonly string[], options: SpawnOptions = {}) {
    if (argv.length === 0) throw new Error("spawn: empty argv");
    this.argv = argv;
    this.#echo = options.echo === true || VERBOSE;
    if (VERBOSE) console.error(`[lab] & ${argv.join(" ")}`);
    this.#child = new Deno.Command(argv[0], {
      args: argv.slice(1),
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      cwd: options.cwd,
      env: options.env,
    }).spawn();
    this.pid = this.#child.pid;
    this.name = options.name ?? `${argv.find((a, i) => i > 0 && !a.startsWith("-")) ?? argv[0]}`;
    const out = this.#pump(this.#child.stdout, this.stdoutLines, "stdout");
    const err = this.#pump(this.#child.stderr, this.stderrLines, "stderr");
    this.finished = this.#watch(this.#child.status, out, err);
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

  async #pump(stream: ReadableStream<Uint8Array>, lines: string[], kind: "stdout" | "stderr") {
    let rest = "";
    const push = (line: string) => {
      lines.push(line);
      if (this.#echo) {
        console.error(`[${this.name}:${this.pid}${kind === "stderr" ? "!" : ""}] ${line}`);
      }
      for (const w of this.#waiters) {
        if (w.stream === kind && w.re.test(line)) {
          clearTimeout(w.timer);
          this.#waiters.delete(w);
          w.resolve(line);
        }
      }
    };
    try {
      for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
        rest += chunk;
        let nl: number;
        while ((nl = rest.indexOf("\n")) >= 0) {
          push(rest.slice(0, nl));
          rest = rest.slice(nl + 1);
        }
      }
    } catch {
      // stream torn down; the exit status says what happened
    }
    if (rest !== "") push(rest);
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

  /** Sends a signal to this process by PID (no-op once it has exited). */
  kill(signal: Deno.Signal = "SIGTERM"): void {
    if (this.exited) return;
    try {
      Deno.kill(this.pid, signal);
    } catch {
      // it exited in between
    }
  }

  /** Waits for the exit status; rejects after `timeoutMs` (the process is left running). */
  wait(timeoutMs = 60_000): Promise<Deno.CommandStatus> {
    return withTimeout(this.finished, timeoutMs, `${this.name} (pid ${this.pid}) to exit`);
  }

  /**
   * Sends `signal` (default SIGTERM) by PID and resolves with the exit status. If the process has
   * not exited within `timeoutMs` it is killed with SIGKILL and this rejects, so a hanging
   * shutdown fails the test.
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

/** One veth pair between two namespaces (a "path"). */
export interface Veth {
  readonly nsA: string;
  readonly devA: string;
  readonly nsB: string;
  readonly devB: string;
  /** `address/prefix` on the A side, if one was assigned. */
  readonly addrA?: string;
  readonly addrB?: string;
}

/** Options for {@link Lab.addVeth}. */
export interface VethOptions {
  /** Interface name in namespace A (at most 15 characters); default `vethN`. */
  readonly devA?: string;
  /** Interface name in namespace B; default `vethN`. */
  readonly devB?: string;
  /** `address/prefix` for the A side, e.g. `10.201.1.1/24`. */
  readonly addrA?: string;
  readonly addrB?: string;
  readonly mtu?: number;
}

/** Options for {@link Lab.rateLimit}; the defaults are the lab's standard slow path. */
export interface RateLimitOptions {
  /** Default `20mbit`. */
  readonly rate?: string;
  /** Default `32kbit`. */
  readonly burst?: string;
  /** Default `400ms`. */
  readonly latency?: string;
}

/** Where {@link Lab.setLoss} drops packets, seen from the namespace the rule is in. */
export type LossDirection = "egress" | "ingress" | "both";

/** Options for {@link Lab.addNatRouter}. */
export interface NatRouterOptions {
  /** Role of the router namespace; default `nat`. */
  readonly role?: string;
  /** The client (private) side namespace; it gets a default route via the router. */
  readonly clientNs: string;
  /** The server (public) side namespace. */
  readonly serverNs: string;
  /** Client's address on the inside link; default `192.168.77.2/24`. */
  readonly clientAddr?: string;
  /** Router's inside address; default `192.168.77.1/24`. */
  readonly routerInsideAddr?: string;
  /** Router's outside address (what the server sees); default `10.203.0.1/24`. */
  readonly routerOutsideAddr?: string;
  /** Server's address on the outside link; default `10.203.0.2/24`. */
  readonly serverAddr?: string;
  /** Interface names; defaults `nat-in` (client and router) and `nat-out` (router and server). */
  readonly insideDev?: string;
  readonly outsideDev?: string;
}

/** A NAT router namespace made by {@link Lab.addNatRouter}. */
export interface NatRouter {
  readonly ns: string;
  readonly inside: Veth;
  readonly outside: Veth;
  /** Client address without prefix, e.g. `192.168.77.2`. */
  readonly clientIp: string;
  /** The address the server sees as source of NATed traffic, e.g. `10.203.0.1`. */
  readonly publicIp: string;
  /** Server address without prefix, e.g. `10.203.0.2`. */
  readonly serverIp: string;
}

/** Options for {@link Lab.create}. */
export interface LabOptions {
  /** Namespace name prefix before the random part; default `cp`. */
  readonly prefix?: string;
  /**
   * On SIGINT/SIGTERM, clean up every live lab of this process and exit (130/143). Default true.
   * The listeners are removed when the last live lab is cleaned up.
   */
  readonly cleanupOnSignal?: boolean;
}

/** Removes the address prefix: `10.0.0.1/24` → `10.0.0.1`. */
export function ipOf(addr: string): string {
  const slash = addr.indexOf("/");
  return slash < 0 ? addr : addr.slice(0, slash);
}

function randomHex(digits: number): string {
  const bytes = crypto.getRandomValues(new Uint8Array(Math.ceil(digits / 2)));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("").slice(0, digits);
}

const IFNAME = /^[A-Za-z0-9_.-]{1,15}$/;
const ROLE = /^[a-z0-9]{1,12}$/;

// ---- process-wide signal handling: clean up every live lab on SIGINT/SIGTERM ----

const liveLabs = new Set<Lab>();
let signalHandler: (() => void) | null = null;
const HANDLED_SIGNALS: Deno.Signal[] = ["SIGINT", "SIGTERM"];

function installSignalHandlers(): void {
  if (signalHandler !== null || Deno.build.os === "windows") return;
  let caught = 0;
  const make = (sig: Deno.Signal) => () => {
    caught++;
    if (caught > 1) Deno.exit(sig === "SIGINT" ? 130 : 143);
    console.error(`\n[lab] ${sig}: cleaning up ${liveLabs.size} lab(s) before exiting`);
    const all = [...liveLabs].map((lab) => lab.cleanup().catch((e) => console.error(e)));
    Promise.all(all).finally(() => Deno.exit(sig === "SIGINT" ? 130 : 143));
  };
  const handlers = HANDLED_SIGNALS.map((sig) => [sig, make(sig)] as const);
  for (const [sig, h] of handlers) Deno.addSignalListener(sig, h);
  signalHandler = () => {
    for (const [sig, h] of handlers) Deno.removeSignalListener(sig, h);
  };
}

function removeSignalHandlersIfIdle(): void {
  if (liveLabs.size === 0 && signalHandler !== null) {
    signalHandler();
    signalHandler = null;
  }
}

/**
 * A set of namespaces, links and processes that is torn down as a whole. Use with `await using`
 * so cleanup also runs when the test fails.
 */
export class Lab implements AsyncDisposable {
  /** The unique part of every namespace name, e.g. `cp3fa9`. */
  readonly id: string;
  #namespaces: string[] = [];
  #procs: Proc[] = [];
  #tempDirs: string[] = [];
  #lossRules: { ns: string; dev: string; spec: string[] }[] = [];
  #vethCount = 0;
  #cleanup: Promise<void> | null = null;

  private constructor(id: string) {
    this.id = id;
  }

  /** Creates an empty lab with a fresh random id. Throws unless root and `ip` exists. */
  static async create(options: LabOptions = {}): Promise<Lab> {
    requireRoot("the network-namespace test lab");
    await ensureCommand("ip", "iproute2");
    const prefix = options.prefix ?? "cp";
    if (!/^[a-z]{1,4}$/.test(prefix)) throw new Error(`bad lab prefix ${prefix}`);
    const existing = await listNamespaces();
    let id = "";
    for (let i = 0; i < 100; i++) {
      const candidate = `${prefix}${randomHex(4)}`;
      if (!existing.some((n) => n.startsWith(candidate))) {
        id = candidate;
        break;
      }
    }
    if (id === "") throw new Error("could not find a free lab id");
    const lab = new Lab(id);
    liveLabs.add(lab);
    if (options.cleanupOnSignal ?? true) installSignalHandlers();
    return lab;
  }

  /** Names of the namespaces this lab created (and has not deleted yet). */
  get namespaces(): readonly string[] {
    return [...this.#namespaces];
  }

  /** Every process this lab started. */
  get processes(): readonly Proc[] {
    return [...this.#procs];
  }

  /** The namespace name for a role (whether or not it was created): `${id}${role}`. */
  nsName(role: string): string {
    return `${this.id}${role}`;
  }

  /** Creates namespace `${id}${role}` with `lo` up and returns its name. */
  async addNamespace(role: string): Promise<string> {
    if (!ROLE.test(role)) throw new Error(`bad namespace role ${JSON.stringify(role)}`);
    this.#assertOpen();
    const ns = this.nsName(role);
    await mustRun(["ip", "netns", "add", ns]);
    this.#namespaces.push(ns);
    await mustRun(["ip", "-n", ns, "link", "set", "lo", "up"]);
    return ns;
  }

  /**
   * Creates a veth pair with one end in each namespace, assigns the given addresses and brings
   * both ends up. The devices are created directly inside the namespaces, so names only need to
   * be unique within each namespace.
   */
  async addVeth(nsA: string, nsB: string, options: VethOptions = {}): Promise<Veth> {
    this.#assertOpen();
    this.#assertOwn(nsA);
    this.#assertOwn(nsB);
    const n = this.#vethCount++;
    const devA = options.devA ?? `veth${n}`;
    const devB = options.devB ?? `veth${n}`;
    for (const d of [devA, devB]) {
      if (!IFNAME.test(d)) throw new Error(`bad interface name ${JSON.stringify(d)}`);
    }
    if (nsA === nsB && devA === devB) {
      throw new Error("both ends of a veth in one namespace need two names");
    }
    // Names are checked above and namespace names are our own: splitting on spaces is safe.
    await mustRun(
      `ip link add ${devA} netns ${nsA} type veth peer name ${devB} netns ${nsB}`.split(" "),
    );
    for (
      const [ns, dev, addr] of [[nsA, devA, options.addrA], [nsB, devB, options.addrB]] as const
    ) {
      if (options.mtu !== undefined) {
        await mustRun(["ip", "-n", ns, "link", "set", dev, "mtu", String(options.mtu)]);
      }
      if (addr !== undefined) await mustRun(["ip", "-n", ns, "addr", "add", addr, "dev", dev]);
      await mustRun(["ip", "-n", ns, "link", "set", dev, "up"]);
    }
    return { nsA, devA, nsB, devB, addrA: options.addrA, addrB: options.addrB };
  }

  /** Sets a link administratively up or down (`ip link set DEV up|down`). */
  async setLink(ns: string, dev: string, up: boolean): Promise<void> {
    this.#assertOwn(ns);
    await mustRun(["ip", "-n", ns, "link", "set", dev, up ? "up" : "down"]);
  }

  linkDown(ns: string, dev: string): Promise<void> {
    return this.setLink(ns, dev, false);
  }

  linkUp(ns: string, dev: string): Promise<void> {
    return this.setLink(ns, dev, true);
  }

  /** True when `dev` exists in `ns`. */
  async linkExists(ns: string, dev: string): Promise<boolean> {
    return (await run(["ip", "-n", ns, "link", "show", dev])).success;
  }

  /** Adds a route in `ns`: `ip route add PREFIX via GW` (or `dev DEV`). */
  async addRoute(
    ns: string,
    prefix: string,
    via: { gateway?: string; dev?: string },
  ): Promise<void> {
    this.#assertOwn(ns);
    const argv = ["ip", "-n", ns, "route", "add", prefix];
    if (via.gateway !== undefined) argv.push("via", via.gateway);
    if (via.dev !== undefined) argv.push("dev", via.dev);
    await mustRun(argv);
  }

  /** Rate-limits egress of `dev` with a `tbf` root qdisc (replacing any root qdisc). */
  async rateLimit(ns: string, dev: string, options: RateLimitOptions = {}): Promise<void> {
    this.#assertOwn(ns);
    await ensureCommand("tc", "iproute2");
    const rate = options.rate ?? "20mbit";
    const burst = options.burst ?? "32kbit";
    const latency = options.latency ?? "400ms";
    for (const v of [dev, rate, burst, latency]) {
      if (!/^[\w.-]+$/.test(v)) throw new Error(`bad tbf parameter ${JSON.stringify(v)}`);
    }
    await this.mustExec(
      ns,
      `tc qdisc replace dev ${dev} root tbf rate ${rate} burst ${burst} latency ${latency}`.split(
        " ",
      ),
    );
  }

  /** Removes the root qdisc of `dev` (back to the default); no error when there is none. */
  async clearRateLimit(ns: string, dev: string): Promise<void> {
    this.#assertOwn(ns);
    const r = await this.exec(ns, ["tc", "qdisc", "del", "dev", dev, "root"]);
    if (!r.success && !/No such file|Cannot delete qdisc with handle of zero/i.test(r.stderr)) {
      throw new Error(describeFailure(["tc", "qdisc", "del", "dev", dev, "root"], r));
    }
  }

  /** `tc qdisc show dev DEV` output. */
  async qdisc(ns: string, dev: string): Promise<string> {
    return (await this.mustExec(ns, ["tc", "qdisc", "show", "dev", dev])).stdout;
  }

  /**
   * Drops packets on `dev` at random with probability `p` (0..1), using
   * `iptables -m statistic --mode random --probability P -j DROP`. Egress rules match locally
   * sent (OUTPUT) and forwarded (FORWARD) packets leaving `dev`; ingress rules match packets
   * arriving on it (INPUT, FORWARD). Replaces earlier loss rules of the same device.
   */
  async setLoss(
    ns: string,
    dev: string,
    p: number,
    direction: LossDirection = "egress",
  ): Promise<void> {
    this.#assertOwn(ns);
    if (!(p >= 0 && p <= 1)) throw new Error(`loss probability must be in 0..1, got ${p}`);
    await ensureCommand("iptables", "iptables");
    await this.clearLoss(ns, dev);
    if (p === 0) return;
    const prob = p.toFixed(6);
    const match = ["-m", "statistic", "--mode", "random", "--probability", prob, "-j", "DROP"];
    const specs: string[][] = [];
    if (direction !== "ingress") {
      specs.push(["OUTPUT", "-o", dev, ...match], ["FORWARD", "-o", dev, ...match]);
    }
    if (direction !== "egress") {
      specs.push(["INPUT", "-i", dev, ...match], ["FORWARD", "-i", dev, ...match]);
    }
    for (const spec of specs) {
      await this.mustExec(ns, ["iptables", "-w", "10", "-t", "filter", "-A", ...spec]);
      this.#lossRules.push({ ns, dev, spec });
    }
  }

  /** Removes the loss rules {@link setLoss} added for `dev` in `ns`. */
  async clearLoss(ns: string, dev: string): Promise<void> {
    const mine = this.#lossRules.filter((r) => r.ns === ns && r.dev === dev);
    this.#lossRules = this.#lossRules.filter((r) => !mine.includes(r));
    for (const r of mine) {
      await this.mustExec(ns, ["iptables", "-w", "10", "-t", "filter", "-D", ...r.spec]);
    }
  }

  /**
   * Adds a router namespace between `clientNs` and `serverNs` that forwards and MASQUERADEs
   * everything leaving its outside interface; `clientNs` gets a default route via the router.
   */
  async addNatRouter(options: NatRouterOptions): Promise<NatRouter> {
    await ensureCommand("iptables", "iptables");
    const router = await this.addNamespace(options.role ?? "nat");
    const insideDev = options.insideDev ?? "nat-in";
    const outsideDev = options.outsideDev ?? "nat-out";
    const clientAddr = options.clientAddr ?? "192.168.77.2/24";
    const routerInsideAddr = options.routerInsideAddr ?? "192.168.77.1/24";
    const routerOutsideAddr = options.routerOutsideAddr ?? "10.203.0.1/24";
    const serverAddr = options.serverAddr ?? "10.203.0.2/24";
    const inside = await this.addVeth(options.clientNs, router, {
      devA: insideDev,
      devB: insideDev,
      addrA: clientAddr,
      addrB: routerInsideAddr,
    });
    const outside = await this.addVeth(router, options.serverNs, {
      devA: outsideDev,
      devB: outsideDev,
      addrA: routerOutsideAddr,
      addrB: serverAddr,
    });
    await this.mustExec(router, ["sh", "-c", "echo 1 > /proc/sys/net/ipv4/ip_forward"]);
    const masquerade = ["-t", "nat", "-A", "POSTROUTING", "-o", outsideDev, "-j", "MASQUERADE"];
    await this.mustExec(router, ["iptables", "-w", "10", ...masquerade]);
    await this.addRoute(options.clientNs, "default", { gateway: ipOf(routerInsideAddr) });
    return {
      ns: router,
      inside,
      outside,
      clientIp: ipOf(clientAddr),
      publicIp: ipOf(routerOutsideAddr),
      serverIp: ipOf(serverAddr),
    };
  }

  /**
   * Empties the connection-tracking table of `ns` (`conntrack -F`), so NAT mappings are made
   * anew: what a NAT box reboot or mapping timeout does. The kernel has no /proc file for this;
   * the conntrack tool (Debian package `conntrack`) talks ctnetlink and is installed on demand.
   */
  async flushConntrack(ns: string): Promise<void> {
    this.#assertOwn(ns);
    await ensureCommand("conntrack", "conntrack");
    await this.mustExec(ns, ["conntrack", "-F"]);
  }

  /** The conntrack entries of `ns`, one per line (`conntrack -L`). */
  async conntrackEntries(ns: string): Promise<string[]> {
    this.#assertOwn(ns);
    await ensureCommand("conntrack", "conntrack");
    const r = await this.mustExec(ns, ["conntrack", "-L"]);
    return r.stdout.split("\n").filter((l) => l.trim() !== "");
  }

  /** Runs `argv` inside `ns` (`ip netns exec NS ...`); `ns` null runs it on the host. */
  exec(ns: string | null, argv: readonly string[], options: ExecOptions = {}): Promise<ExecResult> {
    if (ns !== null) this.#assertOwn(ns);
    return run(ns === null ? argv : ["ip", "netns", "exec", ns, ...argv], options);
  }

  /** Like {@link exec} but throws unless the command exits 0. */
  async mustExec(
    ns: string | null,
    argv: readonly string[],
    options: ExecOptions = {},
  ): Promise<ExecResult> {
    const r = await this.exec(ns, argv, options);
    if (!r.success) throw new Error(`${ns === null ? "" : `[${ns}] `}${describeFailure(argv, r)}`);
    return r;
  }

  /**
   * Starts `argv` inside `ns` (or on the host for null) in the background. `ip netns exec`
   * execs the command in place, so the handle's PID is the command's own PID. The lab ends it
   * at cleanup if it is still running.
   */
  spawn(ns: string | null, argv: readonly string[], options: SpawnOptions = {}): Proc {
    this.#assertOpen();
    if (ns !== null) this.#assertOwn(ns);
    const full = ns === null ? argv : ["ip", "netns", "exec", ns, ...argv];
    const name = options.name ?? (argv.find((a, i) => i > 0 && !a.startsWith("-")) ?? argv[0]);
    const proc = new Proc(full, { ...options, name: ns === null ? name : `${name}@${ns}` });
    this.#procs.push(proc);
    return proc;
  }

  /** A fresh temporary directory (mode 0700) removed at cleanup. */
  async tempDir(): Promise<string> {
    this.#assertOpen();
    const dir = await Deno.makeTempDir({ prefix: `${this.id}-` });
    await Deno.chmod(dir, 0o700);
    this.#tempDirs.push(dir);
    return dir;
  }

  /**
   * Ends every process this lab started (SIGTERM by PID, SIGKILL after 3 s), and any process
   * still inside one of its namespaces, deletes its namespaces (which removes their links and
   * iptables rules) and temporary directories. Idempotent; throws if something could not be
   * removed.
   */
  cleanup(): Promise<void> {
    this.#cleanup ??= this.#doCleanup();
    return this.#cleanup;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.cleanup();
  }

  async #doCleanup(): Promise<void> {
    const errors: string[] = [];
    await Promise.all(this.#procs.map((p) => p.terminate(3_000)));
    for (const p of this.#procs) {
      if (!p.exited) errors.push(`process ${p.name} (pid ${p.pid}) did not exit`);
    }
    // Anything else still inside our namespaces (e.g. a grandchild) is ours too: end it by PID.
    for (const ns of this.#namespaces) {
      const pids = await namespacePids(ns);
      for (const pid of pids) {
        try {
          Deno.kill(pid, "SIGKILL");
        } catch {
          // gone
        }
      }
      if (pids.length > 0) await sleep(100);
    }
    for (const ns of [...this.#namespaces].reverse()) {
      let r = await run(["ip", "netns", "del", ns]);
      for (let i = 0; i < 20 && !r.success; i++) {
        await sleep(100);
        r = await run(["ip", "netns", "del", ns]);
        if (!(await listNamespaces()).includes(ns)) break;
      }
      if ((await listNamespaces()).includes(ns)) {
        errors.push(`could not delete namespace ${ns}: ${r.stderr.trim()}`);
      } else {
        this.#namespaces = this.#namespaces.filter((n) => n !== ns);
      }
    }
    for (const dir of this.#tempDirs) {
      try {
        await Deno.remove(dir, { recursive: true });
      } catch (e) {
        if (!(e instanceof Deno.errors.NotFound)) errors.push(`could not remove ${dir}: ${e}`);
      }
    }
    this.#tempDirs = [];
    this.#lossRules = [];
    liveLabs.delete(this);
    removeSignalHandlersIfIdle();
    if (errors.length > 0) throw new Error(`lab ${this.id} cleanup: ${errors.join("; ")}`);
  }

  #assertOpen(): void {
    if (this.#cleanup !== null) throw new Error(`lab ${this.id} is already cleaned up`);
  }

  #assertOwn(ns: string): void {
    if (!this.#namespaces.includes(ns)) {
      throw new Error(`namespace ${ns} was not created by lab ${this.id}`);
    }
  }
}

/** Names of all network namespaces on the machine (`ip netns list`). */
export async function listNamespaces(): Promise<string[]> {
  const r = await mustRun(["ip", "netns", "list"]);
  return r.stdout.split("\n").map((l) => l.trim().split(/\s+/)[0]).filter((n) =>
    n !== undefined && n !== ""
  );
}

/** PIDs of processes whose network namespace is `ns` (`ip netns pids`). */
export async function namespacePids(ns: string): Promise<number[]> {
  const r = await run(["ip", "netns", "pids", ns]);
  if (!r.success) return [];
  return r.stdout.split(/\s+/).filter((s) => /^\d+$/.test(s)).map(Number).filter((p) =>
    p !== Deno.pid
  );
}

// ---- parsing helpers for ping output ----

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

// ---- centipede: keys, configs and peers of the VPN under test ----

/**
 * Path of the VPN's CLI entry point: `main.ts` of this repository, or `$CENTIPEDE_MAIN` when set
 * (to run the suite against another build, or against a stand-in while developing the lab).
 */
export const MAIN_TS: string = (() => {
  try {
    return Deno.env.get("CENTIPEDE_MAIN") || `${REPO_ROOT}main.ts`;
  } catch {
    return `${REPO_ROOT}main.ts`;
  }
})();

/** `deno run -A main.ts ...args`, with the Deno that runs this code. */
export function centipedeArgv(...args: string[]): string[] {
  return [Deno.execPath(), "run", "-A", MAIN_TS, ...args];
}

/** Runs the real CLI on the host (`deno run -A main.ts ...`) from the repository root. */
export function centipede(args: readonly string[], options: ExecOptions = {}): Promise<ExecResult> {
  return run(centipedeArgv(...args), { cwd: REPO_ROOT, timeoutMs: 60_000, ...options });
}

/** A key pair made with the real `genkey` and `pubkey` commands. */
export interface KeyPair {
  readonly privateKey: string;
  readonly publicKey: string;
}

const BASE64_KEY = /^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=$/;

/** Generates a key pair with `main.ts genkey` and `main.ts pubkey` (checks both are base64 keys). */
export async function genKeyPair(): Promise<KeyPair> {
  const gen = await centipede(["genkey"]);
  if (!gen.success) throw new Error(describeFailure(centipedeArgv("genkey"), gen));
  const privateKey = gen.stdout.trim();
  if (!BASE64_KEY.test(privateKey)) {
    throw new Error(
      `genkey printed something that is not a 32-byte base64 key: ${gen.stdout.length} chars`,
    );
  }
  const pub = await centipede(["pubkey"], { stdin: `${privateKey}\n` });
  if (!pub.success) throw new Error(describeFailure(centipedeArgv("pubkey"), pub));
  const publicKey = pub.stdout.trim();
  if (!BASE64_KEY.test(publicKey)) throw new Error(`pubkey printed ${JSON.stringify(publicKey)}`);
  if (publicKey === privateKey) throw new Error("pubkey printed the private key");
  return { privateKey, publicKey };
}

/** One `[Peer]` section. */
export interface PeerSection {
  readonly publicKey: string;
  readonly endpoints?: readonly string[];
  readonly allowedIps: readonly string[];
  readonly persistentKeepalive?: number;
}

/** A whole config file. */
export interface InterfaceConfig {
  readonly privateKey: string;
  readonly address: string;
  readonly listenPort?: number;
  readonly mtu?: number;
  readonly binds?: readonly string[];
  readonly peers: readonly PeerSection[];
}

/** The WireGuard-style INI text of a config. */
export function renderConfig(c: InterfaceConfig): string {
  const lines = ["[Interface]", `PrivateKey = ${c.privateKey}`, `Address = ${c.address}`];
  if (c.listenPort !== undefined) lines.push(`ListenPort = ${c.listenPort}`);
  if (c.mtu !== undefined) lines.push(`MTU = ${c.mtu}`);
  if (c.binds !== undefined && c.binds.length > 0) lines.push(`Bind = ${c.binds.join(", ")}`);
  for (const p of c.peers) {
    lines.push("", "[Peer]", `PublicKey = ${p.publicKey}`);
    if (p.endpoints !== undefined && p.endpoints.length > 0) {
      lines.push(`Endpoint = ${p.endpoints.join(", ")}`);
    }
    lines.push(`AllowedIPs = ${p.allowedIps.join(", ")}`);
    if (p.persistentKeepalive !== undefined) {
      lines.push(`PersistentKeepalive = ${p.persistentKeepalive}`);
    }
  }
  return lines.join("\n") + "\n";
}

/** Writes `dir/NAME.conf` with mode 0600 and returns its path. */
export async function writeConfig(dir: string, name: string, c: InterfaceConfig): Promise<string> {
  const path = `${dir}/${name}.conf`;
  await Deno.writeTextFile(path, renderConfig(c), { mode: 0o600 });
  await Deno.chmod(path, 0o600);
  return path;
}

/**
 * The environment variable that moves centipede's control sockets away from /run/centipede.
 * Network namespaces share the file system, so two peers of the same interface name in two
 * namespaces need a control directory each.
 */
export const CONTROL_DIR_ENV = "CENTIPEDE_CONTROL_DIR";

/**
 * The control directory the lab gives the peer started with `confPath`: `run/` beside the config
 * file. Commands that talk to that peer (`show`, `down`, ...) need
 * `{ CENTIPEDE_CONTROL_DIR: controlDirFor(conf) }` in their environment.
 */
export function controlDirFor(confPath: string): string {
  const slash = confPath.lastIndexOf("/");
  return `${slash < 0 ? "." : confPath.slice(0, slash)}/run`;
}

/** Options for {@link startPeer}. */
export interface StartPeerOptions {
  /** How long to wait for the ready line; default 30 s. */
  readonly readyTimeoutMs?: number;
  /** Echo the peer's output lines. */
  readonly echo?: boolean;
  /** Extra environment; CENTIPEDE_CONTROL_DIR defaults to {@link controlDirFor}(confPath). */
  readonly env?: Record<string, string>;
}

/**
 * Starts `main.ts up CONF` inside `ns` and waits for its `interface NAME is up` line.
 * Returns the running process; the lab stops it at cleanup if the caller does not.
 */
export async function startPeer(
  lab: Lab,
  ns: string,
  confPath: string,
  options: StartPeerOptions = {},
): Promise<Proc> {
  const name = confPath.slice(confPath.lastIndexOf("/") + 1).replace(/\.conf$/, "");
  const env = { [CONTROL_DIR_ENV]: controlDirFor(confPath), ...options.env };
  await Deno.mkdir(env[CONTROL_DIR_ENV], { recursive: true, mode: 0o700 });
  const proc = lab.spawn(ns, centipedeArgv("up", confPath), {
    cwd: REPO_ROOT,
    echo: options.echo,
    env,
    name: `centipede-${name}`,
  });
  await proc.waitForLine(new RegExp(`interface ${name} is up`), options.readyTimeoutMs ?? 30_000);
  return proc;
}

/** One path of {@link TwoPathTunnel}: a veth pair and its two addresses (without prefix). */
export interface TunnelPath {
  readonly devA: string;
  readonly devB: string;
  readonly ipA: string;
  readonly ipB: string;
}

/** Two namespaces, two veth paths and a running centipede peer in each. */
export interface TwoPathTunnel {
  readonly a: string;
  readonly b: string;
  /** Interface (and config) name in both namespaces, e.g. `cpt0`. */
  readonly iface: string;
  readonly confA: string;
  readonly confB: string;
  readonly keysA: KeyPair;
  readonly keysB: KeyPair;
  readonly peerA: Proc;
  readonly peerB: Proc;
  /** Tunnel addresses without prefix: 10.77.0.1 (A) and 10.77.0.2 (B). */
  readonly tunA: string;
  readonly tunB: string;
  readonly paths: readonly [TunnelPath, TunnelPath];
  /** `{ CENTIPEDE_CONTROL_DIR }` of each peer ({@link controlDirFor}); pass it to commands. */
  readonly envA: Record<string, string>;
  readonly envB: Record<string, string>;
  /** Milliseconds from spawning both peers until both printed their ready line. */
  readonly startupMs: number;
}

/** Options for {@link setupTwoPathTunnel}. */
export interface TwoPathOptions {
  /** Interface and config name; default `cpt0`. */
  readonly iface?: string;
  /** Echo the peers' output lines to the console. */
  readonly echo?: boolean;
  readonly port?: number;
}

/**
 * The standard topology: namespaces A and B joined by path 1 (10.201.1.1/24 <-> 10.201.1.2/24,
 * devices `p1`) and path 2 (10.201.2.1/24 <-> 10.201.2.2/24, devices `p2`); keys made with the
 * real `genkey`/`pubkey`; configs written to a lab temp dir (0600); `main.ts up` running in both
 * namespaces with tunnel addresses 10.77.0.1/24 (A) and 10.77.0.2/24 (B).
 *
 * The addresses are fixed: each lab's namespaces have their own routing tables, so parallel runs
 * using the same subnets do not see each other.
 */
export async function setupTwoPathTunnel(
  lab: Lab,
  options: TwoPathOptions = {},
): Promise<TwoPathTunnel> {
  const iface = options.iface ?? "cpt0";
  const port = options.port ?? 51820;
  const a = await lab.addNamespace("a");
  const b = await lab.addNamespace("b");
  const paths: [TunnelPath, TunnelPath] = [
    { devA: "p1", devB: "p1", ipA: "10.201.1.1", ipB: "10.201.1.2" },
    { devA: "p2", devB: "p2", ipA: "10.201.2.1", ipB: "10.201.2.2" },
  ];
  for (const p of paths) {
    await lab.addVeth(a, b, {
      devA: p.devA,
      devB: p.devB,
      addrA: `${p.ipA}/24`,
      addrB: `${p.ipB}/24`,
    });
  }
  // genkey runs on the host first, which also fills Deno's module cache: inside the
  // namespaces there is no route to any registry.
  const keysA = await genKeyPair();
  const keysB = await genKeyPair();
  const dir = await lab.tempDir();
  const confA = await writeConfig(dir, iface, {
    privateKey: keysA.privateKey,
    address: "10.77.0.1/24",
    listenPort: port,
    binds: paths.map((p) => p.ipA),
    peers: [{
      publicKey: keysB.publicKey,
      endpoints: paths.map((p) => `${p.ipB}:${port}`),
      allowedIps: ["10.77.0.2/32"],
      persistentKeepalive: 25,
    }],
  });
  // B's config goes to its own directory: both files are named after the interface.
  const dirB = `${dir}/b`;
  await Deno.mkdir(dirB, { mode: 0o700 });
  const confB = await writeConfig(dirB, iface, {
    privateKey: keysB.privateKey,
    address: "10.77.0.2/24",
    listenPort: port,
    binds: paths.map((p) => p.ipB),
    peers: [{
      publicKey: keysA.publicKey,
      endpoints: paths.map((p) => `${p.ipA}:${port}`),
      allowedIps: ["10.77.0.1/32"],
      persistentKeepalive: 25,
    }],
  });
  const envA = { [CONTROL_DIR_ENV]: controlDirFor(confA) };
  const envB = { [CONTROL_DIR_ENV]: controlDirFor(confB) };
  const t0 = performance.now();
  const [peerA, peerB] = await Promise.all([
    startPeer(lab, a, confA, { echo: options.echo, env: envA }),
    startPeer(lab, b, confB, { echo: options.echo, env: envB }),
  ]);
  const ready = performance.now() - t0;
  return {
    a,
    b,
    iface,
    confA,
    confB,
    keysA,
    keysB,
    peerA,
    peerB,
    envA,
    envB,
    tunA: "10.77.0.1",
    tunB: "10.77.0.2",
    paths,
    startupMs: Math.round(ready),
  };
}
