/**
 * Commands that act on a running interface through its control socket: `centipede down`,
 * `reload`, `syncconf` and `reset-timestamp` (each takes NAME or PATH/NAME.conf).
 * @module
 */
import { interfaceNameFromPath } from "../config/interface_name.ts";
import { request } from "../control/client.ts";
import { controlDir, isInterfaceName, socketPath } from "../control/paths.ts";

/** Options of the commands that talk to a running interface. */
export interface ControlCommandOptions {
  /** Control socket directory; default $CENTIPEDE_CONTROL_DIR or /run/centipede. */
  readonly dir?: string;
  /** How long `down` waits for the socket to disappear; default 5000 ms. */
  readonly timeoutMs?: number;
  /** Standard output and error (tests); default the process's. */
  readonly out?: (line: string) => void;
  readonly err?: (line: string) => void;
}

/** How long `down` waits for the interface to be gone. */
export const DOWN_TIMEOUT_MS = 5_000;

/**
 * The interface a command names: `wg0`, or `wg0` for a config path like `/etc/centipede/wg0.conf`.
 * Throws on anything else.
 */
export function targetInterface(target: string): string {
  if (target.includes("/") || target.endsWith(".conf")) return interfaceNameFromPath(target);
  if (!isInterfaceName(target)) {
    throw new Error(
      `"${target}" is neither an interface name (1-15 of a-z A-Z 0-9 _ = + . -) nor a NAME.conf path`,
    );
  }
  return target;
}

/**
 * Asks the interface to shut down, then waits until its control socket is gone (the `up`
 * process removes it last, after the TUN device and the hooks). 0 when down, 1 on error.
 */
export async function down(target: string, options: ControlCommandOptions = {}): Promise<number> {
  const err = options.err ?? console.error;
  const dir = options.dir ?? controlDir();
  const timeoutMs = options.timeoutMs ?? DOWN_TIMEOUT_MS;
  try {
    const name = targetInterface(target);
    const response = await request(name, "POST", "/shutdown", dir);
    if (response.status !== 200) {
      err(`interface ${name}: shutdown refused: ${response.status} ${response.body.trim()}`);
      return 1;
    }
    const path = socketPath(name, dir);
    const deadline = performance.now() + timeoutMs;
    while (await exists(path)) {
      if (performance.now() >= deadline) {
        err(`interface ${name} did not stop within ${timeoutMs / 1000} s`);
        return 1;
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    return 0;
  } catch (error) {
    err((error as Error).message);
    return 1;
  }
}

/**
 * `centipede syncconf NAME FILE`: sends FILE's text to the running interface, which applies its
 * peers in one step (sessions of peers that stay are kept). Exit 1 when it was rejected.
 */
export async function syncconf(
  target: string,
  file: string,
  options: ControlCommandOptions = {},
): Promise<number> {
  return await command(target, "syncconf", options, async () => ({
    path: `/syncconf?file=${encodeURIComponent(file)}`,
    body: await Deno.readTextFile(file),
  }));
}

/** Asks the interface to re-read its config file; prints the outcome. 0 when applied, else 1. */
export async function reload(target: string, options: ControlCommandOptions = {}): Promise<number> {
  return await command(target, "reload", options, () => ({ path: "/reload" }));
}

/**
 * `centipede reset-timestamp NAME PEER`: the interface forgets the newest handshake timestamp it
 * answered from PEER (a base64 public key), so that PEER's next initiation is answered even if
 * its clock went back. 0 when done, else 1.
 */
export async function resetTimestamp(
  target: string,
  peer: string,
  options: ControlCommandOptions = {},
): Promise<number> {
  return await command(target, "reset-timestamp", options, () => ({
    path: `/reset-timestamp?peer=${encodeURIComponent(peer)}`,
  }));
}

/**
 * POSTs what `build` returns to the interface `target` names: prints the answer's body on
 * success (0); the reason on error (1), prefixed with the interface and `what` when the
 * interface refused.
 */
async function command(
  target: string,
  what: string,
  options: ControlCommandOptions,
  build: () => { path: string; body?: string } | Promise<{ path: string; body?: string }>,
): Promise<number> {
  const out = options.out ?? console.log;
  const err = options.err ?? console.error;
  try {
    const name = targetInterface(target);
    const { path, body: text } = await build();
    const dir = options.dir ?? controlDir();
    const response = await request(name, "POST", path, dir, undefined, text);
    const body = response.body.trim();
    if (response.status === 200) {
      if (body) out(body);
      return 0;
    }
    err(`interface ${name}: ${what} failed: ${body || `status ${response.status}`}`);
    return 1;
  } catch (error) {
    err((error as Error).message);
    return 1;
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}
