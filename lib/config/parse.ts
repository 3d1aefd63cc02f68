/**
 * The config file parser: WireGuard-style INI text in, a validated `Config` out.
 *
 * Three layers: a line tokenizer, one handler per section, one `switch` per key. The first error
 * throws a `ConfigError` and rejects the whole file. Error messages never quote a PrivateKey value,
 * and anything shaped like a base64 key is redacted from every message as a second guard.
 * See docs/CONFIG.md for the format.
 * @module
 */

import { DEFAULT_MTU, MAX_MTU, MIN_MTU, MIN_MTU_IPV6 } from "../core/constants.ts";
import {
  type BindSpec,
  type Cidr,
  type Config,
  ConfigError,
  type EndpointSpec,
  type InterfaceAddress,
  type Mode,
  MODES,
  type PeerConfig,
} from "./config.ts";
import { decodeKey } from "./base64_key.ts";
import { formatIp, parseCidrDetailed, parseInterfaceAddress, parseIp, requireIp } from "./cidr.ts";
import { parseEndpoint } from "./endpoint.ts";

/** What `parseConfig` returns: the config and the non-fatal warnings, in file order. */
export interface ParseResult {
  readonly config: Config;
  readonly warnings: string[];
}

// ---- Tokens ----

type Token =
  | { readonly kind: "section"; readonly line: number; readonly name: string }
  | { readonly kind: "pair"; readonly line: number; readonly key: string; readonly value: string };

const INTERFACE_KEYS = [
  "PrivateKey",
  "Address",
  "ListenPort",
  "MTU",
  "Bind",
  "PreUp",
  "PostUp",
  "PreDown",
  "PostDown",
];
const PEER_KEYS = [
  "PublicKey",
  "Endpoint",
  "AllowedIPs",
  "PersistentKeepalive",
  "Mode",
  "Redundancy",
];
const UNSUPPORTED_KEYS = ["PresharedKey", "FwMark", "Table", "SaveConfig", "DNS"];
const HOOK_KEYS = new Set(["preup", "postup", "predown", "postdown"]);
const BIND_HINT = " (Bind takes local IP addresses such as 192.0.2.10 or 2001:db8::10)";
const BIND_FLAGS = ["backup", "priority"];
const MAX_PRIORITY = 255;
const MAX_REDUNDANCY = 16;
/** The modes in which `Redundancy` means something. */
const REDUNDANT_MODES: readonly Mode[] = ["duplicate", "adaptive"];
const NOT_A_KEY_NAME = 'the text before "=" is not a key name (1-32 letters and digits)';
const KEY_MESSAGE = 'not a 32-byte base64 key (44 characters ending in "=")';
/** Any run this long of base64 characters could be (most of) a key: never echo it. */
const KEY_SHAPED = /[A-Za-z0-9+/]{40,}={0,2}/g;

function redact(text: string): string {
  return text.replace(KEY_SHAPED, "<redacted>");
}

function configError(file: string, line: number, key: string, message: string): ConfigError {
  return new ConfigError(file, line, redact(key), redact(message));
}

function sectionToken(text: string, line: number, file: string): Token {
  const match = /^\[([^[\]]*)\]$/.exec(text);
  if (!match) {
    throw configError(file, line, "", "malformed section header (expected [Interface] or [Peer])");
  }
  return { kind: "section", line, name: match[1].trim() };
}

/** Tokenizes one line (without its line break); undefined for blank and comment lines. */
function tokenizeLine(raw: string, line: number, file: string): Token | undefined {
  if (raw.includes("\0")) throw configError(file, line, "", "the line contains a NUL byte");
  const hash = raw.indexOf("#");
  const stripped = (hash < 0 ? raw : raw.slice(0, hash)).trim();
  if (stripped === "") return undefined;
  if (stripped.startsWith("[")) return sectionToken(stripped, line, file);
  const eq = stripped.indexOf("=");
  if (eq < 0) throw configError(file, line, "", 'expected "Key = value" or a [Section] header');
  const key = stripped.slice(0, eq).trim();
  if (key === "") throw configError(file, line, "", 'missing key name before "="');
  if (!/^[A-Za-z][A-Za-z0-9]{0,31}$/.test(key)) {
    throw configError(file, line, "", NOT_A_KEY_NAME);
  }
  const hook = HOOK_KEYS.has(key.toLowerCase());
  const value = hook ? raw.slice(raw.indexOf("=") + 1) : stripped.slice(eq + 1);
  return { kind: "pair", line, key, value: value.trim() };
}

