/**
 * The control socket of a running interface: HTTP/1.1 over the unix socket
 * `/run/centipede/NAME.sock` (mode 0600, in a 0700 directory created when missing), the way
 * `centipede show`, `down` and `reload` reach the `up` process. Routes (docs/CONTROL.md):
 *
 * - `GET /status`: the {@link InterfaceStatus} as JSON
 * - `GET /metrics`: Prometheus text format
 * - `POST /reload`: re-reads the config; 200 with a summary, or 500 with the error
 * - `POST /syncconf?file=F`: applies the config text in the body, as a reload does
 * - `POST /reset-timestamp?peer=KEY`: forgets the newest handshake timestamp answered from a peer
 * - `POST /shutdown`: 200, then the interface goes down; the socket disappears when it is down
 *
 * Anything else is 404. Access control is the file system's: only the owner (root) may connect.
 * @module
 */
import { METRICS_CONTENT_TYPE, prometheusText } from "./metrics.ts";
import { controlDir, socketPath } from "./paths.ts";
import type { InterfaceStatus } from "./status.ts";
import { unixListenerFd } from "../host/unix_listener_fd.ts";

/** What the control server serves. */
export interface ControlOptions {
  /** Interface name: the socket is `${dir}/${name}.sock`. */
  readonly name: string;
  /** Directory of the socket; default $CENTIPEDE_CONTROL_DIR or /run/centipede. */
  readonly dir?: string;
  /** A fresh status snapshot; called for each `/status` and `/metrics` request. */
  readonly status: () => InterfaceStatus;
  /** Called once, after the response to the first `POST /shutdown` was handed to the server. */
  readonly onShutdown: () => void;
  /** Applies the config file again; resolves with a summary, rejects with the reason. */
  readonly onReload: () => Promise<string>;
  /**
   * Applies the peers of a config text (`syncconf`); `file` names it in error messages.
   * Resolves with a summary, rejects with the reason (then nothing changed).
   */
  readonly onSyncconf?: (text: string, file: string) => Promise<string>;
  /**
   * Forgets the newest handshake timestamp answered from the peer with this base64 public key;
   * returns a summary, throws when no such peer is configured.
   */
  readonly onResetTimestamp?: (peer: string) => string;
}

/** A running control server. */
export interface ControlServer {
  /** The socket's path. */
  readonly path: string;
  /**
   * The listening socket's descriptor (null when `/proc` does not tell): the engine's loop watches
   * it, without reading it, to let Deno's event loop take in a request at once.
   */
  readonly listenerFd: number | null;
  /** Stops serving (in-flight responses complete) and removes the socket. Idempotent. */
  close(): Promise<void>;
}

/**
 * Binds the control socket and serves it. Throws when the interface's socket is live (another
 * process serves it) or the path is not a socket; a stale socket (nobody listening) is replaced.
 */
export async function serveControl(options: ControlOptions): Promise<ControlServer> {
  const dir = options.dir ?? controlDir();
  const path = socketPath(options.name, dir);
  await ensureDirectory(dir);
  await removeStaleSocket(path, options.name);
  let shutdownRequested = false;
  const handler = async (request: Request): Promise<Response> => {
    const route = `${request.method} ${new URL(request.url).pathname}`;
    try {
      switch (route) {
        case "GET /status":
          return text(200, `${JSON.stringify(options.status(), null, 2)}\n`, JSON_TYPE);
        case "GET /metrics":
          return text(200, prometheusText(options.status()), METRICS_CONTENT_TYPE);
        case "POST /reload":
          try {
            return text(200, line(await options.onReload()));
          } catch (error) {
            return text(500, line(messageOf(error)));
          }
        case "POST /syncconf":
          if (!options.onSyncconf) return text(404, "not found\n");
          try {
            const file = new URL(request.url).searchParams.get("file") ?? "syncconf";
            return text(200, line(await options.onSyncconf(await request.text(), file)));
          } catch (error) {
            return text(500, line(messageOf(error)));
          }
        case "POST /reset-timestamp":
          if (!options.onResetTimestamp) return text(404, "not found\n");
          try {
            const peer = new URL(request.url).searchParams.get("peer") ?? "";
            return text(200, line(options.onResetTimestamp(peer)));
          } catch (error) {
            return text(400, line(messageOf(error)));
          }
        case "POST /shutdown":
          if (!shutdownRequested) {
            shutdownRequested = true;
            // After this response is on its way: closing the server lets it complete.
            setTimeout(options.onShutdown, 0);
          }
          return text(200, `shutting down ${options.name}\n`);
        default:
          return text(404, `not found: ${route}\n`);
      }
    } catch (error) {
      return text(500, line(`internal error: ${messageOf(error)}`));
    }
  };
  let server: Deno.HttpServer;
  try {
    server = Deno.serve({ path, onListen: () => {}, onError: internalError }, handler);
  } catch (error) {
    // Another `up` of the same name bound the socket between our check and our bind.
    if (error instanceof Deno.errors.AddrInUse) {
      throw new Error(`interface ${options.name} is already running (${path} is live)`);
    }
    throw error;
  }
  try {
    await Deno.chmod(path, 0o600);
  } catch (error) {
    await server.shutdown();
    await removeSocket(path);
    throw new Error(`cannot set the mode of ${path}: ${messageOf(error)}`);
  }
  let closing: Promise<void> | undefined;
  return {
    path,
    listenerFd: unixListenerFd(path),
    close: () =>
      closing ??= (async () => {
        await server.shutdown();
        await removeSocket(path);
      })(),
  };
}

const JSON_TYPE = "application/json; charset=utf-8";
const TEXT_TYPE = "text/plain; charset=utf-8";

function text(status: number, body: string, type = TEXT_TYPE): Response {
  return new Response(body, { status, headers: { "content-type": type } });
}

function internalError(error: unknown): Response {
  return text(500, line(`internal error: ${messageOf(error)}`));
}

function line(s: string): string {
  return s.endsWith("\n") ? s : `${s}\n`;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Creates `dir` with mode 0700 when it does not exist; an existing one is left as it is. */
async function ensureDirectory(dir: string): Promise<void> {
  try {
    const info = await Deno.stat(dir);
    if (!info.isDirectory) throw new Error(`${dir} is not a directory`);
    return;
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
  await Deno.chmod(dir, 0o700);
}

/** Removes a socket nobody listens on; throws when someone does or when it is not a socket. */
async function removeStaleSocket(path: string, name: string): Promise<void> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.lstat(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return;
    throw error;
  }
  if (!info.isSocket) throw new Error(`${path} exists and is not a socket; not touching it`);
  let conn: Deno.UnixConn;
  try {
    conn = await Deno.connect({ transport: "unix", path });
  } catch (error) {
    if (!(error instanceof Deno.errors.ConnectionRefused)) {
      throw new Error(`cannot check ${path}: ${messageOf(error)}`);
    }
    await removeSocket(path);
    return;
  }
  conn.close();
  throw new Error(`interface ${name} is already running (${path} is live)`);
}

/** Removes `path` if it is a socket. */
async function removeSocket(path: string): Promise<void> {
  try {
    if ((await Deno.lstat(path)).isSocket) await Deno.remove(path);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
}
