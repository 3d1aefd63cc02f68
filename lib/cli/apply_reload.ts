/**
 * SIGHUP, `centipede reload` and `syncconf`: read the file and apply it in one step. A file that
 * fails to parse or check changes nothing. Peers (keys, endpoints, allowed IPs, keepalive, mode)
 * are applied with their sessions kept; new `Bind`/`ListenPort` move the sockets (sessions kept,
 * paths validated again); PrivateKey, Address and MTU need a restart and are reported as such.
 * @module
 */
import { encodeKey } from "../config/base64_key.ts";
import type { Config } from "../config/config.ts";
import { parseConfig } from "../config/parse.ts";
import { routesToAdd } from "../config/routes.ts";
import type { Logger } from "../core/logger.ts";
import type { Engine } from "../engine/engine.ts";
import type { WorkerEngine } from "../engine/worker_engine.ts";
import { ipLink } from "../host/ip_link.ts";
import { devicePeers, loadConfig } from "./load_config.ts";

/** The running interface a reload applies to; `config` is updated on success. */
export interface Running {
  readonly file: string;
  readonly name: string;
  readonly engine: Engine | WorkerEngine;
  readonly log: Logger;
  config: Config;
  /**
   * Moves the interface to the local path ends of `next` (its `Bind` and `ListenPort`); rejects,
   * with the old ends restored, when they cannot be opened.
   */
  readonly rebind: (next: Config) => Promise<void>;
}

/** Applies the file's peers; resolves with a summary, rejects (nothing changed) on errors. */
export function applyReload(running: Running): Promise<string> {
  return applyPeers(running, running.file, () => loadConfig(running.file));
}

/**
 * `centipede syncconf`: applies the peers of a config text sent over the control socket, as a
 * reload does, without touching the interface's own file. `file` names it in messages.
 */
export function applySyncconf(running: Running, text: string, file: string): Promise<string> {
  return applyPeers(running, file, () => {
    const { config, warnings } = parseConfig(text, file);
    for (const warning of warnings) running.log.info(`Warning: ${warning}`);
    return Promise.resolve(config);
  });
}

async function applyPeers(
  running: Running,
  file: string,
  read: () => Promise<Config>,
): Promise<string> {
  const { name, engine, log } = running;
  try {
    const next = await read();
    const peers = await devicePeers(next, file);
    const restart = interfaceChanges(running.config, next);
    const moved = localEndsChanged(running.config, next);
    if (moved) await running.rebind(next);
    engine.device.setPeers(peers, performance.now());
    const before = new Set(routesToAdd(running.config));
    const routes = routesToAdd(next).filter((r) => !before.has(r));
    if (routes.length > 0) {
      await ipLink.configure(name, { addresses: [], mtu: running.config.mtu, routes });
    }
    // Keys that need a restart stay as they run; the peers and the local ends are the new ones.
    running.config = moved
      ? { ...running.config, peers: next.peers, binds: next.binds, listenPort: next.listenPort }
      : { ...running.config, peers: next.peers };
    let summary = `reloaded ${file}: ${peers.length} peer(s)`;
    if (moved) summary += `, local ends ${describeEnds(next)}`;
    if (restart.length > 0) summary += `; not applied until restart: ${restart.join(", ")}`;
    log.info(summary);
    return summary;
  } catch (error) {
    const message = `reload failed, nothing changed: ${(error as Error).message}`;
    log.info(message);
    throw new Error(message);
  }
}

/** True when `Bind` or `ListenPort` differ: the sockets must be opened again. */
function localEndsChanged(a: Config, b: Config): boolean {
  return a.listenPort !== b.listenPort || JSON.stringify(a.binds) !== JSON.stringify(b.binds);
}

function describeEnds(config: Config): string {
  const binds = config.binds.length > 0 ? config.binds.map((b) => b.address).join(", ") : "any";
  return `${binds} port ${config.listenPort || "(kept)"}`;
}

/** Interface keys that a reload does not apply. */
function interfaceChanges(a: Config, b: Config): string[] {
  const changed: string[] = [];
  if (encodeKey(a.privateKey) !== encodeKey(b.privateKey)) changed.push("PrivateKey");
  if (a.addresses.map((x) => x.text).join() !== b.addresses.map((x) => x.text).join()) {
    changed.push("Address");
  }
  if (a.mtu !== b.mtu) changed.push("MTU");
  return changed;
}
