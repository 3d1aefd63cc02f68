/**
 * Lab scenarios: a YAML file that describes two hosts (a client and a server, optionally a
 * router between them), the paths joining them with their rate and loss, the centipede mode of
 * each host, the traffic to send, and a timeline of events. {@link parseScenario} turns the text
 * into a typed, validated {@link Scenario}; it is pure and rejects the whole file on the first
 * error, with a message naming the file, the line and the field:
 *
 * ```
 * commute.yaml:14: timeline[2].down: unknown path "wfi" (the paths are wifi, cell)
 * commute.yaml:5: hosts.client.mdoe: unknown key; did you mean mode?
 * ```
 *
 * Unknown keys are errors, as in the config parser. The format is documented in
 * docs/LAB.md.
 * @module
 */
import { isMap, isPair, isScalar, isSeq, LineCounter, type Node, parseDocument } from "yaml";
import { rateBits } from "./impair.ts";

/** How a host spreads its packets over the paths (`Mode =` of docs/CONFIG.md). */
export type Mode = "duplicate" | "failover" | "aggregate" | "adaptive";

const MODES: readonly Mode[] = ["duplicate", "failover", "aggregate", "adaptive"];

/** The centipede settings of one host. */
export interface HostSpec {
  readonly mode: Mode;
  /** `Redundancy =` (duplicate and adaptive only); null = not written (every path). */
  readonly redundancy: number | null;
  /** `PersistentKeepalive =` seconds; null = off. */
  readonly keepalive: number | null;
}

/** The optional router between the client's paths and the server. */
export interface RouterSpec {
  /** MASQUERADE what leaves towards the server (true), or route only (false). */
  readonly nat: boolean;
}

/** One path: a veth pair between the client and the server (or the router). */
export interface PathSpec {
  /** Also the interface name at both ends, e.g. `wifi`. */
  readonly name: string;
  /** tbf rate in each direction, e.g. `20mbit`; null = unlimited. */
  readonly rate: string | null;
  /** Random loss in each direction, percent (0..100). */
  readonly loss: number;
  /** The client's `Bind` flag `backup`. */
  readonly backup: boolean;
  /** The client's `Bind` flag `priority=N`. */
  readonly priority: number;
}

/** What traffic flows from the client to the server through the tunnel. */
export interface TrafficSpec {
  /** `ping` of the server's tunnel address at `hz` per second; null = no ping. */
  readonly ping: { readonly hz: number } | null;
  /** One TCP bulk flow, paced to `rate` (a tc rate) or saturating when null; null = none. */
  readonly tcp: { readonly rate: string | null } | null;
}

/** What an event does. */
export type EventAction =
  | { readonly kind: "down"; readonly paths: readonly string[] }
  | { readonly kind: "up"; readonly paths: readonly string[] }
  /** New rates; null removes a path's rate limit. */
  | { readonly kind: "rate"; readonly rates: Readonly<Record<string, string | null>> }
  /** New loss percentages. */
  | { readonly kind: "loss"; readonly losses: Readonly<Record<string, number>> }
  /** The NAT forgets its mappings (conntrack flush) and maps every flow to a new port. */
  | { readonly kind: "rebind" }
  /** Re-read a host's config, optionally rewritten with a new mode and redundancy first. */
  | {
    readonly kind: "reload";
    readonly host: "client" | "server";
    readonly via: "sighup" | "command";
    readonly mode: Mode | null;
    readonly redundancy: number | null;
  };

/** One timeline entry. */
export type ScenarioEvent = EventAction & {
  /** Seconds after the traffic started. */
  readonly at: number;
  /** Text for the chart and the summary; default: made from the action. */
  readonly label: string;
};

/** A validated scenario. */
export interface Scenario {
  readonly name: string;
  readonly description: string;
  /** Seconds of traffic. */
  readonly duration: number;
  readonly client: HostSpec;
  readonly server: HostSpec;
  readonly router: RouterSpec | null;
  readonly paths: readonly PathSpec[];
  readonly traffic: TrafficSpec;
  /** Sorted by `at` (events at the same second keep their file order). */
  readonly timeline: readonly ScenarioEvent[];
}