/** Splits text into tokens lazily, so that errors surface in line order. */
function* tokenize(text: string, file: string): Generator<Token> {
  const body = text.startsWith("\uFEFF") ? text.slice(1) : text;
  const lines = body.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i].endsWith("\r") ? lines[i].slice(0, -1) : lines[i];
    const token = tokenizeLine(raw, i + 1, file);
    if (token) yield token;
  }
}

// ---- Shared state and helpers ----

type Pair = Extract<Token, { kind: "pair" }>;
type Section = Extract<Token, { kind: "section" }>;

interface Context {
  readonly file: string;
  readonly warnings: string[];
  /** AllowedIPs prefix text -> line of the [Peer] that owns it. */
  readonly owners: Map<string, number>;
  /** PublicKey text -> line of the [Peer] that uses it. */
  readonly publicKeys: Map<string, number>;
}

interface InterfaceDraft {
  readonly kind: "interface";
  readonly line: number;
  readonly seen: Map<string, number>;
  privateKey?: Uint8Array;
  readonly addresses: InterfaceAddress[];
  listenPort: number;
  mtu?: number;
  readonly binds: BindSpec[];
  /** Bind address -> line of the Bind that first listed it. */
  readonly bindLines: Map<string, number>;
  readonly hooks: Record<"preUp" | "postUp" | "preDown" | "postDown", string[]>;
}

interface PeerDraft {
  readonly kind: "peer";
  readonly line: number;
  readonly seen: Map<string, number>;
  publicKey?: Uint8Array;
  publicKeyText?: string;
  readonly endpoints: EndpointSpec[];
  readonly allowedIps: Cidr[];
  persistentKeepaliveSeconds: number;
  mode: Mode;
  redundancy: number;
}

type Draft = InterfaceDraft | PeerDraft;

function fail(ctx: Context, line: number, key: string, message: string): never {
  throw configError(ctx.file, line, key, message);
}

function warn(ctx: Context, line: number, key: string, message: string): void {
  ctx.warnings.push(`${ctx.file}:${line}: ${key}: ${message}`);
}

function reason(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** The value of a key that needs one; fails when it is empty. */
function required(ctx: Context, pair: Pair, key: string): string {
  if (pair.value === "") fail(ctx, pair.line, key, "needs a value");
  return pair.value;
}

/** Records a key that may appear only once per section; fails on the second occurrence. */
function once(ctx: Context, seen: Map<string, number>, pair: Pair, key: string): void {
  const first = seen.get(key);
  if (first !== undefined) fail(ctx, pair.line, key, `given twice (first on line ${first})`);
  seen.set(key, pair.line);
}

/** The comma-separated items of a value; fails on an empty item such as in `a,,b`. */
function items(ctx: Context, pair: Pair, key: string): string[] {
  const list = pair.value.split(",").map((item) => item.trim());
  if (list.includes("")) fail(ctx, pair.line, key, "empty item in the comma-separated list");
  return list;
}

/** Parses with `parse`, turning its Error into a ConfigError for this line and key. */
function attempt<T>(ctx: Context, pair: Pair, key: string, parse: () => T, hint = ""): T {
  try {
    return parse();
  } catch (error) {
    return fail(ctx, pair.line, key, reason(error) + hint);
  }
}

function decimal(text: string, max: number): number | undefined {
  return /^(0|[1-9][0-9]{0,5})$/.test(text) && Number(text) <= max ? Number(text) : undefined;
}

function parseKey(ctx: Context, pair: Pair, key: string): Uint8Array {
  return decodeKey(required(ctx, pair, key)) ?? fail(ctx, pair.line, key, KEY_MESSAGE);
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      row.push(Math.min(previous[j] + 1, row[j - 1] + 1, previous[j - 1] + cost));
    }
    previous = row;
  }
  return previous[b.length];
}

