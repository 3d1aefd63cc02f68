/**
 * The engine: drives a `Device` from a TUN device, path sockets and one timer on Deno's event
 * loop. It owns the only clock read and the system randomness; everything else is the core's.
 *
 * Two ways to run:
 * - batched (FFI sockets and a `Poller`): one loop drains the TUN and every socket in batches
 *   with synchronous calls, flushes the sockets' send batches with one sendmmsg each, runs due
 *   timers, and parks in poll(2) only when there is no work. See `#batchLoop`.
 * - portable (`Deno.listenDatagram` sockets): one async loop per socket and one for the TUN,
 *   with a single timer re-armed after each input.
 *
 * With a TUN that has virtio-net headers (offloads), TCP super-packets read from it are cut into
 * segments before the device sees them (`lib/core/tso.ts`), and TCP segments the device delivers
 * are joined before they are written (`lib/core/gro.ts`); the device only ever sees packets.
 * @module
 */
import type { AeadBackend } from "../core/aead.ts";
import { DATA_HEADER_BYTES, MAX_DATAGRAM_BYTES, TAG_BYTES } from "../core/constants.ts";
import { Device, type DevicePeer } from "../core/device.ts";
import { Coalescer } from "../core/gro.ts";
import { completeChecksum, cutSegments } from "../core/tso.ts";
import { newVnetHeader, readVnetHeader, VNET_GSO_NONE, VNET_HEADER_BYTES } from "../core/vnet.ts";
import type { DropCounters } from "../core/drops.ts";
import type { Logger } from "../core/logger.ts";
import type { Output } from "../core/output.ts";
import type { Endpoint, LocalEnd } from "../core/path.ts";
import { DeadlineTimer } from "./deadline_timer.ts";
import { Housekeeping, wallMinusMonotonicMs } from "./housekeeping.ts";
import type { BatchSocket, PathSocket, Poller, TunDevice } from "./ports.ts";

/** Ms the TUN loop parks before checking whether the engine was closed. */
const PARK_TIMEOUT_MS = 200;
/** Packets drained from the TUN per round, at most. */
const TUN_BATCH_PACKETS = 64;
/**
 * A round also stops reading the TUN once it has read this many bytes (eight TCP super-packets):
 * datagrams that arrived meanwhile, a ping's reply or the flow's ACKs, wait for the round to end.
 * With up to 64 super-packets per round a ping beside a saturating TCP flow took 4.0-5.3 ms on
 * average; with this bound 2.4-3.9 ms, for about 5 % of the flow's rate (docs/DATAPATH.md).
 */
const TUN_BATCH_BYTES = 512 * 1024;
/** Busy rounds of the batched loop between yields to the event loop (signals, control socket). */
const ROUNDS_PER_YIELD = 8;
/** Longest the busy loop keeps the event loop waiting, however few rounds that took. */
const BUSY_TURN_INTERVAL_MS = 2;
/**
 * After traffic, the loop waits in short synchronous polls (kernel wake-up in microseconds) for
 * this long before it parks on the thread pool (a hop of tens of microseconds each way, but no
 * wake-ups at all while idle: phones and metered links sleep).
 */
const SYNC_WAIT_WINDOW_MS = 1_000;
/**
 * Longest synchronous poll: the event loop (signals, control socket) runs between them. Give it
 * to the poller as its `sliceMs` (`ffi/poller.ts`), so that a packet waking the poll costs no
 * timer.
 */
export const SYNC_WAIT_SLICE_MS = 1;
/**
 * While the loop is busy, the event loop's turn goes through the thread pool at most this often,
 * so that Deno takes in the control socket, signals and worker messages (see `Poller.pass`).
 */
const BUSY_PASS_INTERVAL_MS = 10;
/**
 * After the poller's doorbell (the control socket's listener) rang, the quiet slices pass through
 * the thread pool for this long instead of `setImmediate`, so that Deno accepts the connection,
 * reads the request and writes the answer at once rather than after some 60 turns.
 */
const DOORBELL_PASSES_MS = 50;
/**
 * Bytes of one packet region: data header room, the largest packet, tag room, rounded up to a
 * multiple of 64 so that the second region starts on a cache line. (Unrounded it is odd, and
 * every segment cut into the second region sat at an odd address, where the checksum cannot
 * read whole words.)
 */