/** A scenario file that does not parse or validate. */
export class ScenarioError extends Error {
  override name = "ScenarioError";
  constructor(
    readonly file: string,
    /** 1-based; 0 when the error is about no line in particular. */
    readonly line: number,
    /** The field, e.g. `timeline[2].down`; "" for YAML syntax errors. */
    readonly field: string,
    readonly reason: string,
  ) {
    super(`${file}${line > 0 ? `:${line}` : ""}: ${field === "" ? "" : `${field}: `}${reason}`);
  }
}

/** Limits of the format. */
export const LIMITS = {
  maxPaths: 8,
  maxDuration: 600,
  maxEvents: 200,
  maxPingHz: 200,
} as const;

/** Interface names the lab uses itself (the loopback, the router's outside link). */
const RESERVED_NAMES = new Set(["lo", "wan"]);
const PATH_NAME = /^[a-z][a-z0-9]{0,9}$/;

type Seg = string | number;
type Json = unknown;

/** Reads values out of the parsed YAML, each with its field path, and reports errors. */
class Reader {
  constructor(
    readonly file: string,
    readonly root: Node | null,
    readonly lines: LineCounter,
  ) {}

  fail(path: readonly Seg[], reason: string, atKey = false): never {
    throw new ScenarioError(this.file, this.lineOf(path, atKey), fieldName(path), reason);
  }

  /** Line of the node at `path` (of its key with `atKey`), or of its closest existing parent. */
  lineOf(path: readonly Seg[], atKey = false): number {
    let node: unknown = this.root;
    let best = this.#line(node);
    for (let i = 0; i < path.length; i++) {
      const seg = path[i];
      if (isMap(node)) {
        const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === seg);
        if (!pair) break;
        const last = i === path.length - 1;
        best = this.#line(pair.key) || best;
        // A whole mapping or list is reported at its key (its items start on later lines).
        if (last && (atKey || isMap(pair.value) || isSeq(pair.value))) return best;
        node = pair.value;
      } else if (isSeq(node) && typeof seg === "number") {
        node = node.items[seg];
      } else {
        break;
      }
      best = this.#line(node) || best;
    }
    return best;
  }

  #line(node: unknown): number {
    if (node === null || typeof node !== "object") return 0;
    const range = (node as { range?: [number, number, number] }).range;
    if (isPair(node) || range === undefined) return 0;
    return this.lines.linePos(range[0]).line;
  }

  /** A mapping whose keys are all in `allowed`; `required` keys must be present. */
  map(
    v: Json,
    path: readonly Seg[],
    allowed: readonly string[],
    required: readonly string[] = [],
  ): Record<string, Json> {
    if (v === null || typeof v !== "object" || Array.isArray(v)) {
      this.fail(path, `expected a mapping (key: value lines), got ${describe(v)}`);
    }
    const obj = v as Record<string, Json>;
    for (const key of Object.keys(obj)) {
      if (allowed.includes(key)) continue;
      const hint = suggest(key, allowed);
      this.fail(
        [...path, key],
        `unknown key; ${hint ? `did you mean ${hint}?` : `expected ${listOr(allowed)}`}`,
        true,
      );
    }
    for (const key of required) {
      if (!(key in obj) || obj[key] === null) this.fail([...path, key], "is required");
    }
    return obj;
  }

  list(v: Json, path: readonly Seg[]): Json[] {
    if (!Array.isArray(v)) {
      this.fail(path, `expected a list (lines starting with -), got ${describe(v)}`);
    }
    return v;
  }

  string(v: Json, path: readonly Seg[]): string {
    if (typeof v !== "string") this.fail(path, `expected text, got ${describe(v)}`);
    return v;
  }

  bool(v: Json, path: readonly Seg[]): boolean {
    if (typeof v !== "boolean") this.fail(path, `expected true or false, got ${describe(v)}`);
    return v;
  }

  number(
    v: Json,
    path: readonly Seg[],
    min: number,
    max: number,
    what: string,
    integer = false,
  ): number {
    const ok = typeof v === "number" && Number.isFinite(v) && v >= min && v <= max &&
      (!integer || Number.isInteger(v));
    if (!ok) this.fail(path, `expected ${what}, got ${describe(v)}`);
    return v as number;
  }

  oneOf<T extends string>(v: Json, path: readonly Seg[], choices: readonly T[]): T {
    if (typeof v !== "string" || !choices.includes(v.toLowerCase() as T)) {
      const hint = typeof v === "string" ? suggest(v, choices) : null;
      this.fail(
        path,
        `${describe(v)} is not ${listOr(choices)}${hint ? `; did you mean ${hint}?` : ""}`,
      );
    }
    return v.toLowerCase() as T;
  }

  /** A tc rate such as `20mbit`; with `allowNone`, `none`/`off` give null. */
  rate(v: Json, path: readonly Seg[], allowNone = false): string | null {
    if (allowNone && (v === "none" || v === "off" || v === false)) return null;
    const text = typeof v === "string" ? v.trim().toLowerCase().replace(/bps$/, "bit") : "";
    const bits = rateBits(text);
    if (!(bits >= 8_000 && bits <= 10e9)) {
      this.fail(
        path,
        `expected a rate from 8kbit to 10gbit such as 20mbit or 512kbit` +
          `${allowNone ? " (or none)" : ""}, got ${describe(v)}`,
      );
    }
    return text;
  }

  /** A loss percentage: a number 0..100, or text such as `5%`. */
  percent(v: Json, path: readonly Seg[]): number {
    const n = typeof v === "string" && /^\s*\d+(\.\d+)?\s*%\s*$/.test(v)
      ? Number(v.replace("%", ""))
      : v;
    return this.number(n, path, 0, 100, "a loss in percent from 0 to 100 (e.g. 5 or 5%)");
  }
}