/** The closest candidate within edit distance 2 (case-insensitive), for "did you mean". */
function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = 3;
  for (const candidate of candidates) {
    const distance = editDistance(word.toLowerCase(), candidate.toLowerCase());
    if (distance < bestDistance) [best, bestDistance] = [candidate, distance];
  }
  return best;
}

function findKey(keys: readonly string[], key: string): string | undefined {
  return keys.find((known) => known.toLowerCase() === key.toLowerCase());
}

function unknownKey(ctx: Context, pair: Pair, section: "Interface" | "Peer"): never {
  const unsupported = findKey(UNSUPPORTED_KEYS, pair.key);
  if (unsupported) {
    fail(
      ctx,
      pair.line,
      unsupported,
      `${unsupported} is a WireGuard option that centipede does not support`,
    );
  }
  const other = section === "Interface" ? "Peer" : "Interface";
  const elsewhere = findKey(other === "Peer" ? PEER_KEYS : INTERFACE_KEYS, pair.key);
  if (elsewhere) fail(ctx, pair.line, elsewhere, `belongs in [${other}], not in [${section}]`);
  const hint = closest(pair.key, [...INTERFACE_KEYS, ...PEER_KEYS]);
  const suffix = hint ? `; did you mean ${hint}?` : "";
  return fail(ctx, pair.line, pair.key, `unknown key in [${section}]${suffix}`);
}

// ---- [Interface] ----

function addAddresses(ctx: Context, draft: InterfaceDraft, pair: Pair): void {
  required(ctx, pair, "Address");
  for (const item of items(ctx, pair, "Address")) {
    const address = attempt(ctx, pair, "Address", () => parseInterfaceAddress(item));
    if (draft.addresses.some((known) => known.text === address.text)) {
      warn(ctx, pair.line, "Address", `${address.text} is listed twice; ignoring the repeat`);
    } else draft.addresses.push(address);
  }
}

type BindDraft = { -readonly [K in keyof BindSpec]: BindSpec[K] };

function unknownFlag(word: string, address: string): string {
  const name = word.split("=")[0];
  const hint = parseIp(word) ? "; separate addresses with commas" : "";
  const near = hint ? undefined : closest(name, BIND_FLAGS);
  const suffix = hint || (near ? `; did you mean ${near}?` : "");
  return `unknown flag "${name}" on ${address} (the flags are backup and priority=N)${suffix}`;
}

/** Applies one flag word of a Bind item (`backup` or `priority=N`) to `bind`. */
function bindFlag(
  ctx: Context,
  pair: Pair,
  bind: BindDraft,
  word: string,
  given: Set<string>,
): void {
  const eq = word.indexOf("=");
  const name = (eq < 0 ? word : word.slice(0, eq)).toLowerCase();
  const value = eq < 0 ? undefined : word.slice(eq + 1);
  if (given.has(name)) {
    fail(ctx, pair.line, "Bind", `flag "${name}" given twice on ${bind.address}`);
  }
  given.add(name);
  switch (name) {
    case "backup":
      if (value !== undefined) {
        fail(ctx, pair.line, "Bind", `flag "backup" takes no value (got "${word}")`);
      }
      bind.backup = true;
      return;
    case "priority": {
      const range = `needs a decimal number from 0 to ${MAX_PRIORITY} (got "${word}")`;
      bind.priority = decimal(value ?? "", MAX_PRIORITY) ??
        fail(ctx, pair.line, "Bind", `flag "priority" on ${bind.address} ${range}`);
      return;
    }
    default:
      return fail(ctx, pair.line, "Bind", unknownFlag(word, bind.address));
  }
}

/** Parses one Bind item: an IP address, then flags separated by whitespace. */
function parseBind(ctx: Context, pair: Pair, item: string): BindSpec {
  const [first, ...flags] = item.replace(/\s*=\s*/g, "=").split(/\s+/);
  const bytes = attempt(ctx, pair, "Bind", () => requireIp(first), BIND_HINT);
  const bind: BindDraft = { address: formatIp(bytes), backup: false, priority: 0 };
  const given = new Set<string>();
  for (const word of flags) bindFlag(ctx, pair, bind, word, given);
  return bind;
}

