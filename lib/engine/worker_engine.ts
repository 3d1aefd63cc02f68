/**
 * The engine with its data plane in worker threads (`up --workers=N`): one Worker per lane, each
 * owning a TUN queue (`IFF_MULTI_QUEUE`) and one socket per local path end (`SO_REUSEPORT`
 * groups, steered by session index), all opened by the caller on this thread.
 *
 * The main thread keeps the `Device`: handshakes, probes, path states, timers, reloads and
 * `show`. Workers run a `Lane` each (lib/core/lane.ts) and post what they cannot handle:
 *
 * ```
 *   main -> worker  {t:"start", tun, sockets, ends, stats, plan, aead, timeOrigin}
 *                   {t:"plan", plan}    whenever peers, paths or sessions change
 *                   {t:"stop"}          -> {t:"stopped"}
 *   worker -> main  {t:"datagram"|"packet"|"arrival"|"frame"|"rekey"|"traffic"|"fatal", ...}
 * ```
 * The device sends what it sends itself (handshakes, probes, staged packets) on the first lane's
 * sockets and writes to the first lane's TUN queue: the descriptors are process-wide, and the
 * kernel takes writes from two threads. Before its timers and before each frame, the device
 * takes in what the lanes counted (lane_ledger.ts).
 * @module
 */
import { DATA_HEADER_BYTES, TAG_BYTES } from "../core/constants.ts";
import { Device, type DevicePeer } from "../core/device.ts";
import {
  IO_AT,
  IO_FIELDS,
  type LanePlan,
  laneStatsMemory,
  SOCKET_FIELDS,
  SOCKETS_AT,
} from "../core/lane_plan.ts";
import type { Logger } from "../core/logger.ts";
import type { Endpoint } from "../core/path.ts";
import type { AeadBackend } from "../core/aead.ts";
import { VNET_HEADER_BYTES } from "../core/vnet.ts";
import type { SocketStatsInput } from "../control/status.ts";
import type { LinuxTunDevice, TunHandle } from "../../ffi/tun_linux.ts";
import type { FfiSocketHandle, FfiUdpSocket } from "../../ffi/udp_linux.ts";
import { type EngineOptions, type IoCounters, localEnds, newIoCounters } from "./engine.ts";
import { DeadlineTimer } from "./deadline_timer.ts";
import { Housekeeping, wallMinusMonotonicMs } from "./housekeeping.ts";
import { LaneLedger } from "./lane_ledger.ts";

/**
 * The worker's module: `lane_worker.ts` beside this file in a checkout or a compiled binary, and
 * `lane_worker.js` beside the bundle (`deno task bundle` writes both to `dist/`).
 */
const LANE_WORKER_URL = new URL(
  import.meta.url.endsWith(".ts") ? "./lane_worker.ts" : "./lane_worker.js",
  import.meta.url,
);

/** Messages to a worker. */
export type ToLane =
  | {
    readonly t: "start";
    readonly tun: TunHandle;
    readonly sockets: readonly FfiSocketHandle[];
    readonly ends: EngineOptions["ends"];
    readonly stats: SharedArrayBuffer;
    readonly plan: LanePlan;
    readonly aead: string;
    readonly timeOrigin: number;
  }
  | { readonly t: "plan"; readonly plan: LanePlan }
  | { readonly t: "stop" };

/** Messages from a worker. */
export type FromLane =
  | { readonly t: "started" | "stopped" }
  | { readonly t: "fatal"; readonly message: string }
  | { readonly t: "datagram"; readonly local: number; readonly from: Endpoint; bytes: Uint8Array }
  | { readonly t: "packet"; readonly bytes: Uint8Array }
  | {
    readonly t: "arrival";
    readonly index: number;
    readonly local: number;
    readonly from: Endpoint;
    readonly length: number;
  }
  | {
    readonly t: "frame";
    readonly index: number;
    readonly local: number;
    readonly from: Endpoint;
    readonly bytes: Uint8Array;
  }
  | { readonly t: "rekey" | "traffic"; readonly slot: number };

/** How long a worker may take to stop before it is terminated (ms). */
const STOP_TIMEOUT_MS = 2_000;

/** What a worker engine runs. */
export interface WorkerEngineOptions {
  readonly privateKey: Uint8Array;
  readonly peers: readonly DevicePeer[];
  /** One TUN queue per lane. */
  readonly queues: readonly LinuxTunDevice[];
  /** Per lane, one socket per local path end (same addresses and ports in every lane). */
  readonly sockets: readonly (readonly FfiUdpSocket[])[];
  readonly ends?: EngineOptions["ends"];
  readonly backend: AeadBackend;
  readonly logger: Logger;
  readonly onFatal?: (error: Error) => void;
}