const REGION_BYTES = Math.ceil((DATA_HEADER_BYTES + MAX_DATAGRAM_BYTES + TAG_BYTES) / 64) * 64;

/**
 * What the loops drive: the whole protocol (`Device`), or a worker's data plane (`Lane`).
 * Results leave through the `Output` the engine hands to `EngineOptions.core`.
 */
export interface EngineCore {
  readonly drops: DropCounters;
  start(now: number): void;
  handleOutbound(buf: Uint8Array, length: number, now: number): void;
  handleDatagram(buf: Uint8Array, length: number, local: number, from: Endpoint, now: number): void;
  handleTimeout(now: number): void;
  nextDeadline(now: number): number;
  /** Runs a stand-in packet through the data path without effects (keeps caches warm). */
  warm(): void;
  setLocals(locals: readonly LocalEnd[], now: number): void;
  /** Takes the wall clock again, as wall-clock ms minus monotonic ms (a `Device` does). */
  setWallClock?(epochOffsetMs: number): void;
  close(): void;
}

/** What an engine runs. */
export interface EngineOptions {
  readonly privateKey: Uint8Array;
  readonly peers: readonly DevicePeer[];
  readonly tun: TunDevice;
  /** One per local path end; index = the path's local end. */
  readonly sockets: readonly PathSocket[];
  /** Flags of each local path end (`Bind ... backup priority=N`); default regular, 0. */
  readonly ends?: readonly { backup: boolean; priority: number }[];
  /** With batch sockets: waits on the TUN and socket fds; enables the batched loop. */
  readonly poller?: Poller;
  readonly backend: AeadBackend;
  readonly logger: Logger;
  /** Called once when a loop fails for good (e.g. the TUN device was deleted under us). */
  readonly onFatal?: (error: Error) => void;
  /** Builds the core instead of a `Device` (the keys and peers are then unused). */
  readonly core?: (output: Output) => EngineCore;
}

/**
 * What the batched loop did, to count system calls per packet: every TUN read and write, every
 * recvmmsg, every flush that sent something (one sendmmsg), every poll.
 */
export interface IoCounters {
  /** Packets read from the TUN (segments of super-packets counted one by one) and datagrams. */
  packetsIn: number;
  tunReads: number;
  tunWrites: number;
  /** TUN reads that were TCP super-packets, and the segments cut from them. */
  superPacketsIn: number;
  segmentsCut: number;
  /** TUN writes that were joined TCP packets, and the segments joined into them. */
  superPacketsOut: number;
  segmentsJoined: number;
  receiveBatches: number;
  sendBatches: number;
  polls: number;
}

/** Zeroed I/O counters. */
export function newIoCounters(): IoCounters {
  return {
    packetsIn: 0,
    tunReads: 0,
    tunWrites: 0,
    superPacketsIn: 0,
    segmentsCut: 0,
    superPacketsOut: 0,
    segmentsJoined: 0,
    receiveBatches: 0,
    sendBatches: 0,
    polls: 0,
  };
}

