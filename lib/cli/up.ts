/**
 * `centipede up FILE`: read and check the config, create the TUN device, open the path sockets,
 * run the engine in the foreground, reload on SIGHUP, and tear everything down on SIGINT/SIGTERM.
 * The control socket /run/centipede/NAME.sock (docs/CONTROL.md) serves `show`, `down` and
 * `reload` meanwhile; it is bound first and removed last.
 * @module
 */
import type { Config } from "../config/config.ts";
import { interfaceNameFromPath } from "../config/interface_name.ts";
import { routesToAdd } from "../config/routes.ts";
import type { AeadBackend } from "../core/aead.ts";
import { nobleAead } from "../core/aead_noble.ts";
import { serveControl } from "../control/server.ts";
import { interfaceStatus } from "../control/status.ts";
import { Engine, SYNC_WAIT_SLICE_MS } from "../engine/engine.ts";
import type { TunDevice } from "../engine/ports.ts";
import { openOpensslAead } from "../../ffi/openssl_aead.ts";
import { openPoller } from "../../ffi/poller.ts";
import { type LinuxTunDevice, openTunQueues } from "../../ffi/tun_linux.ts";
import type { FfiUdpSocket } from "../../ffi/udp_linux.ts";
import { WorkerEngine } from "../engine/worker_engine.ts";
import { ipLink, runHook } from "../host/ip_link.ts";
import { stderrLogger } from "../host/log.ts";
import {
  type CountedSocket,
  openPathSockets,
  openPathSocketSets,
  type Transport,
} from "../host/path_sockets.ts";
import { applyReload, applySyncconf, type Running } from "./apply_reload.ts";
import { devicePeers, loadConfig } from "./load_config.ts";
import { resetTimestamp } from "./reset_timestamp.ts";

/** Options of `up`. */
export interface UpOptions {
  readonly debug: boolean;
  /** UDP transport: `ffi` (batched, default) or `deno` (portable). */
  readonly udp: Transport;
  /** TUN offloads (virtio-net headers, TSO/GRO); only with the `ffi` transport. Default on. */
  readonly offload?: boolean;
  /**
   * Data plane worker threads (each with a TUN queue and its own sockets); 0 (the default) runs
   * the data plane on the main thread. Only with the `ffi` transport.
   */
  readonly workers?: number;
}

/** What `up` set up, to run and to tear down. */
interface Interface {
  readonly tun: TunDevice;
  readonly sockets: CountedSocket[];
  /** With workers: every TUN queue (`tun` is the first) and every lane's sockets. */
  readonly queues?: LinuxTunDevice[];
  readonly sets?: FfiUdpSocket[][];
}

/** Either engine: the data plane on this thread, or in workers. */
type AnyEngine = Engine | WorkerEngine;

