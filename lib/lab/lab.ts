/**
 * The {@link Lab}: a set of network namespaces, links, impairments and processes that is torn
 * down as a whole. Every process it started is ended by PID (SIGTERM, then SIGKILL), every
 * namespace it created is deleted (with its links and iptables rules) and every temporary
 * directory removed: at `cleanup()`, at the end of an `await using` block (also when the code
 * using it throws), and by default on SIGINT/SIGTERM.
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
 * Network rule: a lab only ever sends traffic to loopback or to namespaces it created.
 * @module
 */
import {
  addRoute,
  addVethPair,
  createNamespace,
  deleteNamespace,
  GSO_MAX_SEGMENTS_DEFAULT,
  ipOf,
  linkExists,
  listNamespaces,
  namespacePids,
  type RouteVia,
  setGsoMaxSegments,
  setLink,
  type Veth,
  type VethOptions,
} from "./netns.ts";
import {
  clearRateLimit,
  iptablesFilter,
  type LossDirection,
  lossRuleSpecs,
  rateLimit,
  type RateLimitOptions,
  showQdisc,
} from "./impair.ts";
import {
  conntrackEntries,
  enableForwarding,
  flushConntrack,
  iptablesNat,
  masqueradeSpec,
  type NatRouter,
  type NatRouterOptions,
} from "./nat.ts";
import {
  describeFailure,
  type ExecOptions,
  type ExecResult,
  inNamespace,
  killPid,
  Proc,
  run,
  sleep,
  type SpawnOptions,
} from "./process.ts";
import { ensureCommand, requireRoot } from "./tools.ts";

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

function randomHex(digits: number): string {
  const bytes = crypto.getRandomValues(new Uint8Array(Math.ceil(digits / 2)));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("").slice(0, digits);
}

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

/** A free lab id: `prefix` + 4 hex digits that no existing namespace name starts with. */
async function freeId(prefix: string): Promise<string> {
  const existing = await listNamespaces();
  for (let i = 0; i < 100; i++) {
    const candidate = `${prefix}${randomHex(4)}`;
    if (!existing.some((n) => n.startsWith(candidate))) return candidate;
  }
  throw new Error("could not find a free lab id");
}

/**
 * A set of namespaces, links and processes that is torn down as a whole. Use with `await using`
 * so cleanup also runs when the code using it fails.
 */
