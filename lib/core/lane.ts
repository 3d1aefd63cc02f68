/**
 * A data plane lane: the part of the protocol one worker thread runs on its own TUN queue and
 * sockets. Sans-I/O like `Device`, and driven by the same engine loop.
 *
 * A lane seals and opens data packets of established sessions; the control plane (handshakes,
 * probes, path states, timers) stays with the `Device` on the main thread, which sends the lane a
 * `LanePlan` whenever peers, paths or sessions change. Everything a lane cannot handle goes to
 * the main thread through `LaneEvents`:
 * - datagrams that are not data for a session it knows (handshakes; a session still being
 *   confirmed), and packets for a peer without a session it may send with;
 * - for an authenticated packet from a path that is not active, or from an address not yet
 *   known, an `arrival` (the main thread learns and validates paths);
 * - probe and probe-ack frames, once authenticated;
 * - a wish to rekey, and the first traffic after a quiet spell.
 * The send counter and the replay window of each session are shared memory, so lanes seal and
 * open packets of one session at once and still use and accept every counter once. What a lane
 * counts goes to its statistics array (lane_plan.ts), which the main thread reads.
 * @module
 */
import type { AeadBackend } from "./aead.ts";
import { AllowedIps } from "./allowed_ips.ts";
import { isLatencyCritical } from "./classify.ts";
import {
  DATA_HEADER_BYTES,
  DATA_OVERHEAD_BYTES,
  FLAG_SEQUENCED,
  FRAME_PROBE,
  FRAME_PROBE_ACK,
  MSG_DATA,
  REJECT_AFTER_MESSAGES,
  REJECT_AFTER_TIME_MS,
  REKEY_AFTER_MESSAGES,
  REKEY_AFTER_TIME_MS,
  REKEY_AFTER_TIME_RESPONDER_MS,
} from "./constants.ts";
import { admitInner, checkCounter, deliverInner, DROPPED, DUPLICATE } from "./data_receive.ts";
import { type DropCounters, newDropCounters } from "./drops.ts";
import {
  type LanePeer,
  type LanePlan,
  PATH_ARRIVAL_BYTES,
  PATH_ARRIVALS,
  PATH_BYTES_RECEIVED,
  PATH_BYTES_SENT,
  PATH_DUPLICATES,
  PATH_FIRST_ARRIVALS,
  PATH_LAST_RECEIVE_AT,
  PATH_LAST_SEND_AT,
  PATH_PACKETS_RECEIVED,
  PATH_PACKETS_SENT,
  pathEstimates,
  PEER_DUPLICATES,
  PEER_LAST_TRAFFIC_AT,
  PEER_PACKETS_RECEIVED,
  PEER_PACKETS_SENT,
  RECORD_FIELDS,
} from "./lane_plan.ts";
import type { Output } from "./output.ts";
import { routeOutbound } from "./route_outbound.ts";
import { type Endpoint, Path, pathKey } from "./path.ts";
import { Scheduler } from "./scheduler.ts";
import { Session } from "./session.ts";
import { readU32, writeDataHeader } from "./wire.ts";
import { WarmPath } from "./warm_path.ts";

/** A quiet spell (ms) after which a lane's first packet of a peer tells the main thread. */
const QUIET_MS = 1_000;

/** What a lane hands to the main thread (each call copies what it needs). */
export interface LaneEvents {
  /** A datagram for the device (handshake, unknown session). */
  datagram(buf: Uint8Array, length: number, local: number, from: Endpoint): void;
  /** An IP packet at `buf[offset, +length)` for a peer the lane cannot send to. */
  packet(buf: Uint8Array, offset: number, length: number): void;
  /** An authenticated packet of session `index` arrived on a path that is not active. */
  arrival(index: number, local: number, from: Endpoint, length: number): void;
  /** An authenticated control frame of session `index`: `buf[offset, +length)`. */
  frame(
    index: number,
    local: number,
    from: Endpoint,
    buf: Uint8Array,
    offset: number,
    length: number,
  ): void;
  /** Peer `slot`'s current session is due to be replaced. */
  rekey(slot: number): void;
  /** Peer `slot` has traffic again after a quiet spell. */
  traffic(slot: number): void;
}

/** A lane's view of one path: the scheduler's `Path` and its record. */
interface LanePathState {
  readonly path: Path;
  readonly record: number;
}

