/**
 * A two-peer, many-path network in virtual time. Peer A's local end i and peer B's local end i
 * are joined by link i (cross pairs are unroutable, like two separate networks). Each link has
 * a delay, jitter (which reorders), loss and duplication, and can be cut and restored.
 * Time jumps from event to event, so minutes of protocol run in milliseconds.
 */
import { DATA_HEADER_BYTES } from "../lib/core/constants.ts";
import { Device } from "../lib/core/device.ts";
import { nobleAead } from "../lib/core/aead_noble.ts";
import { publicKeyOf } from "../lib/core/crypto.ts";
import type { Endpoint } from "../lib/core/path.ts";
import type { Mode } from "../lib/config/config.ts";
import { SeededRng } from "./_packets.ts";

/** Impairments of one link, each direction alike. */
export interface LinkSpec {
  delayMs: number;
  jitterMs?: number;
  loss?: number;
  duplicate?: number;
  up?: boolean;
  /** Bottleneck rate in bytes per ms (tbf-like); a packet queued longer than 50 ms is dropped. */
  rateBytesPerMs?: number;
}

/** How the simulated peers are configured. */
export interface SimOptions {
  seed?: number;
  /** B also has A's addresses as endpoints (both initiate). */
  bHasEndpoints?: boolean;
  /** Scheduling mode of both peers. */
  mode?: Mode;
  redundancy?: number;
  /** Links whose local ends are `backup` on both sides. */
  backupLinks?: number[];
  /** `priority=N` of each link's local ends. */
  priorities?: number[];
  /** Where each device logs (default: nowhere); lines are prefixed with "a: " or "b: ". */
  log?: (line: string) => void;
}

/** One side of the simulation. */
export interface SimSide {
  readonly device: Device;
  readonly addresses: readonly Endpoint[];
  /** Inner packets delivered to this side's TUN, in order. */
  readonly delivered: Uint8Array[];
}

interface Event {
  at: number;
  seq: number;
  run: () => void;
}

/** The simulated network and its two peers. */
export class Sim {
  now = 1_000;
  readonly links: LinkSpec[];
  a: SimSide;
  b: SimSide;
  readonly rng: SeededRng;
  /** Datagrams dropped because a link's bottleneck queue was full. */
  queueDrops = 0;
  /** Datagrams put on the wire, by link. */
  readonly wire: { from: "a" | "b"; link: number; bytes: Uint8Array; at: number }[] = [];
  #events: Event[] = [];
  /** Per link and direction: when the bottleneck is free again. */
  #busyUntil = new Map<string, number>();
  #seq = 0;
  readonly #options: SimOptions;

  constructor(links: LinkSpec[], options: SimOptions = {}) {
    this.links = links.map((l) => ({ up: true, ...l }));
    this.rng = new SeededRng(options.seed ?? 7);
    this.#options = options;
    this.a = this.#side("a");
    this.b = this.#side("b");
  }

  /**
   * The side's process restarts: its device is closed and a new one, with the same key and
   * configuration but no state, takes its place. `clockAheadMs` sets its wall clock ahead of the
   * simulation's (default 0); `port` is its UDP port as the other side sees it (default 51820; a
   * new one is a NAT that mapped the restarted process anew: datagrams to the old port are lost).
   */
  restart(name: "a" | "b", options: { clockAheadMs?: number; port?: number } = {}): SimSide {
    const old = name === "a" ? this.a : this.b;
    old.device.close();
    const side = this.#side(name, options.clockAheadMs, options.port);
    if (name === "a") this.a = side;
    else this.b = side;
    return side;
  }