/** Runs an interface until SIGINT/SIGTERM; resolves with the exit code. Throws on setup errors. */
export async function up(file: string, options: UpOptions): Promise<number> {
  const name = interfaceNameFromPath(file);
  const config = await loadConfig(file);
  const peers = await devicePeers(config, file);
  if (await ipLink.exists(name)) throw new Error(`interface ${name} already exists`);
  const log = stderrLogger(name, options.debug);
  const lanes = options.workers ?? 0;
  if (lanes > 0 && options.udp !== "ffi") throw new Error("--workers needs --udp=ffi");
  let running: Running | undefined = undefined;
  // Signals are ours from here on: one during set-up stops the interface once it is up.
  const stop = new AbortController();
  const stopped = untilSignal(stop, () => {
    if (running) applyReload(running).then(() => {}, () => {});
  });
  let sockets: CountedSocket[] = [];
  const startedAt = performance.now();
  const backend: AeadBackend = openOpensslAead() ?? nobleAead;
  // First, so that a second `up` of this interface fails before touching anything.
  const control = await serveControl({
    name,
    status: () => {
      if (!running) throw new Error(`interface ${name} is still starting`);
      if (running.engine instanceof WorkerEngine) running.engine.refresh();
      return interfaceStatus({
        name,
        device: running.engine.device,
        listen: sockets.map((s, i) => ({
          ...s.localAddr,
          stats: socketStats(running!.engine, s, i),
        })),
        backends: backends(running.engine, options.udp, backend),
        now: performance.now(),
        startedAt,
        io: running.engine.loop !== "portable" ? running.engine.io : undefined,
      });
    },
    onShutdown: () => stop.abort(),
    onReload: () =>
      running ? applyReload(running) : Promise.reject(new Error(`${name} is still starting`)),
    onSyncconf: (text, from) =>
      running
        ? applySyncconf(running, text, from)
        : Promise.reject(new Error(`${name} is still starting`)),
    onResetTimestamp: (peer) => {
      if (!running) throw new Error(`${name} is still starting`);
      return resetTimestamp(running.engine.device, peer);
    },
  });
  if (control.listenerFd === null) {
    log.debug(`no descriptor for ${control.path} in /proc: a show may wait for the loop`);
  }
  let iface: Interface;
  try {
    iface = await setUp(name, config, options.udp, options.offload !== false, lanes);
    sockets = iface.sockets;
  } catch (error) {
    await control.close();
    throw error;
  }
  let fatal: Error | undefined;
  const onFatal = (error: Error) => {
    fatal ??= error;
    stop.abort();
  };
  const engine: AnyEngine = iface.sets
    ? new WorkerEngine({
      privateKey: config.privateKey,
      peers,
      queues: iface.queues!,
      sockets: iface.sets,
      ends: endsOf(config),
      backend,
      logger: log,
      onFatal,
    })
    : new Engine({
      privateKey: config.privateKey,
      peers,
      tun: iface.tun,
      sockets: iface.sockets,
      ends: endsOf(config),
      poller: pollerFor(iface.tun, iface.sockets, options.udp, control.listenerFd),
      backend,
      logger: log,
      onFatal,
    });
  await engine.start();
  const rebind = async (next: Config) => {
    sockets = engine instanceof WorkerEngine
      ? await rebindLanes(engine, iface, next, running!.config)
      : await rebindSockets(engine, iface, next, running!.config, options.udp, control.listenerFd);
  };
  running = { file, name, engine, log, config, rebind };
  const current = running;
  const listen = sockets.map((s) => formatAddr(s.localAddr)).join(" ");
  const on = Object.entries(backends(engine, options.udp, backend)).map(([k, v]) => `${k}=${v}`);
  // Not when the data plane failed to start (a worker that could not load): it is stopping.
  if (!fatal) {
    log.info(
      `interface ${name} is up: ${plural(config.peers.length, "peer")}, mtu ${config.mtu}, ` +
        `listening on ${listen}, backends: ${on.join(" ")}`,
    );
  }
  await stopped;
  log.info(fatal ? `stopping: ${fatal.message}` : "shutting down");
  await tearDown(name, current.config, engine, iface, log);
  await control.close(); // last: `centipede down` returns when the socket is gone
  return fatal ? 1 : 0;
}

/** PreUp, sockets, TUN, addresses/MTU/routes, PostUp; undoes what it did when a step fails. */
async function setUp(
  name: string,
  config: Config,
  udp: Transport,
  offload: boolean,
  lanes: number,
): Promise<Interface> {
  let queues: LinuxTunDevice[] = [];
  let sets: FfiUdpSocket[][] | undefined;
  let sockets: CountedSocket[] = [];
  try {
    for (const hook of config.preUp) await runHook(hook, name);
    if (lanes > 0) {
      sets = await openPathSocketSets(config, lanes);
      sockets = sets[0];
    } else {
      sockets = await openPathSockets(config, udp);
    }
    queues = openTunQueues(name, Math.max(1, lanes), { offload: offload && udp === "ffi" });
    await ipLink.configure(name, {
      addresses: config.addresses.map((a) => a.text),
      mtu: config.mtu,
      routes: routesToAdd(config),
    });
    for (const hook of config.postUp) await runHook(hook, name);
    return lanes > 0 ? { tun: queues[0], sockets, queues, sets } : { tun: queues[0], sockets };
  } catch (error) {
    for (const queue of queues) queue.close();
    for (const socket of sets?.flat() ?? sockets) socket.close();
    throw error;
  }
}

/** Counters of local end `i` for `show`: the workers' sums, or the socket's own. */
function socketStats(engine: AnyEngine, socket: CountedSocket, i: number) {
  return engine instanceof WorkerEngine ? engine.socketStats(i) : socket.stats;
}

/**
 * `rebindSockets` for the workers: they pause while the old sockets close and the new ones
 * open (a few milliseconds without a data plane; the sessions stay).
 */
async function rebindLanes(
  engine: WorkerEngine,
  iface: Interface,
  next: Config,
  current: Config,
): Promise<CountedSocket[]> {
  const port = iface.sockets[0]?.localAddr.port ?? 0;
  const sets = iface.sets!;
  await engine.pause();
  for (const socket of sets.flat()) socket.close();
  const reopened = await openOrRestore(
    (config) => openPathSocketSets(config, engine.lanes),
    next,
    current,
    port,
  );
  const opened = reopened.opened;
  sets.splice(0, sets.length, ...opened);
  iface.sockets.splice(0, iface.sockets.length, ...opened[0]);
  await engine.resume(opened, endsOf(reopened.ends));
  if (reopened.failed) throw reopened.error;
  return opened[0];
}