/** A lane's view of one peer. */
class LanePeerState {
  readonly slot: number;
  readonly record: number;
  readonly scheduler = new Scheduler();
  paths: Path[] = [];
  byKey = new Map<string, LanePathState>();
  /** By address object (sockets intern them), so the hot path builds no string. */
  alias: Map<Endpoint, LanePathState>[] = [];
  current?: Session;
  rekeyAsked = false;
  lastTrafficAt = Number.NEGATIVE_INFINITY;

  constructor(slot: number) {
    this.slot = slot;
    this.record = slot * RECORD_FIELDS;
  }

  pathOf(local: number, from: Endpoint): LanePathState | undefined {
    const aliases = this.alias[local] ??= new Map();
    const cached = aliases.get(from);
    if (cached) return cached;
    const state = this.byKey.get(pathKey(local, from));
    if (state) aliases.set(from, state);
    return state;
  }
}

interface SessionEntry {
  readonly session: Session;
  readonly peer: LanePeerState;
}

/** One worker's data plane. */
export class Lane {
  readonly drops: DropCounters = newDropCounters();
  readonly #backend: AeadBackend;
  readonly #output: Output;
  readonly #events: LaneEvents;
  readonly #stats: Float64Array;
  /** Turns this thread's monotonic ms into the main thread's. */
  readonly #clockOffsetMs: number;
  #allowedIps = new AllowedIps<LanePeerState>();
  readonly #warmPath: WarmPath;
  #peers = new Map<number, LanePeerState>();
  /** Sessions by our index, as an int32 key (see Device). */
  #sessions = new Map<number, SessionEntry>();
  readonly #deliverCopy = (packet: Uint8Array) => this.#output.deliver(packet, 0, packet.length);

  constructor(options: {
    backend: AeadBackend;
    output: Output;
    events: LaneEvents;
    /** This lane's statistics (lane_plan.ts layout). */
    stats: Float64Array;
    /** Main-thread monotonic ms minus this thread's. */
    clockOffsetMs: number;
  }) {
    this.#backend = options.backend;
    this.#output = options.output;
    this.#events = options.events;
    this.#stats = options.stats;
    this.#clockOffsetMs = options.clockOffsetMs;
    this.#warmPath = new WarmPath(options.backend);
  }

  /** Takes a new snapshot of the peers; sessions it no longer lists are forgotten. */
  apply(plan: LanePlan): void {
    const peers = new Map<number, LanePeerState>();
    const sessions = new Map<number, SessionEntry>();
    const allowed = new AllowedIps<LanePeerState>();
    for (const p of plan.peers) {
      const peer = this.#peers.get(p.slot) ?? new LanePeerState(p.slot);
      peers.set(p.slot, peer);
      this.#applyPeer(peer, p, sessions);
      for (const prefix of p.allowedIps) allowed.insert(prefix.bytes, prefix.prefixLength, peer);
    }
    for (const [index, entry] of this.#sessions) {
      if (!sessions.has(index)) {
        entry.session.reorder.flush(this.#deliverCopy);
        entry.session.destroy();
      }
    }
    this.#peers = peers;
    this.#sessions = sessions;
    this.#allowedIps = allowed;
  }

  #applyPeer(peer: LanePeerState, p: LanePeer, sessions: Map<number, SessionEntry>): void {
    peer.scheduler.mode = p.mode;
    peer.scheduler.redundancy = p.redundancy;
    const byKey = new Map<string, LanePathState>();
    for (const lp of p.paths) {
      const remote = { hostname: lp.hostname, port: lp.port };
      const key = pathKey(lp.local, remote);
      const record = lp.slot * RECORD_FIELDS;
      const old = peer.byKey.get(key);
      const state = old?.record === record && old.path.backup === lp.backup &&
          old.path.priority === lp.priority
        ? old
        : {
          path: new Path(lp.local, remote, false, {
            family: 0,
            backup: lp.backup,
            priority: lp.priority,
          }),
          record,
        };
      Object.assign(state.path, pathEstimates(lp));
      byKey.set(key, state);
    }
    for (const [key, state] of peer.byKey) {
      if (byKey.get(key) !== state) peer.scheduler.forget(state.path);
    }
    const failover = [...byKey.values()].find((s) => s.record === p.failover * RECORD_FIELDS);
    peer.scheduler.failoverPath = failover?.path;
    peer.byKey = byKey;
    peer.alias = [];
    peer.paths = [...byKey.values()].map((s) => s.path);
    peer.current = undefined;
    for (const ls of p.sessions) {
      let entry = this.#sessions.get(ls.localIndex | 0);
      if (!entry && ls.keys) {
        const session = new Session({
          backend: this.#backend,
          keys: ls.keys,
          localIndex: ls.localIndex,
          remoteIndex: ls.remoteIndex,
          isInitiator: ls.isInitiator,
          now: ls.createdAt,
          memory: ls.memory,
        });
        entry = { session, peer };
      }
      if (!entry) continue; // Keys went to an earlier lane set; the device handles its data.
      entry.session.reorder.waitMs = ls.reorderWaitMs;
      sessions.set(ls.localIndex | 0, entry);
      if (ls.localIndex === p.current) {
        if (peer.current !== entry.session) peer.rekeyAsked = false;
        peer.current = entry.session;
      }
    }
  }