/** A running interface whose data plane runs in workers. */
export class WorkerEngine {
  readonly device: Device;
  readonly loop = "workers";
  readonly offload: boolean;
  /** Number of lanes (workers). */
  readonly lanes: number;
  readonly #options: WorkerEngineOptions;
  #sockets: readonly (readonly FfiUdpSocket[])[];
  #ends: EngineOptions["ends"];
  #workers: Worker[] = [];
  #stats: Float64Array[] = [];
  #ledger: LaneLedger;
  readonly #timer = new DeadlineTimer(() => this.#onTimer());
  readonly #housekeeping: Housekeeping;
  #closed = false;
  /** Interned sender addresses (the path table caches paths by address object). */
  readonly #addresses = new Map<string, Endpoint>();

  constructor(options: WorkerEngineOptions) {
    this.#options = options;
    this.#sockets = options.sockets;
    this.#ends = options.ends;
    this.lanes = options.queues.length;
    this.offload = options.queues[0].vnetHeader;
    const out = new Uint8Array(VNET_HEADER_BYTES + 65_536);
    this.device = new Device({
      privateKey: options.privateKey,
      peers: options.peers,
      locals: localEnds(options.sockets[0], options.ends),
      rng: { fill: (bytes) => void crypto.getRandomValues(bytes) },
      backend: options.backend,
      logger: options.logger,
      epochOffsetMs: wallMinusMonotonicMs(),
      keepSessionKeys: true,
      output: {
        transmit: (local, to, buf, length) =>
          void this.#sockets[0][local].send(buf.subarray(0, length), to),
        deliver: (buf, offset, length) => {
          const tun = options.queues[0];
          if (!tun.vnetHeader) return void this.#write(buf, offset, length);
          // A plain packet behind a zeroed virtio-net header (no offload asked).
          out.fill(0, 0, VNET_HEADER_BYTES);
          out.set(buf.subarray(offset, offset + length), VNET_HEADER_BYTES);
          this.#write(out, 0, VNET_HEADER_BYTES + length);
        },
      },
    });
    this.#ledger = new LaneLedger(this.device, []);
    this.#housekeeping = new Housekeeping(this.device, options.logger, () => this.#ledger.fold());
  }

  #write(buf: Uint8Array, offset: number, length: number): void {
    if (!this.#options.queues[0].write(buf, offset, length)) this.device.drops.tunWriteFailed++;
  }

  /** Starts the workers and the first handshakes. */
  async start(): Promise<void> {
    this.device.start(performance.now());
    this.#housekeeping.start();
    await this.#startWorkers();
    this.#step();
  }

