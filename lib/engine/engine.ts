/**
 * The engine: drives a `Device` from a TUN device, path sockets and one timer on Deno's event
 * loop. It owns the only clock read and the system randomness; everything else is the core's.
 *
 * Loops: one reads the TUN (park in `waitReadable`, then drain without blocking), one per path
 * socket receives datagrams; after each input the single timer is re-armed if the device's
 * next deadline moved earlier.
 * @module
 */
import type { AeadBackend } from "../core/aead.ts";
import { DATA_HEADER_BYTES, MAX_DATAGRAM_BYTES, TAG_BYTES } from "../core/constants.ts";
import { Device, type DevicePeer } from "../core/device.ts";
import type { Logger } from "../core/logger.ts";
import type { PathSocket, TunDevice } from "./ports.ts";

/** Ms the TUN loop parks before checking whether the engine was closed. */
const TUN_POLL_TIMEOUT_MS = 200;
/** Packets drained from the TUN before yielding to the event loop. */
const TUN_BATCH_PACKETS = 64;

/** What an engine runs. */
export interface EngineOptions {
  readonly privateKey: Uint8Array;
  readonly peers: readonly DevicePeer[];
  readonly tun: TunDevice;
  /** One per local path end; index = the path's local end. */
  readonly sockets: readonly PathSocket[];
  /** Flags of each local path end (`Bind ... backup priority=N`); default regular, 0. */
  readonly ends?: readonly { backup: boolean; priority: number }[];
  readonly backend: AeadBackend;
  readonly logger: Logger;
  /** Called once when a loop fails for good (e.g. the TUN device was deleted under us). */
  readonly onFatal?: (error: Error) => void;
}

/** A running interface. */
export class Engine {
  readonly device: Device;
  readonly #tun: TunDevice;
  readonly #sockets: readonly PathSocket[];
  readonly #onFatal: (error: Error) => void;
  #timer?: ReturnType<typeof setTimeout>;
  #timerAt = Number.POSITIVE_INFINITY;
  #closed = false;
  #loops: Promise<void>[] = [];

  constructor(options: EngineOptions) {
    this.#tun = options.tun;
    this.#sockets = options.sockets;
    this.#onFatal = options.onFatal ?? (() => {});
    this.device = new Device({
      privateKey: options.privateKey,
      peers: options.peers,
      locals: options.sockets.map((s, i) => ({
        family: s.families.length === 1 ? s.families[0] : 0,
        backup: options.ends?.[i]?.backup ?? false,
        priority: options.ends?.[i]?.priority ?? 0,
      })),
      rng: { fill: (bytes) => void crypto.getRandomValues(bytes) },
      backend: options.backend,
      logger: options.logger,
      epochOffsetMs: Date.now() - performance.now(),
      output: {
        transmit: (local, to, bytes) => void this.#sockets[local].send(bytes, to),
        deliver: (packet) => {
          if (!this.#tun.write(packet)) this.device.drops.tunWriteFailed++;
        },
      },
    });
  }

  /** Starts the loops and the first handshakes. */
  start(): void {
    this.device.start(performance.now());
    const guard = (loop: Promise<void>) =>
      loop.catch((error) => {
        if (!this.#closed) this.#onFatal(error as Error);
      });
    this.#loops.push(guard(this.#tunLoop()));
    this.#sockets.forEach((socket, i) => this.#loops.push(guard(this.#socketLoop(socket, i))));
    this.#arm();
  }

  /** Stops the loops, closes the sockets and forgets the keys. The TUN is the caller's. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#timer);
    for (const socket of this.#sockets) socket.close();
    await Promise.allSettled(this.#loops);
    this.device.close();
  }

  async #tunLoop(): Promise<void> {
    // One buffer for the life of the engine: header room before the packet, tag room after.
    const buf = new Uint8Array(DATA_HEADER_BYTES + MAX_DATAGRAM_BYTES + TAG_BYTES);
    const packetView = buf.subarray(DATA_HEADER_BYTES, DATA_HEADER_BYTES + MAX_DATAGRAM_BYTES);
    while (!this.#closed) {
      if (!(await this.#tun.waitReadable(TUN_POLL_TIMEOUT_MS))) continue;
      for (let i = 0; i < TUN_BATCH_PACKETS && !this.#closed; i++) {
        const length = this.#tun.read(packetView);
        if (length === 0) break;
        this.device.handleOutbound(buf, length, performance.now());
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
      this.#arm();
    }
  }

  /** Re-arms the single timer when the device's next deadline is earlier than the armed one. */
  #arm(): void {
    if (this.#closed) return;
    const now = performance.now();
    const at = this.device.nextDeadline(now);
    if (at >= this.#timerAt) return;
    clearTimeout(this.#timer);
    this.#timerAt = at;
    if (at === Number.POSITIVE_INFINITY) return;
    this.#timer = setTimeout(() => this.#onTimer(), Math.max(0, at - now));
  }

  #onTimer(): void {
    this.#timerAt = Number.POSITIVE_INFINITY;
    this.device.handleTimeout(performance.now());
    this.#arm();
  }
}
