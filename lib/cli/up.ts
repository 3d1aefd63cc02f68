/**
 * `centipede up FILE`: read and check the config, create the TUN device, open the path sockets,
 * run the engine in the foreground, reload on SIGHUP, and tear everything down on SIGINT/SIGTERM.
 * @module
 */
import { encodeKey } from "../config/base64_key.ts";
import { type Config, ConfigError, type PeerConfig } from "../config/config.ts";
import { interfaceNameFromPath } from "../config/interface_name.ts";
import { parseConfig } from "../config/parse.ts";
import { routesToAdd } from "../config/routes.ts";
import { nobleAead } from "../core/aead_noble.ts";
import { isValidPublicKey, publicKeyOf } from "../core/crypto.ts";
import type { DevicePeer } from "../core/device.ts";
import type { Logger } from "../core/logger.ts";
import type { Endpoint } from "../core/path.ts";
import { Engine } from "../engine/engine.ts";
import type { PathSocket, TunDevice } from "../engine/ports.ts";
import { openOpensslAead } from "../../ffi/openssl_aead.ts";
import { openTun } from "../../ffi/tun_linux.ts";
import { ipLink, runHook } from "../host/ip_link.ts";
import { stderrLogger } from "../host/log.ts";
import { openUdpSocket, openWildcardSockets } from "../host/udp_socket.ts";

/** Options of `up`. */
export interface UpOptions {
  readonly debug: boolean;
}

/** Runs an interface until SIGINT/SIGTERM; resolves with the exit code. Throws on setup errors. */
export async function up(file: string, options: UpOptions): Promise<number> {
  const name = interfaceNameFromPath(file);
  const config = await loadConfig(file);
  const peers = await devicePeers(config, file);
  if (await ipLink.exists(name)) throw new Error(`interface ${name} already exists`);
  const log = stderrLogger(name, options.debug);
  for (const hook of config.preUp) await runHook(hook, name);
  const sockets = openSockets(config);
  let tun: TunDevice | undefined;
  try {
    tun = openTun(name);
    await ipLink.configure(name, {
      addresses: config.addresses.map((a) => a.text),
      mtu: config.mtu,
      routes: routesToAdd(config),
    });
    for (const hook of config.postUp) await runHook(hook, name);
  } catch (error) {
    tun?.close();
    for (const socket of sockets) socket.close();
    throw error;
  }
  const backend = openOpensslAead() ?? nobleAead;
  let fatal: Error | undefined;
  const stop = new AbortController();
  const engine = new Engine({
    privateKey: config.privateKey,
    peers,
    tun,
    sockets,
    ends: config.binds.length > 0 ? config.binds : undefined,
    backend,
    logger: log,
    onFatal: (error) => {
      fatal ??= error;
      stop.abort();
    },
  });
  engine.start();
  log.info(`interface ${name} is up: ${describe(config, sockets, backend.name)}`);
  await runUntilSignal(stop.signal, () => reload(file, name, config, engine, log));
  log.info(fatal ? `stopping: ${fatal.message}` : "shutting down");
  for (const hook of config.preDown) await runHook(hook, name).catch((e) => log.info(e.message));
  await engine.close();
  tun.close();
  for (const hook of config.postDown) await runHook(hook, name).catch((e) => log.info(e.message));
  return fatal ? 1 : 0;
}

/** Reads, permission-checks and parses a config file; prints warnings to stderr. */
export async function loadConfig(file: string): Promise<Config> {
  let text: string;
  try {
    text = await Deno.readTextFile(file);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) throw new Error(`\`${file}' does not exist`);
    throw new Error(`cannot read \`${file}': ${(error as Error).message}`);
  }
  const mode = (await Deno.stat(file)).mode;
  if (mode !== null && (mode & 0o077) !== 0) {
    console.error(`Warning: \`${file}' is readable by group or others (mode ${octal(mode)})`);
  }
  const { config, warnings } = parseConfig(text, file);
  for (const warning of warnings) console.error(`Warning: ${warning}`);
  return config;
}

/** The device's view of the configured peers: keys checked, endpoints resolved. */
export async function devicePeers(config: Config, file: string): Promise<DevicePeer[]> {
  const own = encodeKey(publicKeyOf(config.privateKey));
  const result: DevicePeer[] = [];
  for (const peer of config.peers) {
    if (peer.publicKeyText === own) {
      throw new ConfigError(file, peer.line, "PublicKey", "is this interface's own public key");
    }
    if (!isValidPublicKey(peer.publicKey)) {
      throw new ConfigError(file, peer.line, "PublicKey", "not a valid Ed25519 public key");
    }
    result.push({
      publicKey: peer.publicKey,
      name: peer.publicKeyText.slice(0, 8),
      endpoints: await resolveEndpoints(peer, file),
      persistentKeepaliveSeconds: peer.persistentKeepaliveSeconds,
      mode: peer.mode,
      redundancy: peer.redundancy,
      allowedIps: peer.allowedIps.map((c) => ({ bytes: c.bytes, prefixLength: c.prefixLength })),
    });
  }
  return result;
}