function fieldName(path: readonly Seg[]): string {
  let out = "";
  for (const seg of path) {
    out += typeof seg === "number" ? `[${seg}]` : out === "" ? seg : `.${seg}`;
  }
  return out;
}

function describe(v: Json): string {
  if (v === null || v === undefined) return "nothing";
  if (Array.isArray(v)) return "a list";
  if (typeof v === "object") return "a mapping";
  if (typeof v === "string") return JSON.stringify(v);
  return String(v);
}

function listOr(items: readonly string[]): string {
  if (items.length <= 1) return items.join("");
  return `${items.slice(0, -1).join(", ")} or ${items[items.length - 1]}`;
}

/** Levenshtein distance, for "did you mean". */
function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length];
}

/** The closest candidate within edit distance 2 (case-insensitive), or null. */
function suggest(word: string, candidates: readonly string[]): string | null {
  let best: string | null = null;
  let bestDistance = 3;
  for (const c of candidates) {
    const d = editDistance(word.toLowerCase(), c.toLowerCase());
    if (d < bestDistance) [best, bestDistance] = [c, d];
  }
  return best;
}

/**
 * Parses and validates a scenario. `file` is used in messages only (and, without `name:`, as the
 * scenario's name). Throws {@link ScenarioError}.
 */
export function parseScenario(text: string, file: string): Scenario {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: true, prettyErrors: false });
  const syntax = doc.errors[0];
  if (syntax !== undefined) {
    const line = syntax.linePos?.[0]?.line ?? lines.linePos(syntax.pos[0]).line;
    throw new ScenarioError(file, line, "", `YAML: ${syntax.message.split("\n")[0]}`);
  }
  const r = new Reader(file, doc.contents as Node | null, lines);
  const top = r.map(doc.toJS({ maxAliasCount: 100 }), [], [
    "name",
    "description",
    "duration",
    "hosts",
    "paths",
    "traffic",
    "timeline",
  ], ["duration", "paths"]);
  const duration = r.number(
    top.duration,
    ["duration"],
    1,
    LIMITS.maxDuration,
    `a number of seconds from 1 to ${LIMITS.maxDuration}`,
  );
  const { client, server, router } = readHosts(r, top.hosts);
  const paths = readPaths(r, top.paths);
  const traffic = readTraffic(r, top.traffic);
  const timeline = readTimeline(r, top.timeline, { duration, paths, router });
  return {
    name: top.name === undefined ? defaultName(file) : r.string(top.name, ["name"]),
    description: top.description === undefined ? "" : r.string(top.description, ["description"]),
    duration,
    client,
    server,
    router,
    paths,
    traffic,
    timeline,
  };
}