  /**
   * Side `name` (key byte 1 for a, 2 for b) with its peer configured; its clock `clockAheadMs`
   * ahead, its datagrams from `port`.
   */
  #side(name: "a" | "b", clockAheadMs = 0, port = 51820): SimSide {
    const options = this.#options;
    const addresses = (host: number, atPort = 51820) =>
      this.links.map((_, i) => ({ hostname: `10.0.${i}.${host}`, port: atPort }));
    const isA = name === "a";
    const key = new Uint8Array(32).fill(isA ? 1 : 2);
    const peerKey = new Uint8Array(32).fill(isA ? 2 : 1);
    const mine = addresses(isA ? 1 : 2, port);
    const theirs = isA ? addresses(2) : options.bHasEndpoints ? addresses(1) : [];
    const peerInner = isA ? "10.77.0.2" : "10.77.0.1";
    const log = options.log;
    const delivered: Uint8Array[] = [];
    const device = new Device({
      privateKey: key,
      peers: [{
        publicKey: publicKeyOf(peerKey),
        name: name === "a" ? "B" : "A",
        endpoints: theirs,
        persistentKeepaliveSeconds: 0,
        mode: options.mode,
        redundancy: options.redundancy,
        allowedIps: [{ bytes: new Uint8Array(peerInner.split(".").map(Number)), prefixLength: 32 }],
      }],
      locals: mine.map((_, i) => ({
        family: 4,
        backup: options.backupLinks?.includes(i) ?? false,
        priority: options.priorities?.[i] ?? 0,
      })),
      rng: this.rng,
      backend: nobleAead,
      epochOffsetMs: 1.7e12 + clockAheadMs,
      logger: log && {
        info: (line) => log(`${name}: ${line}`),
        debug() {},
      },
      output: {
        transmit: (local, to, buf, length) => this.#transmit(name, local, to, buf, length),
        deliver: (buf, offset, length) => void delivered.push(buf.slice(offset, offset + length)),
      },
    });
    return { device, addresses: mine, delivered };
  }

  #transmit(from: "a" | "b", local: number, to: Endpoint, buf: Uint8Array, length: number) {
    const bytes = buf.subarray(0, length);
    const there = from === "a" ? this.b : this.a;
    const here = from === "a" ? this.a : this.b;
    const target = there.addresses.findIndex((e) =>
      e.hostname === to.hostname && e.port === to.port
    );
    if (target !== local) return; // cross pairs do not route
    const link = this.links[local];
    const copy = bytes.slice();
    this.wire.push({ from, link: local, bytes: copy, at: this.now });
    if (!link.up || this.rng.float() < (link.loss ?? 0)) return;
    const queued = this.#queue(`${from}${local}`, link, copy.length);
    if (queued < 0) return void this.queueDrops++;
    const copies = this.rng.float() < (link.duplicate ?? 0) ? 2 : 1;
    for (let c = 0; c < copies; c++) {
      const delay = queued + link.delayMs + this.rng.float() * (link.jitterMs ?? 0);
      const src = here.addresses[local];
      this.at(this.now + delay, () => {
        if (!this.links[local].up) return;
        const buf = copy.slice();
        there.device.handleDatagram(buf, buf.length, local, src, this.now);
      });
    }
  }

  /** Queueing delay at the link's bottleneck, or -1 when its 50 ms queue is full. */
  #queue(key: string, link: LinkSpec, bytes: number): number {
    if (!link.rateBytesPerMs) return 0;
    const start = Math.max(this.now, this.#busyUntil.get(key) ?? 0);
    if (start - this.now > 50) return -1;
    const done = start + bytes / link.rateBytesPerMs;
    this.#busyUntil.set(key, done);
    return done - this.now;
  }

  /** Schedules `run` at virtual time `at`. */
  at(at: number, run: () => void): void {
    const events = this.#events;
    let lo = 0;
    let hi = events.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (events[mid].at <= at) lo = mid + 1;
      else hi = mid;
    }
    events.splice(lo, 0, { at, seq: this.#seq++, run });
  }

  /** Sends an inner packet from one side, as if read from its TUN. */
  send(from: "a" | "b", packet: Uint8Array): void {
    const buf = new Uint8Array(packet.length + 64);
    buf.set(packet, DATA_HEADER_BYTES);
    (from === "a" ? this.a : this.b).device.handleOutbound(buf, packet.length, this.now);
  }

  /**
   * Runs events and device timers until virtual time `until`. Throws when a device's timer fires
   * at the same instant over and over (a deadline its `handleTimeout` does not move on): in real
   * time that is a busy loop.
   */
  runUntil(until: number): void {
    let firedAt = Number.NaN;
    let firings = 0;
    for (;;) {
      const deadline = Math.min(
        this.a.device.nextDeadline(this.now),
        this.b.device.nextDeadline(this.now),
      );
      const next = this.#events[0];
      const t = Math.min(next?.at ?? Infinity, deadline);
      if (t > until) break;
      this.now = Math.max(this.now, t);
      if (next && next.at <= deadline) {
        this.#events.shift();
        next.run();
      } else {
        firings = firedAt === this.now ? firings + 1 : 0;
        firedAt = this.now;
        if (firings === 1_000) throw new Error(`a timer fires again and again at ${this.now} ms`);
        this.a.device.handleTimeout(this.now);
        this.b.device.handleTimeout(this.now);
      }
    }
    this.now = Math.max(this.now, until);
  }

  /** Advances virtual time by `ms`. */
  run(ms: number): void {
    this.runUntil(this.now + ms);
  }
}