/** A running interface (or one worker's share of it, with a `Lane` core). */
export class Engine<C extends EngineCore = Device> {
  readonly device: C;
  /** System calls of the batched loop (all zero in the portable loop). */
  readonly io: IoCounters = newIoCounters();
  /** `batched` or `portable`, for logs and `show`. */
  readonly loop: "batched" | "portable";
  /** True when the TUN takes and gives TCP super-packets (cut and joined here). */
  readonly offload: boolean;
  readonly #tun: TunDevice;
  #sockets: readonly PathSocket[];
  #batch: readonly BatchSocket[] | undefined;
  #poller: Poller | undefined;
  /** When the busy loop last gave the event loop its turn through the thread pool. */
  #passedAt = Number.NEGATIVE_INFINITY;
  /** Set when the device's deadlines moved outside the loop (new sockets). */
  #deadlineDirty = false;
  readonly #onFatal: (error: Error) => void;
  readonly #timer = new DeadlineTimer(() => this.#onTimer());
  readonly #housekeeping: Housekeeping;
  #closed = false;
  #loops: Promise<void>[] = [];
  /**
   * Packet memory of the TUN side: region A receives what the TUN hands over (behind room for a
   * data header, so a plain packet is sealed where it lies); region B takes the segments cut
   * from a super-packet in A, one at a time. One array, so cutting can use `copyWithin`.
   */
  readonly #mem = new Uint8Array(2 * REGION_BYTES);
  readonly #regionA = this.#mem.subarray(0, REGION_BYTES);
  readonly #regionB = this.#mem.subarray(REGION_BYTES);
  /** Where a TUN read goes: the packet at A + DATA_HEADER_BYTES, a virtio-net header before it. */
  readonly #readView: Uint8Array;
  readonly #vnet = newVnetHeader();
  /** Joins TCP segments on their way to a TUN with virtio-net headers. */
  readonly #coalescer: Coalescer | undefined;
  /** `now` for the segment callback. */
  #segmentNow = 0;
  readonly #emitSegment = (length: number) =>
    this.device.handleOutbound(this.#regionB, length, this.#segmentNow);

  constructor(options: EngineOptions) {
    this.#tun = options.tun;
    this.#sockets = options.sockets;
    this.#poller = options.poller;
    this.#onFatal = options.onFatal ?? (() => {});
    const batch = options.sockets.every(isBatchSocket) && options.poller && options.tun.fd >= 0;
    this.#batch = batch ? options.sockets as BatchSocket[] : undefined;
    this.loop = batch ? "batched" : "portable";
    const tun = options.tun;
    this.offload = tun.vnetHeader;
    const skip = tun.vnetHeader ? VNET_HEADER_BYTES : 0;
    this.#readView = this.#mem.subarray(
      DATA_HEADER_BYTES - skip,
      DATA_HEADER_BYTES + MAX_DATAGRAM_BYTES,
    );
    this.#coalescer = tun.vnetHeader
      ? new Coalescer((buf, offset, length) => this.#writeTun(buf, offset, length))
      : undefined;
    const output: Output = {
      transmit: this.#batch
        ? (local, to, buf, length) => void this.#batch![local].queue(buf, length, to)
        : (local, to, buf, length) => void this.#sockets[local].send(buf.subarray(0, length), to),
      deliver: (buf, offset, length) => {
        if (this.#coalescer) this.#coalescer.push(buf, offset, length);
        else this.#writeTun(buf, offset, length);
      },
    };
    this.device = (options.core?.(output) ?? new Device({
      privateKey: options.privateKey,
      peers: options.peers,
      locals: localEnds(options.sockets, options.ends),
      rng: { fill: (bytes) => void crypto.getRandomValues(bytes) },
      backend: options.backend,
      logger: options.logger,
      epochOffsetMs: wallMinusMonotonicMs(),
      output,
    })) as C;
    this.#housekeeping = new Housekeeping(this.device, options.logger);
  }

  /** Starts the loops and the first handshakes. */
  start(): void {
    this.device.start(performance.now());
    this.#housekeeping.start();
    if (this.#batch) {
      this.#flush();
      this.#loops.push(this.#guard(this.#batchLoop()));
      return;
    }
    this.#loops.push(this.#guard(this.#tunLoop()));
    this.#sockets.forEach((socket, i) =>
      this.#loops.push(this.#guard(this.#socketLoop(socket, i)))
    );
    this.#arm();
  }

  #guard(loop: Promise<void>): Promise<void> {
    return loop.catch((error) => {
      if (!this.#closed) this.#onFatal(error as Error);
    });
  }

  /**
   * Moves to new local path ends (a reload changed `Bind` or `ListenPort`): the old sockets are
   * closed, every peer's paths start over on the new ones, and sessions stay. In the batched loop
   * the new sockets must be batch sockets with a `poller` watching them and the TUN.
   */
  replaceSockets(
    sockets: readonly PathSocket[],
    ends: EngineOptions["ends"],
    poller?: Poller,
  ): void {
    if (this.#batch && (!poller || !sockets.every(isBatchSocket))) {
      throw new TypeError("the batched loop needs batch sockets and a poller");
    }
    const old = this.#sockets;
    const oldPoller = this.#poller;
    this.#sockets = sockets;
    if (this.#batch) {
      this.#batch = sockets as BatchSocket[];
      this.#poller = poller;
    }
    this.device.setLocals(localEnds(sockets, ends), performance.now());
    this.#deadlineDirty = true;
    for (const socket of old) socket.close();
    if (this.#batch) {
      oldPoller?.close();
      return;
    }
    sockets.forEach((socket, i) => this.#loops.push(this.#guard(this.#socketLoop(socket, i))));
    this.#timer.clear();
    this.#arm();
  }

  /** Stops the loops, closes the sockets and forgets the keys. The TUN is the caller's. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#timer.clear();
    this.#housekeeping.stop();
    this.#poller?.close();
    for (const socket of this.#sockets) socket.close();
    await Promise.allSettled(this.#loops);
    this.device.close();
  }

  /**
   * Hot loop of the batched engine. Each round: read up to TUN_BATCH_PACKETS packets (or
   * TUN_BATCH_BYTES) from the TUN and hand them to the device (which queues sealed datagrams on
   * the sockets), drain one recvmmsg batch per socket into the device (which writes packets to
   * the TUN), flush every socket's send batch, and run due timers. One clock read per step, no
   * allocation per packet. When a round found no work, park in poll() until the next deadline;
   * after a few busy rounds, yield to the event loop so signals and the control socket are
   * served.
   */
  async #batchLoop(): Promise<void> {
    const device = this.device;
    const tun = this.#tun;
    const readView = this.#readView;
    let deadline = device.nextDeadline(performance.now());
    let busyRounds = 0;
    let busySince = 0;
    let lastWorkAt = Number.NEGATIVE_INFINITY;
    let emptyWakes = 0;
    let passUntil = Number.NEGATIVE_INFINITY;
    const io = this.io;
    while (!this.#closed) {
      // Read each round: a reload may have replaced the sockets while the loop yielded.
      const sockets = this.#batch!;
      const poller = this.#poller!;
      let work = 0;
      let now = performance.now();
      if (this.#deadlineDirty) {
        this.#deadlineDirty = false;
        deadline = now;
      }
      let bytesRead = 0;
      for (let i = 0; i < TUN_BATCH_PACKETS && bytesRead < TUN_BATCH_BYTES; i++) {
        io.tunReads++;
        const length = tun.read(readView);
        if (length === 0) break;
        this.#fromTun(length, now);
        bytesRead += length;
        work++;
      }
      if (work > 0) {
        this.#flush();
        now = performance.now(); // sealing and sending took time; an empty read took none
      }
      for (let local = 0; local < sockets.length; local++) {
        const socket = sockets[local];
        io.receiveBatches++;
        const count = socket.receiveBatch();
        for (let i = 0; i < count; i++) {
          device.handleDatagram(socket.datagram(i), socket.length(i), local, socket.source(i), now);
        }
        work += count;
      }
      this.#flushJoined();
      if (work > 0) {
        io.packetsIn += work;
        this.#flush();
        deadline = Math.min(deadline, device.nextDeadline(now));
      }
      if (now >= deadline) {
        device.handleTimeout(now);
        this.#flushJoined();
        this.#flush();
        deadline = device.nextDeadline(now);
      }
      if (work === 0) {
        busyRounds = 0;
        io.polls++;
        const wait = Math.max(0, deadline - now);
        if (now - lastWorkAt < SYNC_WAIT_WINDOW_MS) {
          // A packet that woke the poll is handled at once; the event loop gets its turn after
          // a quiet slice, a few busy rounds, or wake-ups that found nothing to read.
          const ready = poller.waitSync(Math.min(wait, SYNC_WAIT_SLICE_MS));
          // A quiet slice: keep the data path hot for the next packet (lib/core/warm_path.ts).
          // Asking for the next deadline also reads the real peer's sessions and paths.
          if (!ready) {
            device.warm();
            deadline = Math.min(deadline, device.nextDeadline(now));
          }
          if (poller.rang()) passUntil = now + DOORBELL_PASSES_MS;
          if (now < passUntil) {
            emptyWakes = 0;
            await poller.pass();
          } else if (!ready || ++emptyWakes > 2) {
            emptyWakes = 0;
            await yieldToEventLoop();
          }
        } else {
          await poller.wait(Math.min(wait, PARK_TIMEOUT_MS));
        }
      } else {
        lastWorkAt = now;
        emptyWakes = 0;
        if (busyRounds++ === 0) busySince = now;
        if (busyRounds >= ROUNDS_PER_YIELD || now - busySince >= BUSY_TURN_INTERVAL_MS) {
          busyRounds = 0;
          await this.#busyTurn(now);
        }
      }
    }
  }

  /**
   * The event loop's turn between busy rounds: `setImmediate`, and at most every
   * BUSY_PASS_INTERVAL_MS a pass through the thread pool instead (tens of microseconds), during
   * which Deno polls for its own events. Deno's runtime does that only when no task is ready or
   * every few dozen tasks, so with `setImmediate` alone (always a task ready) a `show` under a
   * saturating TCP flow took up to 4 s; now at most about 0.4 s (docs/DATAPATH.md).
   */
  async #busyTurn(now: number): Promise<void> {
    if (now - this.#passedAt < BUSY_PASS_INTERVAL_MS) return await yieldToEventLoop();
    this.#passedAt = now;
    await this.#poller!.pass();
  }

  #flush(): void {
    for (const socket of this.#batch!) if (socket.flush() > 0) this.io.sendBatches++;
  }

  /** One TUN write, counted; a refused packet is counted as a drop. */
  #writeTun(buf: Uint8Array, offset: number, length: number): void {
    this.io.tunWrites++;
    if (!this.#tun.write(buf, offset, length)) this.device.drops.tunWriteFailed++;
  }

  /** Writes the TCP segments the coalescer holds (it holds none past this). */
  #flushJoined(): void {
    const coalescer = this.#coalescer;
    if (!coalescer) return;
    coalescer.flush();
    this.io.superPacketsOut = coalescer.joined;
    this.io.segmentsJoined = coalescer.joinedSegments;
  }