function defaultName(file: string): string {
  return file.slice(file.lastIndexOf("/") + 1).replace(/\.ya?ml$/, "");
}

function readHosts(r: Reader, v: Json) {
  const hosts = v === undefined ? {} : r.map(v, ["hosts"], ["client", "server", "router"]);
  const client = readHost(r, hosts.client, ["hosts", "client"], null, 25);
  const server = readHost(r, hosts.server, ["hosts", "server"], client, null);
  let router: RouterSpec | null = null;
  if (hosts.router !== undefined) {
    const spec = hosts.router === null ? {} : r.map(hosts.router, ["hosts", "router"], ["nat"]);
    router = { nat: spec.nat === undefined ? true : r.bool(spec.nat, ["hosts", "router", "nat"]) };
  }
  return { client, server, router };
}

function readHost(
  r: Reader,
  v: Json,
  path: readonly Seg[],
  inherit: HostSpec | null,
  keepaliveDefault: number | null,
): HostSpec {
  const spec = v === undefined || v === null
    ? {}
    : r.map(v, path, ["mode", "redundancy", "keepalive"]);
  const mode = spec.mode === undefined
    ? inherit?.mode ?? "duplicate"
    : r.oneOf(spec.mode, [...path, "mode"], MODES);
  let redundancy = spec.redundancy === undefined
    ? (inherit !== null && inherit.mode === mode ? inherit.redundancy : null)
    : r.number(
      spec.redundancy,
      [...path, "redundancy"],
      0,
      16,
      "a number of paths from 0 to 16",
      true,
    );
  if (spec.redundancy !== undefined) checkRedundancy(r, [...path, "redundancy"], mode);
  if (mode === "failover" || mode === "aggregate") redundancy = null;
  const keepalive = spec.keepalive === undefined
    ? keepaliveDefault
    : spec.keepalive === false || spec.keepalive === 0
    ? null
    : r.number(
      spec.keepalive,
      [...path, "keepalive"],
      1,
      65535,
      "a number of seconds from 1 to 65535 (or 0 for off)",
      true,
    );
  return { mode, redundancy, keepalive };
}

function checkRedundancy(r: Reader, path: readonly Seg[], mode: Mode): void {
  if (mode === "failover" || mode === "aggregate") {
    r.fail(path, `redundancy applies to mode duplicate or adaptive, not ${mode}`);
  }
}