function describeBind(bind: BindSpec): string {
  return `${bind.backup ? "backup" : "regular"}, priority=${bind.priority}`;
}

function addBinds(ctx: Context, draft: InterfaceDraft, pair: Pair): void {
  required(ctx, pair, "Bind");
  for (const item of items(ctx, pair, "Bind")) {
    const bind = parseBind(ctx, pair, item);
    const known = draft.binds.find((other) => other.address === bind.address);
    if (known === undefined) {
      draft.binds.push(bind);
      draft.bindLines.set(bind.address, pair.line);
    } else if (known.backup === bind.backup && known.priority === bind.priority) {
      warn(ctx, pair.line, "Bind", `${bind.address} is listed twice; ignoring the repeat`);
    } else {
      const first = `line ${draft.bindLines.get(bind.address)}: ${describeBind(known)}`;
      const message = `${bind.address} is listed twice with different flags`;
      fail(ctx, pair.line, "Bind", `${message} (${first}; here: ${describeBind(bind)})`);
    }
  }
}

function setListenPort(ctx: Context, draft: InterfaceDraft, pair: Pair): void {
  once(ctx, draft.seen, pair, "ListenPort");
  const value = required(ctx, pair, "ListenPort");
  draft.listenPort = decimal(value, 65535) ??
    fail(ctx, pair.line, "ListenPort", `"${value}" is not a decimal port from 0 to 65535`);
}

function setMtu(ctx: Context, draft: InterfaceDraft, pair: Pair): void {
  once(ctx, draft.seen, pair, "MTU");
  const value = required(ctx, pair, "MTU");
  const mtu = decimal(value, MAX_MTU);
  if (mtu === undefined || mtu < MIN_MTU) {
    fail(ctx, pair.line, "MTU", `"${value}" is not a decimal number from ${MIN_MTU} to ${MAX_MTU}`);
  }
  draft.mtu = mtu;
}

function interfaceKey(ctx: Context, draft: InterfaceDraft, pair: Pair): void {
  switch (pair.key.toLowerCase()) {
    case "privatekey":
      once(ctx, draft.seen, pair, "PrivateKey");
      draft.privateKey = parseKey(ctx, pair, "PrivateKey");
      return;
    case "address":
      return addAddresses(ctx, draft, pair);
    case "listenport":
      return setListenPort(ctx, draft, pair);
    case "mtu":
      return setMtu(ctx, draft, pair);
    case "bind":
      return addBinds(ctx, draft, pair);
    case "preup":
      draft.hooks.preUp.push(required(ctx, pair, "PreUp"));
      return;
    case "postup":
      draft.hooks.postUp.push(required(ctx, pair, "PostUp"));
      return;
    case "predown":
      draft.hooks.preDown.push(required(ctx, pair, "PreDown"));
      return;
    case "postdown":
      draft.hooks.postDown.push(required(ctx, pair, "PostDown"));
      return;
    default:
      return unknownKey(ctx, pair, "Interface");
  }
}

function privateKeyOf(ctx: Context, draft: InterfaceDraft): Uint8Array {
  return draft.privateKey ?? fail(ctx, draft.line, "PrivateKey", "[Interface] has no PrivateKey");
}

function closeInterface(ctx: Context, draft: InterfaceDraft): void {
  privateKeyOf(ctx, draft);
  const ipv6 = draft.addresses.some((address) => address.family === 6);
  if (ipv6 && draft.mtu !== undefined && draft.mtu < MIN_MTU_IPV6) {
    const message = `${draft.mtu} is below ${MIN_MTU_IPV6}, the minimum with an IPv6 Address`;
    fail(ctx, draft.seen.get("MTU") ?? draft.line, "MTU", message);
  }
  if (draft.binds.length > 0 && draft.binds.every((bind) => bind.backup)) {
    const line = draft.bindLines.get(draft.binds[0].address) ?? draft.line;
    fail(ctx, line, "Bind", "every Bind is backup: at least one path end must be a regular one");
  }
}

// ---- [Peer] ----