  /**
   * Hands what one TUN read returned (`length` bytes at the read view) to the device: as it is,
   * with its checksum completed, or cut into segments.
   */
  #fromTun(length: number, now: number): void {
    if (!this.#tun.vnetHeader) return this.device.handleOutbound(this.#regionA, length, now);
    const h = this.#vnet;
    const packet = length - VNET_HEADER_BYTES;
    readVnetHeader(this.#mem, DATA_HEADER_BYTES - VNET_HEADER_BYTES, h);
    if ((h.gsoType & 0x7f) === VNET_GSO_NONE) {
      if (packet > 0 && completeChecksum(this.#mem, DATA_HEADER_BYTES, packet, h)) {
        return this.device.handleOutbound(this.#regionA, packet, now);
      }
      return void this.device.drops.badInnerPacket++;
    }
    this.#segmentNow = now;
    const count = cutSegments(
      this.#mem,
      DATA_HEADER_BYTES,
      packet,
      h,
      REGION_BYTES + DATA_HEADER_BYTES,
      this.#emitSegment,
    );
    if (count < 0) return void this.device.drops.badInnerPacket++;
    this.io.superPacketsIn++;
    this.io.segmentsCut += count;
    this.io.packetsIn += count - 1;
  }

  async #tunLoop(): Promise<void> {
    while (!this.#closed) {
      if (!(await this.#tun.waitReadable(PARK_TIMEOUT_MS))) continue;
      for (let i = 0; i < TUN_BATCH_PACKETS && !this.#closed; i++) {
        const length = this.#tun.read(this.#readView);
        if (length === 0) break;
        this.#fromTun(length, performance.now());
      }
      this.#arm();
    }
  }

  async #socketLoop(socket: PathSocket, local: number): Promise<void> {
    const buf = new Uint8Array(MAX_DATAGRAM_BYTES);
    while (!this.#closed) {
      const received = await socket.receive(buf);
      if (!received) return;
      this.device.handleDatagram(buf, received.length, local, received.from, performance.now());
      this.#flushJoined();
      this.#arm();
    }
  }

  /** Re-arms the single timer when the device's next deadline is earlier than the armed one. */
  #arm(): void {
    if (this.#closed) return;
    const now = performance.now();
    this.#timer.arm(this.device.nextDeadline(now), now);
  }

  #onTimer(): void {
    this.device.handleTimeout(performance.now());
    this.#flushJoined();
    this.#arm();
  }
}

/** The device's view of each socket: its families and the `Bind` flags. */
export function localEnds(sockets: readonly PathSocket[], ends: EngineOptions["ends"]) {
  return sockets.map((s, i) => ({
    family: s.families.length === 1 ? s.families[0] : 0 as const,
    backup: ends?.[i]?.backup ?? false,
    priority: ends?.[i]?.priority ?? 0,
  }));
}

function isBatchSocket(socket: PathSocket): socket is BatchSocket {
  return typeof (socket as Partial<BatchSocket>).receiveBatch === "function";
}

/**
 * Lets the event loop run once (signal handlers, timers, the control socket). `setImmediate`
 * costs about 3 us here; `setTimeout(0)` is clamped to milliseconds once nested.
 */
function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
