/**
 * The client side of the control socket: one HTTP request to a running interface, and the list
 * of running interfaces (the sockets in the control directory).
 * @module
 */
import { controlDir, isInterfaceName, SOCKET_SUFFIX, socketPath } from "./paths.ts";

/** A response from the control socket. */
export interface ControlResponse {
  readonly status: number;
  readonly body: string;
}

/** The interface has no control socket, or nobody answers on it. */
export class NotRunningError extends Error {
  override name = "NotRunningError";
}

/** How long a request may take before it is abandoned (reload may resolve DNS names). */
export const REQUEST_TIMEOUT_MS = 30_000;

/**
 * Sends `method path` to interface `name`'s control socket and reads the whole response.
 * Throws {@link NotRunningError} when the interface is not running, Error on other failures.
 */
export async function request(
  name: string,
  method: string,
  path: string,
  dir: string = controlDir(),
  timeoutMs: number = REQUEST_TIMEOUT_MS,
  body?: string,
): Promise<ControlResponse> {
  const socket = socketPath(name, dir);
  await assertSocket(name, socket);
  const client = Deno.createHttpClient({ proxy: { transport: "unix", path: socket } });
  try {
    const response = await fetch(`http://localhost${path}`, {
      method,
      client,
      body,
      signal: AbortSignal.timeout(timeoutMs),
    });
    return { status: response.status, body: await response.text() };
  } catch (error) {
    if (error instanceof DOMException && error.name === "TimeoutError") {
      throw new Error(`interface ${name} did not answer within ${timeoutMs / 1000} s`);
    }
    // A socket file with nobody listening: the process died without removing it.
    await assertSocket(name, socket);
    if (!(await answers(socket))) {
      throw new NotRunningError(`interface ${name} is not running (stale socket ${socket})`);
    }
    throw new Error(`interface ${name}: ${(error as Error).message}`);
  } finally {
    client.close();
  }
}

/** Names of the interfaces that have a control socket in `dir`, sorted; [] when none. */
export async function listInterfaces(dir: string = controlDir()): Promise<string[]> {
  const names: string[] = [];
  try {
    for await (const entry of Deno.readDir(dir)) {
      if (!entry.name.endsWith(SOCKET_SUFFIX)) continue;
      const name = entry.name.slice(0, -SOCKET_SUFFIX.length);
      if (!isInterfaceName(name)) continue;
      const info = await Deno.lstat(`${dir}/${entry.name}`).catch(() => undefined);
      if (info?.isSocket) names.push(name);
    }
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return [];
    throw error;
  }
  return names.sort();
}

async function assertSocket(name: string, socket: string): Promise<void> {
  try {
    if ((await Deno.lstat(socket)).isSocket) return;
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  throw new NotRunningError(`interface ${name} is not running (no ${socket})`);
}

/** True when something accepts connections on the socket. */
async function answers(socket: string): Promise<boolean> {
  try {
    (await Deno.connect({ transport: "unix", path: socket })).close();
    return true;
  } catch {
    return false;
  }
}