function setPublicKey(ctx: Context, draft: PeerDraft, pair: Pair): void {
  once(ctx, draft.seen, pair, "PublicKey");
  draft.publicKey = parseKey(ctx, pair, "PublicKey");
  draft.publicKeyText = pair.value;
  const other = ctx.publicKeys.get(pair.value);
  if (other !== undefined) {
    fail(ctx, pair.line, "PublicKey", `the [Peer] on line ${other} already has this PublicKey`);
  }
  ctx.publicKeys.set(pair.value, draft.line);
}

function addEndpoints(ctx: Context, draft: PeerDraft, pair: Pair): void {
  required(ctx, pair, "Endpoint");
  for (const item of items(ctx, pair, "Endpoint")) {
    const endpoint = attempt(ctx, pair, "Endpoint", () => parseEndpoint(item));
    const same = (e: EndpointSpec) => e.host === endpoint.host && e.port === endpoint.port;
    if (draft.endpoints.some(same)) {
      warn(ctx, pair.line, "Endpoint", `${item} is listed twice; ignoring the repeat`);
    } else draft.endpoints.push(endpoint);
  }
}

function addAllowedIp(ctx: Context, draft: PeerDraft, pair: Pair, item: string): void {
  const { cidr, hostBitsSet } = attempt(ctx, pair, "AllowedIPs", () => parseCidrDetailed(item));
  if (hostBitsSet) {
    warn(ctx, pair.line, "AllowedIPs", `${item} has host bits set; using ${cidr.text}`);
  }
  const owner = ctx.owners.get(cidr.text);
  if (owner === draft.line) {
    warn(ctx, pair.line, "AllowedIPs", `${cidr.text} is listed twice; ignoring the repeat`);
    return;
  }
  if (owner !== undefined) {
    const message = `${cidr.text} is already allowed for the [Peer] on line ${owner}`;
    fail(ctx, pair.line, "AllowedIPs", `${message} (two peers cannot own the same prefix)`);
  }
  ctx.owners.set(cidr.text, draft.line);
  draft.allowedIps.push(cidr);
}

function setKeepalive(ctx: Context, draft: PeerDraft, pair: Pair): void {
  once(ctx, draft.seen, pair, "PersistentKeepalive");
  const value = required(ctx, pair, "PersistentKeepalive");
  const seconds = value.toLowerCase() === "off" ? 0 : decimal(value, 65535);
  draft.persistentKeepaliveSeconds = seconds ?? fail(
    ctx,
    pair.line,
    "PersistentKeepalive",
    `"${value}" is not "off" or a decimal number of seconds from 0 to 65535`,
  );
}

function setMode(ctx: Context, draft: PeerDraft, pair: Pair): void {
  once(ctx, draft.seen, pair, "Mode");
  const value = required(ctx, pair, "Mode");
  const valid = `${MODES.slice(0, -1).join(", ")} or ${MODES[MODES.length - 1]}`;
  draft.mode = MODES.find((mode) => mode === value.toLowerCase()) ??
    fail(ctx, pair.line, "Mode", `"${value}" is not a mode (expected ${valid})`);
}

function setRedundancy(ctx: Context, draft: PeerDraft, pair: Pair): void {
  once(ctx, draft.seen, pair, "Redundancy");
  const value = required(ctx, pair, "Redundancy");
  const message = `"${value}" is not a decimal number of paths from 0 to ${MAX_REDUNDANCY}`;
  draft.redundancy = decimal(value, MAX_REDUNDANCY) ??
    fail(ctx, pair.line, "Redundancy", `${message} (0 = every path)`);
}

/** Redundancy only means something in some modes; Mode may come before or after it. */
function checkRedundancy(ctx: Context, draft: PeerDraft): void {
  const line = draft.seen.get("Redundancy");
  if (line === undefined || REDUNDANT_MODES.includes(draft.mode)) return;
  const mode = `this [Peer] has Mode = ${draft.mode} on line ${draft.seen.get("Mode")}`;
  fail(ctx, line, "Redundancy", `Redundancy applies to Mode = duplicate or adaptive (${mode})`);
}