function readPaths(r: Reader, v: Json): PathSpec[] {
  const items = r.list(v, ["paths"]);
  if (items.length === 0 || items.length > LIMITS.maxPaths) {
    r.fail(["paths"], `expected 1 to ${LIMITS.maxPaths} paths, got ${items.length}`);
  }
  const paths: PathSpec[] = [];
  items.forEach((item, i) => {
    const at = ["paths", i];
    const p = r.map(item, at, ["name", "rate", "loss", "backup", "priority"], ["name"]);
    const name = r.string(p.name, [...at, "name"]);
    if (!PATH_NAME.test(name) || RESERVED_NAMES.has(name)) {
      r.fail(
        [...at, "name"],
        `${JSON.stringify(name)} is not a path name (1-10 lower-case letters and digits, ` +
          `starting with a letter; it names the interfaces; not lo or wan)`,
      );
    }
    if (paths.some((q) => q.name === name)) r.fail([...at, "name"], `path ${name} is listed twice`);
    paths.push({
      name,
      rate: p.rate === undefined ? null : r.rate(p.rate, [...at, "rate"], true),
      loss: p.loss === undefined ? 0 : r.percent(p.loss, [...at, "loss"]),
      backup: p.backup === undefined ? false : r.bool(p.backup, [...at, "backup"]),
      priority: p.priority === undefined
        ? 0
        : r.number(p.priority, [...at, "priority"], 0, 255, "a number from 0 to 255", true),
    });
  });
  if (paths.every((p) => p.backup)) {
    r.fail(["paths"], "every path is backup: at least one must be a regular one");
  }
  return paths;
}

function readTraffic(r: Reader, v: Json): TrafficSpec {
  if (v === undefined) return { ping: { hz: 100 }, tcp: null };
  const t = r.map(v, ["traffic"], ["ping", "tcp"]);
  let ping: TrafficSpec["ping"] = null;
  if (t.ping === true) ping = { hz: 100 };
  else if (t.ping !== undefined && t.ping !== false) {
    const p = r.map(t.ping, ["traffic", "ping"], ["hz"]);
    ping = {
      hz: p.hz === undefined ? 100 : r.number(
        p.hz,
        ["traffic", "ping", "hz"],
        1,
        LIMITS.maxPingHz,
        `a number of pings per second from 1 to ${LIMITS.maxPingHz}`,
      ),
    };
  }
  let tcp: TrafficSpec["tcp"] = null;
  if (t.tcp === true) tcp = { rate: null };
  else if (t.tcp !== undefined && t.tcp !== false) {
    const p = r.map(t.tcp, ["traffic", "tcp"], ["rate"]);
    tcp = { rate: p.rate === undefined ? null : r.rate(p.rate, ["traffic", "tcp", "rate"]) };
  }
  if (ping === null && tcp === null) r.fail(["traffic"], "needs ping, tcp or both");
  return { ping, tcp };
}

const ACTIONS = ["down", "up", "rate", "loss", "nat", "reload"] as const;

interface TimelineContext {
  readonly duration: number;
  readonly paths: readonly PathSpec[];
  readonly router: RouterSpec | null;
}

function readTimeline(r: Reader, v: Json, ctx: TimelineContext): ScenarioEvent[] {
  if (v === undefined || v === null) return [];
  const items = r.list(v, ["timeline"]);
  if (items.length > LIMITS.maxEvents) {
    r.fail(["timeline"], `at most ${LIMITS.maxEvents} events, got ${items.length}`);
  }
  const events = items.map((item, i) => readEvent(r, item, ["timeline", i], ctx));
  return events.map((e, i) => ({ e, i })).sort((a, b) => a.e.at - b.e.at || a.i - b.i).map((x) =>
    x.e
  );
}

function readEvent(r: Reader, v: Json, at: readonly Seg[], ctx: TimelineContext): ScenarioEvent {
  const e = r.map(v, at, ["at", "label", ...ACTIONS], ["at"]);
  const time = r.number(
    e.at,
    [...at, "at"],
    0,
    ctx.duration,
    `a number of seconds from 0 to the duration (${ctx.duration})`,
  );
  if (time >= ctx.duration) {
    r.fail([...at, "at"], `${time} is not before the end (duration ${ctx.duration})`);
  }
  const given = ACTIONS.filter((k) => k in e);
  if (given.length !== 1) {
    r.fail(
      at,
      given.length === 0
        ? `an event needs one of ${listOr(ACTIONS)}`
        : `one action per event, got ${given.join(" and ")} (use two events at the same time)`,
    );
  }
  const key = given[0];
  const action = readAction(r, key, e[key], [...at, key], ctx);
  const label = e.label === undefined ? defaultLabel(action) : r.string(e.label, [...at, "label"]);
  return { ...action, at: time, label };
}

