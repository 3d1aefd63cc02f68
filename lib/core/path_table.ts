/**
 * The paths of one peer: configured ones (local end x endpoint of the same family) and learned
 * ones (from authenticated, fresh packets), with their state transitions and the log lines
 * that go with them. See path.ts for the state diagram.
 * @module
 */
import { MAX_PATHS_PER_PEER, PATH_FORGET_AFTER_MS } from "./constants.ts";
import { type Endpoint, type LocalEnd, Path, pathKey } from "./path.ts";

/** Most address objects remembered per local end before the cache starts over. */
const MAX_ALIASES = 4096;

/** Address family of an IP literal. */
export function familyOf(hostname: string): 4 | 6 {
  return hostname.includes(":") ? 6 : 4;
}

/** `#local->host:port`, as logs and `show` print a path. */
export function describePath(path: Path): string {
  const host = path.remote.hostname.includes(":")
    ? `[${path.remote.hostname}]`
    : path.remote.hostname;
  return `#${path.local}->${host}:${path.remote.port}`;
}

/** All paths of one peer. */
export class PathTable {
  /** Every path, in a stable order (configured first, then learned by age). */
  readonly list: Path[] = [];
  readonly #byKey = new Map<string, Path>();
  /**
   * Per local end, the path of each address *object* seen: sockets hand out the same object for
   * the same sender, so the hot path finds its path without building a string key.
   */
  readonly #alias: Map<Endpoint, Path>[] = [];
  #locals: readonly LocalEnd[];
  readonly #log: (message: string) => void;
  /** Called when a path is removed, so schedulers can forget it. */
  onRemove?: (path: Path) => void;
  /** Whether some path was active at the last change (for "peer up/down" log lines). */
  #reachable = false;

  constructor(locals: readonly LocalEnd[], log: (message: string) => void) {
    this.#locals = locals;
    this.#log = log;
  }

  /** The path of `(local, remote)`, if known. */
  get(local: number, remote: Endpoint): Path | undefined {
    const aliases = this.#alias[local] ??= new Map();
    const cached = aliases.get(remote);
    if (cached) return cached;
    const path = this.#byKey.get(pathKey(local, remote));
    if (path) {
      if (aliases.size >= MAX_ALIASES) aliases.clear();
      aliases.set(remote, path);
    }
    return path;
  }

  /**
   * New local ends (`Bind` changed): every path is forgotten, the configured ones are made again
   * for the new ends, and learned ones come back from the peer's next authenticated packets.
   */
  reset(locals: readonly LocalEnd[], endpoints: readonly Endpoint[]): void {
    for (const path of [...this.list]) this.#remove(path);
    this.#alias.length = 0;
    this.#locals = locals;
    this.setEndpoints(endpoints);
  }

  /** Replaces the configured remote ends. Paths that stay keep their state; learned ones stay. */
  setEndpoints(endpoints: readonly Endpoint[]): void {
    const wanted = new Map<string, Path>();
    this.#locals.forEach((end, local) => {
      for (const remote of endpoints) {
        if (end.family !== 0 && end.family !== familyOf(remote.hostname)) continue;
        const key = pathKey(local, remote);
        const existing = this.#byKey.get(key);
        wanted.set(key, existing?.configured ? existing : new Path(local, remote, true, end));
      }
    });
    for (const path of this.list) {
      if (path.configured && !wanted.has(path.key)) this.#remove(path);
    }
    for (const [key, path] of wanted) {
      const old = this.#byKey.get(key);
      if (old !== path) {
        if (old) this.#remove(old);
        this.#byKey.set(key, path);
        this.list.push(path);
      }
    }
  }

  /**
   * The path an authenticated, fresh packet of `length` bytes arrived on. A new remote end
   * becomes a validating path; a down path starts validating again. Undefined when the table is
   * full of paths worth keeping.
   */
  learn(local: number, from: Endpoint, length: number, now: number): Path | undefined {
    let path = this.get(local, from);
    if (!path) {
      if (!this.#makeRoom()) return undefined;
      path = new Path(
        local,
        { hostname: from.hostname, port: from.port },
        false,
        this.#locals[local],
      );
      path.setState("validating", now);
      this.#byKey.set(path.key, path);
      this.list.push(path);
      this.#log(`new path ${describePath(path)} (validating)`);
    } else if (path.state === "down") {
      path.setState("validating", now);
      path.unvalidatedReceived = 0;
      path.unvalidatedSent = 0;
      path.nextProbeAt = now;
    }
    path.lastReceiveAt = now;
    if (path.state === "validating") path.unvalidatedReceived += length;
    return path;
  }

  /** A probe on `path` was acknowledged on it: the path is validated. */
  activate(path: Path, now: number): void {
    if (path.state === "active") return;
    path.everValidated = true;
    path.setState("active", now);
    path.lastReceiveAt = now;
    this.#log(`path ${describePath(path)} up (rtt ${path.srttMs.toFixed(2)} ms)`);
    this.#noteReachability();
  }

  /** Declares `path` down. */
  markDown(path: Path, now: number): void {
    const why = path.state === "active" ? "silent" : "never validated";
    const silent = now - path.heardSince();
    path.setState("down", now);
    path.probeId = 0;
    this.#log(`path ${describePath(path)} down (${why} for ${silent.toFixed(0)} ms)`);
    this.#noteReachability();
  }

  /** Logs "peer up" when the first path becomes active and "peer down" when the last goes. */
  #noteReachability(): void {
    const reachable = this.list.some((p) => p.state === "active");
    if (reachable === this.#reachable) return;
    this.#reachable = reachable;
    this.#log(reachable ? "peer up" : "peer down: no path answers");
  }

  /** Forgets learned paths silent for PATH_FORGET_AFTER_MS. */
  forgetSilent(now: number): void {
    for (const path of [...this.list]) {
      if (!path.configured && now - path.lastReceiveAt >= PATH_FORGET_AFTER_MS) this.#remove(path);
    }
  }

  /** True when there are paths and all of them are down. */
  allDown(): boolean {
    return this.list.length > 0 && this.list.every((p) => p.state === "down");
  }

  /** Frees a slot for a new learned path by forgetting the stalest learned one. */
  #makeRoom(): boolean {
    if (this.list.length < MAX_PATHS_PER_PEER) return true;
    let victim: Path | undefined;
    for (const p of this.list) {
      if (p.configured || p.state === "active") continue;
      if (!victim || p.lastReceiveAt < victim.lastReceiveAt) victim = p;
    }
    if (victim) this.#remove(victim);
    return victim !== undefined;
  }

  #remove(path: Path): void {
    this.#byKey.delete(path.key);
    const aliases = this.#alias[path.local];
    if (aliases) {
      for (const [remote, p] of aliases) if (p === path) aliases.delete(remote);
    }
    const i = this.list.indexOf(path);
    if (i >= 0) this.list.splice(i, 1);
    this.onRemove?.(path);
  }
}