function peerKey(ctx: Context, draft: PeerDraft, pair: Pair): void {
  switch (pair.key.toLowerCase()) {
    case "publickey":
      return setPublicKey(ctx, draft, pair);
    case "endpoint":
      return addEndpoints(ctx, draft, pair);
    case "allowedips":
      if (pair.value === "") return;
      for (const item of items(ctx, pair, "AllowedIPs")) addAllowedIp(ctx, draft, pair, item);
      return;
    case "persistentkeepalive":
      return setKeepalive(ctx, draft, pair);
    case "mode":
      return setMode(ctx, draft, pair);
    case "redundancy":
      return setRedundancy(ctx, draft, pair);
    default:
      return unknownKey(ctx, pair, "Peer");
  }
}

function closePeer(ctx: Context, draft: PeerDraft): PeerConfig {
  if (!draft.publicKey || !draft.publicKeyText) {
    fail(ctx, draft.line, "PublicKey", "[Peer] has no PublicKey");
  }
  checkRedundancy(ctx, draft);
  return {
    publicKey: draft.publicKey,
    publicKeyText: draft.publicKeyText,
    endpoints: draft.endpoints,
    allowedIps: draft.allowedIps,
    persistentKeepaliveSeconds: draft.persistentKeepaliveSeconds,
    mode: draft.mode,
    redundancy: draft.redundancy,
    line: draft.line,
  };
}

// ---- Sections and the whole file ----

function openInterface(line: number): InterfaceDraft {
  const hooks = { preUp: [], postUp: [], preDown: [], postDown: [] };
  return {
    kind: "interface",
    line,
    seen: new Map(),
    addresses: [],
    listenPort: 0,
    binds: [],
    bindLines: new Map(),
    hooks,
  };
}

function openPeer(line: number): PeerDraft {
  const draft = { kind: "peer" as const, line, seen: new Map<string, number>() };
  const defaults = { persistentKeepaliveSeconds: 0, mode: "duplicate" as const, redundancy: 0 };
  return { ...draft, endpoints: [], allowedIps: [], ...defaults };
}

/** Starts the section a header names; fails on an unknown or a second [Interface]. */
function openSection(ctx: Context, token: Section, iface?: InterfaceDraft): Draft {
  switch (token.name.toLowerCase()) {
    case "peer":
      return openPeer(token.line);
    case "interface":
      if (iface) fail(ctx, token.line, "[Interface]", `given twice (first on line ${iface.line})`);
      return openInterface(token.line);
    default: {
      const hint = closest(token.name, ["Interface", "Peer"]);
      const suffix = hint ? `; did you mean [${hint}]?` : "";
      return fail(ctx, token.line, `[${token.name}]`, `unknown section${suffix}`);
    }
  }
}

function buildConfig(ctx: Context, draft: InterfaceDraft, peers: PeerConfig[]): Config {
  return {
    privateKey: privateKeyOf(ctx, draft),
    addresses: draft.addresses,
    listenPort: draft.listenPort,
    mtu: draft.mtu ?? DEFAULT_MTU,
    binds: draft.binds,
    ...draft.hooks,
    peers,
  };
}

/** Parses a config file's text; throws `ConfigError` (file, line, key) on the first error. */
export function parseConfig(text: string, file: string): ParseResult {
  const ctx: Context = { file, warnings: [], owners: new Map(), publicKeys: new Map() };
  const peers: PeerConfig[] = [];
  let iface: InterfaceDraft | undefined;
  let current: Draft | undefined;
  const close = () => {
    if (current?.kind === "interface") closeInterface(ctx, current);
    if (current?.kind === "peer") peers.push(closePeer(ctx, current));
  };
  for (const token of tokenize(text, file)) {
    if (token.kind === "pair") {
      if (current === undefined) {
        const key = findKey([...INTERFACE_KEYS, ...PEER_KEYS], token.key) ?? token.key;
        fail(ctx, token.line, key, "must be inside an [Interface] or [Peer] section");
      }
      if (current.kind === "interface") interfaceKey(ctx, current, token);
      else peerKey(ctx, current, token);
      continue;
    }
    close();
    current = openSection(ctx, token, iface);
    if (current.kind === "interface") iface = current;
  }
  close();
  if (!iface) fail(ctx, 0, "[Interface]", "the file has no [Interface] section");
  return { config: buildConfig(ctx, iface, peers), warnings: ctx.warnings };
}