function readAction(
  r: Reader,
  key: typeof ACTIONS[number],
  v: Json,
  at: readonly Seg[],
  ctx: TimelineContext,
): EventAction {
  const names = ctx.paths.map((p) => p.name);
  const pathName = (x: Json, where: readonly Seg[]) => {
    const name = r.string(x, where);
    if (!names.includes(name)) {
      const hint = suggest(name, names);
      r.fail(
        where,
        `unknown path ${JSON.stringify(name)} (the paths are ${names.join(", ")})` +
          (hint ? `; did you mean ${hint}?` : ""),
      );
    }
    return name;
  };
  switch (key) {
    case "down":
    case "up": {
      const paths = Array.isArray(v) ? v.map((x, i) => pathName(x, [...at, i])) : [pathName(v, at)];
      if (paths.length === 0) r.fail(at, "names no path");
      return { kind: key, paths };
    }
    case "rate": {
      const m = r.map(v, at, names);
      if (Object.keys(m).length === 0) r.fail(at, "names no path");
      const rates: Record<string, string | null> = {};
      for (const [name, x] of Object.entries(m)) rates[name] = r.rate(x, [...at, name], true);
      return { kind: "rate", rates };
    }
    case "loss": {
      const m = r.map(v, at, names);
      if (Object.keys(m).length === 0) r.fail(at, "names no path");
      const losses: Record<string, number> = {};
      for (const [name, x] of Object.entries(m)) losses[name] = r.percent(x, [...at, name]);
      return { kind: "loss", losses };
    }
    case "nat": {
      if (v !== "rebind") r.fail(at, `expected rebind, got ${describe(v)}`);
      if (ctx.router === null || !ctx.router.nat) {
        r.fail(at, "needs a NAT router (hosts.router with nat: true)");
      }
      return { kind: "rebind" };
    }
    case "reload":
      return readReload(r, v, at);
  }
}

function readReload(r: Reader, v: Json, at: readonly Seg[]): EventAction {
  const hosts = ["client", "server"] as const;
  if (typeof v === "string") {
    return {
      kind: "reload",
      host: r.oneOf(v, at, hosts),
      via: "sighup",
      mode: null,
      redundancy: null,
    };
  }
  const m = r.map(v, at, ["host", "via", "mode", "redundancy"], ["host"]);
  const mode = m.mode === undefined ? null : r.oneOf(m.mode, [...at, "mode"], MODES);
  let redundancy: number | null = null;
  if (m.redundancy !== undefined) {
    if (mode === null) r.fail([...at, "redundancy"], "goes with mode (the mode to reload with)");
    redundancy = r.number(
      m.redundancy,
      [...at, "redundancy"],
      0,
      16,
      "a number of paths from 0 to 16",
      true,
    );
    checkRedundancy(r, [...at, "redundancy"], mode);
  }
  return {
    kind: "reload",
    host: r.oneOf(m.host, [...at, "host"], hosts),
    via: m.via === undefined
      ? "sighup"
      : r.oneOf(m.via, [...at, "via"], ["sighup", "command"] as const),
    mode,
    redundancy,
  };
}

function defaultLabel(a: EventAction): string {
  switch (a.kind) {
    case "down":
    case "up":
      return `${a.paths.join(", ")} ${a.kind}`;
    case "rate":
      return Object.entries(a.rates).map(([p, x]) => `${p} ${x ?? "unlimited"}`).join(", ");
    case "loss":
      return Object.entries(a.losses).map(([p, x]) => `${p} loss ${x}%`).join(", ");
    case "rebind":
      return "NAT rebind";
    case "reload":
      return `reload ${a.host}${a.mode === null ? "" : ` (${a.mode})`}`;
  }
}