  async #startWorkers(): Promise<void> {
    this.#stats = this.#options.queues.map(() => new Float64Array(laneStatsMemory()));
    this.#ledger.restart(this.#stats);
    const plan = this.#ledger.plan(performance.now()) ?? { peers: [] };
    this.#workers = this.#options.queues.map((_queue, lane) => {
      const worker = new Worker(LANE_WORKER_URL, { type: "module" });
      worker.onmessage = (event: MessageEvent<FromLane>) => this.#onMessage(event.data);
      worker.onerror = (event) => {
        event.preventDefault();
        this.#fatal(new Error(`data plane worker ${lane}: ${event.message}`));
      };
      return worker;
    });
    await Promise.all(this.#workers.map((worker, lane) =>
      this.#request(worker, "started", {
        t: "start",
        tun: this.#options.queues[lane].handle,
        sockets: this.#sockets[lane].map((s) => s.handle),
        ends: this.#ends,
        stats: this.#stats[lane].buffer as SharedArrayBuffer,
        plan,
        aead: this.#options.backend.name,
        timeOrigin: performance.timeOrigin,
      })
    ));
  }

  /**
   * Posts `message` and resolves when the worker answers `reply`, fails (its error goes to
   * `onFatal` through `onerror`), or after a timeout.
   */
  #request(worker: Worker, reply: "started" | "stopped", message: ToLane): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timeout);
        worker.removeEventListener("message", onMessage);
        worker.removeEventListener("error", done);
        resolve();
      };
      const onMessage = (event: MessageEvent<FromLane>) => {
        if (event.data.t === reply) done();
      };
      const timeout = setTimeout(done, STOP_TIMEOUT_MS);
      worker.addEventListener("message", onMessage);
      worker.addEventListener("error", done);
      worker.postMessage(message);
    });
  }

  async #stopWorkers(): Promise<void> {
    const workers = this.#workers;
    this.#workers = [];
    await Promise.all(workers.map((w) => this.#request(w, "stopped", { t: "stop" })));
    for (const worker of workers) worker.terminate();
    this.#ledger.fold();
  }

  /**
   * Moves to new local path ends (a reload changed `Bind` or `ListenPort`): `stop` pauses the
   * workers so the caller may close the old sockets; `resume` starts them on the new ones.
   * Sessions stay; paths start over on the new ends.
   */
  async pause(): Promise<void> {
    await this.#stopWorkers();
  }

  async resume(
    sockets: readonly (readonly FfiUdpSocket[])[],
    ends: EngineOptions["ends"],
  ): Promise<void> {
    this.#sockets = sockets;
    this.#ends = ends;
    this.device.setLocals(localEnds(sockets[0], ends), performance.now());
    await this.#startWorkers();
    this.#step();
  }

  /** Stops the workers and forgets the keys. The TUN queues and sockets are the caller's. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#timer.clear();
    this.#housekeeping.stop();
    await this.#stopWorkers();
    this.device.close();
  }

  /**
   * Adds what the workers counted so far into the device's peers, paths and drops. The device
   * folds on its own timers and frames; `show` calls this first so that it reads every packet.
   */
  refresh(): void {
    this.#ledger.fold();
  }

  /** The workers' I/O counters, summed. */
  get io(): IoCounters {
    const names = Object.keys(newIoCounters()) as (keyof IoCounters)[];
    const io = newIoCounters();
    for (const stats of this.#stats) {
      names.slice(0, IO_FIELDS).forEach((name, i) => io[name] += stats[IO_AT + i]);
    }
    return io;
  }

  /** The counters of local end `local`, summed over the lanes' sockets. */
  socketStats(local: number): SocketStatsInput {
    const sum = [0, 0, 0, 0, 0, 0, 0];
    for (const stats of this.#stats) {
      for (let i = 0; i < sum.length; i++) sum[i] += stats[SOCKETS_AT + local * SOCKET_FIELDS + i];
    }
    const own = this.#sockets[0][local]?.stats;
    return {
      sent: sum[0] + (own?.sent ?? 0),
      sendErrors: sum[1] + (own?.sendErrors ?? 0),
      sendDropped: sum[2] + (own?.sendDropped ?? 0),
      receiveErrors: sum[3],
      lastSendError: own?.lastSendError ?? "",
      segmentedSends: sum[5],
      coalescedReceives: sum[6],
    };
  }

  #onMessage(message: FromLane): void {
    if (this.#closed) return;
    const device = this.device;
    const now = performance.now();
    switch (message.t) {
      case "datagram":
        device.handleDatagram(
          message.bytes,
          message.bytes.length,
          message.local,
          this.#intern(message.from),
          now,
        );
        break;
      case "packet": {
        const buf = new Uint8Array(DATA_HEADER_BYTES + message.bytes.length + TAG_BYTES);
        buf.set(message.bytes, DATA_HEADER_BYTES);
        device.handleOutbound(buf, message.bytes.length, now);
        break;
      }
      case "arrival":
        device.handleLaneArrival(
          message.index,
          message.local,
          this.#intern(message.from),
          message.length,
          now,
        );
        break;
      case "frame":
        this.#ledger.fold();
        device.handleLaneFrame(
          message.index,
          message.local,
          this.#intern(message.from),
          message.bytes,
          now,
        );
        break;
      case "rekey":
        this.#ledger.peerAt(message.slot)?.rekeyIfDue(now);
        break;
      case "traffic":
        this.#ledger.fold();
        break;
      case "fatal":
        return this.#fatal(new Error(message.message));
      default:
        return;
    }
    this.#step();
  }

  #fatal(error: Error): void {
    if (!this.#closed) this.#options.onFatal?.(error);
  }

  #intern(from: Endpoint): Endpoint {
    const key = `${from.hostname}|${from.port}`;
    let known = this.#addresses.get(key);
    if (!known) {
      if (this.#addresses.size > 4096) this.#addresses.clear();
      known = { hostname: from.hostname, port: from.port };
      this.#addresses.set(key, known);
    }
    return known;
  }

  /** After any input: new plan to the workers if something changed, timer re-armed. */
  #step(): void {
    if (this.#closed) return;
    const plan = this.#ledger.plan(performance.now());
    if (plan) { for (const worker of this.#workers) worker.postMessage({ t: "plan", plan }); }
    const now = performance.now();
    this.#timer.arm(this.device.nextDeadline(now), now);
  }

  #onTimer(): void {
    this.#ledger.fold();
    this.device.handleTimeout(performance.now());
    this.#step();
  }
}
