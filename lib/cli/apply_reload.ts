/**
 * SIGHUP and `centipede reload`: re-read the file and apply its peers in one step. A file that
 * fails to parse or check changes nothing. Interface keys (PrivateKey, ListenPort, Bind, Address,
 * MTU) need a restart and are reported as such.
 * @module
 */
import { encodeKey } from "../config/base64_key.ts";
import type { Config } from "../config/config.ts";
import { parseConfig } from "../config/parse.ts";
import { routesToAdd } from "../config/routes.ts";
import type { Logger } from "../core/logger.ts";
import type { Engine } from "../engine/engine.ts";
import { ipLink } from "../host/ip_link.ts";
import { devicePeers, loadConfig } from "./load_config.ts";

/** The running interface a reload applies to; `config` is updated on success. */
export interface Running {
  readonly file: string;
  readonly name: string;
  readonly engine: Engine;
  readonly log: Logger;
  config: Config;
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
    engine.device.setPeers(peers, performance.now());
    const before = new Set(routesToAdd(running.config));
    const routes = routesToAdd(next).filter((r) => !before.has(r));
    if (routes.length > 0) {
      await ipLink.configure(name, { addresses: [], mtu: running.config.mtu, routes });
    }
    // Interface keys stay as they run until a restart; the peers are the new ones.
    running.config = { ...running.config, peers: next.peers };
    let summary = `reloaded ${file}: ${peers.length} peer(s)`;
    if (restart.length > 0) summary += `; not applied until restart: ${restart.join(", ")}`;
    log.info(summary);
    return summary;
  } catch (error) {
    const message = `reload failed, nothing changed: ${(error as Error).message}`;
    log.info(message);
    throw new Error(message);
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
