/**
 * Reading a config file for `up` and reload: permissions warning, parsing, and the checks and
 * name resolution that turn its peers into the device's peers.
 * @module
 */
import { encodeKey } from "../config/base64_key.ts";
import { type Config, ConfigError, type PeerConfig } from "../config/config.ts";
import { parseConfig } from "../config/parse.ts";
import { isValidPublicKey, publicKeyOf } from "../core/crypto.ts";
import type { DevicePeer } from "../core/device.ts";
import type { Endpoint } from "../core/path.ts";

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

/** The first A and the first AAAA record of `host`. */
async function resolveName(host: string): Promise<string[]> {
  const found: string[] = [];
  for (const type of ["A", "AAAA"] as const) {
    try {
      found.push(...(await Deno.resolveDns(host, type)).slice(0, 1));
    } catch {
      // No record of this type: try the other family.
    }
  }
  return found;
}

function octal(mode: number): string {
  return (mode & 0o777).toString(8).padStart(4, "0");
}
