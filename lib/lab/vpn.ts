/**
 * The VPN under test in a lab: key pairs made with the real `genkey`/`pubkey` commands, config
 * files, and peers started with `main.ts up` inside a namespace (each with its own control
 * directory, since namespaces share the file system).
 * @module
 */
import type { Lab } from "./lab.ts";
import { V8_FLAGS_ARG } from "../host/v8_flags.ts";
import { describeFailure, type ExecOptions, type ExecResult, type Proc, run } from "./process.ts";

/** Absolute path of the repository root (with a trailing slash). */
export const REPO_ROOT: string = decodeURIComponent(new URL("../../", import.meta.url).pathname);

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

/** `deno run -A <V8 flags> main.ts ...args`, with the Deno that runs this code. */
export function centipedeArgv(...args: string[]): string[] {
  return [Deno.execPath(), "run", "-A", V8_FLAGS_ARG, MAIN_TS, ...args];
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
  /** `Mode =`: duplicate, failover, aggregate or adaptive. */
  readonly mode?: string;
  /** `Redundancy =` (duplicate and adaptive modes). */
  readonly redundancy?: number;
}

/** A whole config file. */
export interface InterfaceConfig {
  readonly privateKey: string;
  readonly address: string;
  readonly listenPort?: number;
  readonly mtu?: number;
  /** `Bind` items: an address, optionally followed by flags (`10.0.0.1 backup priority=1`). */
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
    if (p.mode !== undefined) lines.push(`Mode = ${p.mode}`);
    if (p.redundancy !== undefined) lines.push(`Redundancy = ${p.redundancy}`);
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

/** The interface name of a config file: its base name without `.conf`. */
export function interfaceOf(confPath: string): string {
  return confPath.slice(confPath.lastIndexOf("/") + 1).replace(/\.conf$/, "");
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
  const name = interfaceOf(confPath);
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