export class Lab implements AsyncDisposable {
  /** The unique part of every namespace name, e.g. `cp3fa9`. */
  readonly id: string;
  #namespaces: string[] = [];
  #procs: Proc[] = [];
  #tempDirs: string[] = [];
  /** Loss rules: the device they were asked for, where the rule is, and what it cut before. */
  #lossRules: {
    ns: string;
    dev: string;
    ruleNs: string;
    spec: string[];
    cut?: { ns: string; dev: string };
  }[] = [];
  #vethCount = 0;
  /** The other end of each veth this lab made, keyed `ns/dev`. */
  #vethPeers = new Map<string, { ns: string; dev: string }>();
  #cleanup: Promise<void> | null = null;

  private constructor(id: string) {
    this.id = id;
  }

  /** Creates an empty lab with a fresh random id. Throws unless root and `ip` exists. */
  static async create(options: LabOptions = {}): Promise<Lab> {
    requireRoot("the network-namespace lab");
    await ensureCommand("ip", "iproute2");
    const prefix = options.prefix ?? "cp";
    if (!/^[a-z]{1,4}$/.test(prefix)) throw new Error(`bad lab prefix ${prefix}`);
    const lab = new Lab(await freeId(prefix));
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
    this.#namespaces.push(ns);
    try {
      await createNamespace(ns);
    } catch (e) {
      if (!(await listNamespaces()).includes(ns)) {
        this.#namespaces = this.#namespaces.filter((n) => n !== ns);
      }
      throw e;
    }
    return ns;
  }

  /**
   * Creates a veth pair with one end in each namespace, assigns the given addresses and brings
   * both ends up. Names only need to be unique within each namespace.
   */
  addVeth(nsA: string, nsB: string, options: VethOptions = {}): Promise<Veth> {
    this.#assertOpen();
    this.#assertOwn(nsA);
    this.#assertOwn(nsB);
    const n = this.#vethCount++;
    const devA = options.devA ?? `veth${n}`;
    const devB = options.devB ?? `veth${n}`;
    this.#vethPeers.set(`${nsA}/${devA}`, { ns: nsB, dev: devB });
    this.#vethPeers.set(`${nsB}/${devB}`, { ns: nsA, dev: devA });
    return addVethPair(nsA, nsB, devA, devB, options);
  }

  /** Sets a link administratively up or down (`ip link set DEV up|down`). */
  setLink(ns: string, dev: string, up: boolean): Promise<void> {
    this.#assertOwn(ns);
    return setLink(ns, dev, up);
  }

  linkDown(ns: string, dev: string): Promise<void> {
    return this.setLink(ns, dev, false);
  }

  linkUp(ns: string, dev: string): Promise<void> {
    return this.setLink(ns, dev, true);
  }

  /** True when `dev` exists in `ns`. */
  linkExists(ns: string, dev: string): Promise<boolean> {
    return linkExists(ns, dev);
  }

  /** Adds a route in `ns`: `ip route add PREFIX via GW` (or `dev DEV`, `table N`). */
  addRoute(ns: string, prefix: string, via: RouteVia): Promise<void> {
    this.#assertOwn(ns);
    return addRoute(ns, prefix, via);
  }

  /** Rate-limits egress of `dev` with a `tbf` root qdisc (replacing any root qdisc). */
  rateLimit(ns: string, dev: string, options: RateLimitOptions = {}): Promise<void> {
    this.#assertOwn(ns);
    return rateLimit(ns, dev, options);
  }

  /** Removes the root qdisc of `dev` (back to the default); no error when there is none. */
  clearRateLimit(ns: string, dev: string): Promise<void> {
    this.#assertOwn(ns);
    return clearRateLimit(ns, dev);
  }

  /** `tc qdisc show dev DEV` output. */
  qdisc(ns: string, dev: string): Promise<string> {
    this.#assertOwn(ns);
    return showQdisc(ns, dev);
  }

  /**
   * Drops packets on `dev` at random with probability `p` (0..1), using
   * `iptables -m statistic --mode random --probability P -j DROP` (see `lossRuleSpecs`).
   * Replaces earlier loss rules of the same device; `p` = 0 only removes them.
   *
   * Loss is per packet on the wire, also for senders that use segmentation offloads (a UDP
   * `UDP_SEGMENT` send or a TSO burst is one socket buffer until a device cuts it, and iptables
   * would drop the whole burst). On a veth of this lab, the sending end is therefore made to cut
   * every burst (`gso_max_segs 1`) and the rule matches on the receiving end instead.
   */
  async setLoss(
    ns: string,
    dev: string,
    p: number,
    direction: LossDirection = "egress",
  ): Promise<void> {
    this.#assertOwn(ns);
    if (!(p >= 0 && p <= 1)) throw new Error(`loss probability must be in 0..1, got ${p}`);
    await this.clearLoss(ns, dev);
    if (p === 0) return;
    const peer = this.#vethPeers.get(`${ns}/${dev}`);
    const here = { ns, dev };
    const plan: { ruleNs: string; spec: string[]; cut?: { ns: string; dev: string } }[] = [];
    if (!peer) {
      for (const spec of lossRuleSpecs(dev, p, direction)) plan.push({ ruleNs: ns, spec });
    } else {
      if (direction !== "ingress") {
        for (const spec of lossRuleSpecs(peer.dev, p, "ingress")) {
          plan.push({ ruleNs: peer.ns, spec, cut: here });
        }
      }
      if (direction !== "egress") {
        for (const spec of lossRuleSpecs(dev, p, "ingress")) {
          plan.push({ ruleNs: ns, spec, cut: peer });
        }
      }
    }
    for (const step of plan) {
      if (step.cut) await setGsoMaxSegments(step.cut.ns, step.cut.dev, 1);
      await iptablesFilter(step.ruleNs, "add", step.spec);
      this.#lossRules.push({ ns, dev, ...step });
    }
  }

  /** Removes the loss rules {@link setLoss} added for `dev` in `ns`. */
  async clearLoss(ns: string, dev: string): Promise<void> {
    const mine = this.#lossRules.filter((r) => r.ns === ns && r.dev === dev);
    this.#lossRules = this.#lossRules.filter((r) => !mine.includes(r));
    for (const r of mine) {
      await iptablesFilter(r.ruleNs, "delete", r.spec);
      if (r.cut) await setGsoMaxSegments(r.cut.ns, r.cut.dev, GSO_MAX_SEGMENTS_DEFAULT);
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
    await enableForwarding(router);
    await iptablesNat(router, "add", masqueradeSpec(outsideDev));
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

  /** Empties the connection-tracking table of `ns` (`conntrack -F`): NAT mappings start anew. */
  flushConntrack(ns: string): Promise<void> {
    this.#assertOwn(ns);
    return flushConntrack(ns);
  }

  /** The conntrack entries of `ns`, one per line (`conntrack -L`). */
  conntrackEntries(ns: string): Promise<string[]> {
    this.#assertOwn(ns);
    return conntrackEntries(ns);
  }

  /** Runs `argv` inside `ns` (`ip netns exec NS ...`); `ns` null runs it on the host. */
  exec(ns: string | null, argv: readonly string[], options: ExecOptions = {}): Promise<ExecResult> {
    if (ns !== null) this.#assertOwn(ns);
    return run(inNamespace(ns, argv), options);
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
    const name = options.name ?? (argv.find((a, i) => i > 0 && !a.startsWith("-")) ?? argv[0]);
    const proc = new Proc(inNamespace(ns, argv), {
      ...options,
      name: ns === null ? name : `${name}@${ns}`,
    });
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
      for (const pid of pids) killPid(pid, "SIGKILL");
      if (pids.length > 0) await sleep(100);
    }
    for (const ns of [...this.#namespaces].reverse()) {
      const error = await deleteNamespace(ns);
      if (error !== null) errors.push(error);
      else this.#namespaces = this.#namespaces.filter((n) => n !== ns);
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