  /** Nothing to start: the device starts handshakes. */
  start(_now: number): void {}

  /** Local ends changed: the next plan brings the new paths. */
  setLocals(): void {}

  // ---- Outbound ----

  /**
   * One IP packet from the TUN queue at `buf[DATA_HEADER_BYTES, +length)` (TAG_BYTES of room
   * after it): sealed once and sent on the paths the peer's scheduler picks.
   */
  handleOutbound(buf: Uint8Array, length: number, now: number): void {
    const peer = routeOutbound(buf, length, this.#allowedIps, this.drops);
    if (!peer) return;
    const mainNow = now + this.#clockOffsetMs;
    const session = peer.current;
    const count = session && this.#sendable(session, mainNow)
      ? this.#select(peer, buf, length, mainNow)
      : 0;
    if (count === 0) return this.#events.packet(buf, DATA_HEADER_BYTES, length);
    this.#touch(peer, mainNow);
    const counter = session!.takeCounter();
    const scheduler = peer.scheduler;
    writeDataHeader(buf, session!.remoteIndex, counter, scheduler.sequenced ? FLAG_SEQUENCED : 0);
    session!.sender.seal(buf, DATA_HEADER_BYTES, length, counter);
    const total = length + DATA_OVERHEAD_BYTES;
    const stats = this.#stats;
    stats[peer.record + PEER_PACKETS_SENT]++;
    for (let i = 0; i < count; i++) {
      const path = scheduler.chosen[i];
      const record = peer.byKey.get(path.key)!.record;
      stats[record + PATH_PACKETS_SENT]++;
      stats[record + PATH_BYTES_SENT] += total;
      stats[record + PATH_LAST_SEND_AT] = mainNow;
      this.#output.transmit(path.local, path.remote, buf, total);
    }
    this.#maybeRekey(peer, session!, mainNow);
  }

  #sendable(session: Session, now: number): boolean {
    return session.age(now) < REJECT_AFTER_TIME_MS && session.sendCounter < REJECT_AFTER_MESSAGES;
  }