/**
 * A poller over the TUN and the sockets for the batched loop (FFI transport only), with the
 * control socket's listener as its doorbell when its descriptor is known.
 */
function pollerFor(
  tun: TunDevice,
  sockets: readonly CountedSocket[],
  udp: Transport,
  doorbell: number | null,
) {
  if (udp !== "ffi") return undefined;
  const fds = [tun.fd, ...sockets.map((s) => (s as { fd?: number }).fd ?? -1)];
  return openPoller(fds, { doorbell: doorbell ?? -1, sliceMs: SYNC_WAIT_SLICE_MS });
}

/**
 * Reload with new `Bind`/`ListenPort`: closes the current sockets (the new ones may need the same
 * address and port), opens the new ones and hands them to the engine; the sessions stay. When
 * the new ones cannot be opened, the old ones are opened again and the error is thrown.
 * `ListenPort = 0` keeps the port in use, so that peers still reach us.
 */
async function rebindSockets(
  engine: Engine,
  iface: Interface,
  next: Config,
  current: Config,
  udp: Transport,
  doorbell: number | null,
): Promise<CountedSocket[]> {
  const port = iface.sockets[0]?.localAddr.port ?? 0;
  for (const socket of iface.sockets) socket.close();
  const reopened = await openOrRestore(
    (config) => openPathSockets(config, udp),
    next,
    current,
    port,
  );
  const sockets = reopened.opened;
  const poller = pollerFor(iface.tun, sockets, udp, doorbell);
  engine.replaceSockets(sockets, endsOf(reopened.ends), poller);
  iface.sockets.splice(0, iface.sockets.length, ...sockets);
  if (reopened.failed) throw reopened.error;
  return sockets;
}

/**
 * Opens the sockets of `next` (`ListenPort = 0`: the port in use); when that fails, those of
 * `current` again, and says so: the caller installs what was opened, then throws the error.
 */
async function openOrRestore<T>(
  open: (config: Config) => Promise<T>,
  next: Config,
  current: Config,
  port: number,
): Promise<{ opened: T; ends: Config; failed: boolean; error?: unknown }> {
  const withPort = (config: Config) => ({ ...config, listenPort: config.listenPort || port });
  try {
    return { opened: await open(withPort(next)), ends: next, failed: false };
  } catch (error) {
    return { opened: await open(withPort(current)), ends: current, failed: true, error };
  }
}

function endsOf(config: Config) {
  return config.binds.length > 0 ? config.binds : undefined;
}

/** PreDown, stop the engine, remove the interface, PostDown. Hook failures are only logged. */
async function tearDown(
  name: string,
  config: Config,
  engine: AnyEngine,
  iface: Interface,
  log: { info(message: string): void },
): Promise<void> {
  for (const hook of config.preDown) await runHook(hook, name).catch((e) => log.info(e.message));
  await engine.close();
  for (const socket of iface.sets?.flat() ?? []) socket.close(); // the workers' were ours
  for (const queue of iface.queues ?? [iface.tun]) queue.close();
  for (const hook of config.postDown) await runHook(hook, name).catch((e) => log.info(e.message));
}

/**
 * Installs the signal handlers now and resolves on SIGINT, SIGTERM or `stop.abort()` (the
 * control socket's shutdown, a fatal engine error), calling `onHangup` for each SIGHUP meanwhile.
 */
function untilSignal(stop: AbortController, onHangup: () => void): Promise<void> {
  return new Promise((resolve) => {
    const abort = () => stop.abort();
    const done = () => {
      Deno.removeSignalListener("SIGINT", abort);
      Deno.removeSignalListener("SIGTERM", abort);
      Deno.removeSignalListener("SIGHUP", onHangup);
      resolve();
    };
    Deno.addSignalListener("SIGINT", abort);
    Deno.addSignalListener("SIGTERM", abort);
    Deno.addSignalListener("SIGHUP", onHangup);
    stop.signal.addEventListener("abort", done, { once: true });
  });
}

/** The backends in use, as logs and `show` print them. */
function backends(engine: AnyEngine, udp: Transport, aead: AeadBackend): Record<string, string> {
  return {
    tun: "ffi",
    udp,
    aead: aead.name,
    loop: engine instanceof WorkerEngine ? `workers(${engine.lanes})` : engine.loop,
    offload: engine.offload ? "tso+gro" : "off",
  };
}

function formatAddr(addr: { hostname: string; port: number }): string {
  const host = addr.hostname.includes(":") ? `[${addr.hostname}]` : addr.hostname;
  return `${host}:${addr.port}`;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}