async function resolveEndpoints(peer: PeerConfig, file: string): Promise<Endpoint[]> {
  const out: Endpoint[] = [];
  for (const e of peer.endpoints) {
    if (e.family !== 0) {
      out.push({ hostname: e.host, port: e.port });
      continue;
    }
    const found = await resolveName(e.host);
    if (found.length === 0) {
      throw new ConfigError(file, peer.line, "Endpoint", `cannot resolve ${e.host}`);
    }
    for (const hostname of found) out.push({ hostname, port: e.port });
  }
  return out;
}

async function resolveName(host: string): Promise<string[]> {
  const found: string[] = [];
  for (const type of ["A", "AAAA"] as const) {
    try {
      found.push(...(await Deno.resolveDns(host, type)).slice(0, 1));
    } catch {
      // Try the other family.
    }
  }
  return found;
}

/** One socket per `Bind` address, all on one port; the wildcard address(es) when none. */
function openSockets(config: Config): PathSocket[] {
  if (config.binds.length === 0) return openWildcardSockets(config.listenPort);
  const sockets: PathSocket[] = [];
  try {
    let port = config.listenPort;
    for (const bind of config.binds) {
      const socket = openUdpSocket(bind.address, port);
      port = socket.localAddr.port;
      sockets.push(socket);
    }
  } catch (error) {
    for (const socket of sockets) socket.close();
    throw new Error(`cannot bind: ${(error as Error).message}`);
  }
  return sockets;
}

/** Waits for SIGINT, SIGTERM or `abort`, calling `onHangup` for each SIGHUP meanwhile. */
function runUntilSignal(abort: AbortSignal, onHangup: () => Promise<void>): Promise<void> {
  return new Promise((resolve) => {
    const stop = () => {
      Deno.removeSignalListener("SIGINT", stop);
      Deno.removeSignalListener("SIGTERM", stop);
      Deno.removeSignalListener("SIGHUP", hangup);
      resolve();
    };
    const hangup = () => void onHangup();
    Deno.addSignalListener("SIGINT", stop);
    Deno.addSignalListener("SIGTERM", stop);
    Deno.addSignalListener("SIGHUP", hangup);
    abort.addEventListener("abort", stop, { once: true });
  });
}

/**
 * SIGHUP: re-read the file and apply its peers in one step. A file that fails to parse changes
 * nothing. Interface keys (PrivateKey, ListenPort, Bind, Address, MTU) need a restart.
 */
async function reload(
  file: string,
  name: string,
  running: Config,
  engine: Engine,
  log: Logger,
): Promise<void> {
  try {
    const next = await loadConfig(file);
    const peers = await devicePeers(next, file);
    const restart = interfaceChanges(running, next);
    engine.device.setPeers(peers, performance.now());
    const routes = routesToAdd(next).filter((r) => !routesToAdd(running).includes(r));
    if (routes.length > 0) {
      await ipLink.configure(name, { addresses: [], mtu: running.mtu, routes });
    }
    log.info(`reloaded ${file}: ${peers.length} peer(s)`);
    if (restart.length > 0) log.info(`not applied until restart: ${restart.join(", ")}`);
  } catch (error) {
    log.info(`reload failed, nothing changed: ${(error as Error).message}`);
  }
}

function interfaceChanges(a: Config, b: Config): string[] {
  const changed: string[] = [];
  if (encodeKey(a.privateKey) !== encodeKey(b.privateKey)) changed.push("PrivateKey");
  if (a.listenPort !== b.listenPort) changed.push("ListenPort");
  if (JSON.stringify(a.binds) !== JSON.stringify(b.binds)) changed.push("Bind");
  if (a.addresses.map((x) => x.text).join() !== b.addresses.map((x) => x.text).join()) {
    changed.push("Address");
  }
  if (a.mtu !== b.mtu) changed.push("MTU");
  return changed;
}

function describe(config: Config, sockets: readonly PathSocket[], aead: string): string {
  const listen = sockets.map((s) => {
    const host = s.localAddr.hostname.includes(":")
      ? `[${s.localAddr.hostname}]`
      : s.localAddr.hostname;
    return `${host}:${s.localAddr.port}`;
  });
  const peers = `${config.peers.length} peer${config.peers.length === 1 ? "" : "s"}`;
  return `${peers}, mtu ${config.mtu}, listening on ${listen.join(" ")}` +
    `, backends: tun=ffi udp=deno aead=${aead}`;
}

function octal(mode: number): string {
  return (mode & 0o777).toString(8).padStart(4, "0");
}