  #select(peer: LanePeerState, buf: Uint8Array, length: number, now: number): number {
    const scheduler = peer.scheduler;
    const critical = scheduler.mode === "adaptive" &&
      isLatencyCritical(buf, DATA_HEADER_BYTES, length);
    return scheduler.select(peer.paths, critical, now);
  }

  #maybeRekey(peer: LanePeerState, session: Session, now: number): void {
    if (peer.rekeyAsked) return;
    const limit = session.isInitiator ? REKEY_AFTER_TIME_MS : REKEY_AFTER_TIME_RESPONDER_MS;
    if (session.age(now) >= limit || session.sendCounter >= REKEY_AFTER_MESSAGES) {
      peer.rekeyAsked = true;
      this.#events.rekey(peer.slot);
    }
  }

  #touch(peer: LanePeerState, now: number): void {
    if (now - peer.lastTrafficAt >= QUIET_MS) this.#events.traffic(peer.slot);
    peer.lastTrafficAt = now;
    this.#stats[peer.record + PEER_LAST_TRAFFIC_AT] = now;
  }

  // ---- Inbound ----

  /**
   * One datagram from local end `local`. Data of a known session is opened here (the buffer is
   * decrypted in place); everything else goes to the device.
   */
  handleDatagram(buf: Uint8Array, length: number, local: number, from: Endpoint, now: number) {
    if (length < DATA_OVERHEAD_BYTES || buf[0] !== MSG_DATA) {
      return this.#events.datagram(buf, length, local, from);
    }
    const entry = this.#sessions.get(readU32(buf, 4) | 0);
    if (!entry) return this.#events.datagram(buf, length, local, from);
    if (((buf[1] & ~FLAG_SEQUENCED) | buf[2] | buf[3]) !== 0) {
      return void this.drops.unknownType++;
    }
    const session = entry.session;
    const mainNow = now + this.#clockOffsetMs;
    const counter = checkCounter(buf, session, mainNow, this.drops);
    if (counter === DROPPED) return;
    const peer = entry.peer;
    const path = peer.pathOf(local, from);
    if (counter === DUPLICATE) return this.#countCopy(peer, path, length);
    if (!session.receiver.open(buf, DATA_HEADER_BYTES, length - DATA_HEADER_BYTES, counter)) {
      return void this.drops.authFailed++;
    }
    if (!session.replay.accept(counter)) return this.#countCopy(peer, path, length);
    this.#arrived(entry, path, local, from, length, mainNow);
    const payload = length - DATA_OVERHEAD_BYTES;
    const kind = payload === 0 ? 0 : buf[DATA_HEADER_BYTES];
    if (payload === 0 || kind === FRAME_PROBE || kind === FRAME_PROBE_ACK) {
      session.reorder.push(counter, undefined, false, now, this.#deliverCopy);
      if (payload === 0) return;
      return this.#events.frame(session.localIndex, local, from, buf, DATA_HEADER_BYTES, payload);
    }
    this.#receivePacket(entry, buf, payload, counter, path, now);
  }

  #countCopy(peer: LanePeerState, path: LanePathState | undefined, length: number): void {
    this.drops.duplicate++;
    const stats = this.#stats;
    stats[peer.record + PEER_DUPLICATES]++;
    if (!path) return;
    stats[path.record + PATH_ARRIVALS]++;
    stats[path.record + PATH_ARRIVAL_BYTES] += length;
    stats[path.record + PATH_DUPLICATES]++;
  }

  /** Counts an authenticated packet for its path; the device hears of paths not active. */
  #arrived(
    entry: SessionEntry,
    path: LanePathState | undefined,
    local: number,
    from: Endpoint,
    length: number,
    now: number,
  ): void {
    if (!path || path.path.state !== "active") {
      this.#events.arrival(entry.session.localIndex, local, from, length);
    }
    if (!path) return;
    const stats = this.#stats;
    const r = path.record;
    stats[r + PATH_PACKETS_RECEIVED]++;
    stats[r + PATH_BYTES_RECEIVED] += length;
    stats[r + PATH_ARRIVALS]++;
    stats[r + PATH_ARRIVAL_BYTES] += length;
    stats[r + PATH_LAST_RECEIVE_AT] = now;
  }

  #receivePacket(
    entry: SessionEntry,
    buf: Uint8Array,
    payload: number,
    counter: number,
    path: LanePathState | undefined,
    now: number,
  ): void {
    const { session, peer } = entry;
    const deliver = this.#deliverCopy;
    const length = admitInner(
      buf,
      payload,
      peer,
      this.#allowedIps,
      this.drops,
      session,
      counter,
      now,
      deliver,
    );
    if (length < 0) return;
    this.#touch(peer, now + this.#clockOffsetMs);
    this.#stats[peer.record + PEER_PACKETS_RECEIVED]++;
    if (path) this.#stats[path.record + PATH_FIRST_ARRIVALS]++;
    deliverInner(buf, length, session, counter, now, this.#output, deliver);
  }

  // ---- Timers ----

  /** Releases striped packets whose gap timed out. */
  handleTimeout(now: number): void {
    for (const entry of this.#sessions.values()) {
      entry.session.reorder.handleTimeout(now, this.#deliverCopy);
    }
  }

  /** When `handleTimeout` next has work (this thread's clock). */
  nextDeadline(now: number): number {
    let t = Number.POSITIVE_INFINITY;
    for (const entry of this.#sessions.values()) {
      t = Math.min(t, entry.session.reorder.nextDeadline());
    }
    return Math.max(t, now);
  }

  /** Runs a stand-in packet through the data path to keep it hot (see `WarmPath`). */
  warm(): void {
    this.#warmPath.run(this.#allowedIps);
  }

  /** Forgets every key. */
  close(): void {
    for (const entry of this.#sessions.values()) entry.session.destroy();
    this.#sessions.clear();
    this.#warmPath.destroy();
  }
}
