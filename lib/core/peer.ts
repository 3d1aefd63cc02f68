/**
 * One peer: its handshake state, its sessions and its paths. Sans-I/O: every method takes `now`
 * (monotonic ms) and writes results through the device's `Output`.
 *
 * Moving parts:
 * - handshake (peer_handshake.ts: retransmission, replay and tie-breaking): a new attempt starts
 *   when the current session ages out (REKEY_AFTER_TIME_MS), when data waits and no session
 *   exists, or when every path went down; it is given up after HANDSHAKE_ATTEMPT_TIME_MS unless
 *   a session is still wanted.
 * - sessions: `next` (responder, unconfirmed), `current` (used to send), `previous` (receive only).
 * - paths (path_table.ts): probed every PATH_PROBE_INTERVAL_BUSY_MS while traffic flows (standby
 *   paths every PATH_PROBE_INTERVAL_STANDBY_MS), declared down when probed and silent.
 * - scheduling (scheduler.ts): which paths carry each packet, by the peer's mode.
 * - staged packets: held (bounded) while a handshake completes.
 * @module
 */
import type { Mode } from "../config/config.ts";
import { isLatencyCritical } from "./classify.ts";
import {
  CLOCK_OFFSET_LOG_MS,
  DATA_HEADER_BYTES,
  DATA_OVERHEAD_BYTES,
  FLAG_SEQUENCED,
  FRAME_PROBE,
  FRAME_PROBE_ACK,
  INITIATION_BYTES,
  MAX_STAGED_PACKETS,
  PATH_PROBE_INTERVAL_BUSY_MS,
  PATH_PROBE_INTERVAL_DOWN_MS,
  PATH_PROBE_INTERVAL_STANDBY_MS,
  PROBE_ACK_FRAME_BYTES,
  PROBE_FRAME_BYTES,
  REJECT_AFTER_MESSAGES,
  REJECT_AFTER_TIME_MS,
  REKEY_AFTER_MESSAGES,
  REKEY_AFTER_TIME_MS,
  REKEY_AFTER_TIME_RESPONDER_MS,
  REORDER_MIN_WAIT_MS,
  TAG_BYTES,
  TRAFFIC_ACTIVE_WINDOW_MS,
  UNVALIDATED_AMPLIFICATION,
} from "./constants.ts";
import { admitInner, deliverInner } from "./data_receive.ts";
import { type Initiation, mac1Key, type Response } from "./handshake.ts";
import type { Endpoint, Path } from "./path.ts";
import { describePath, PathTable } from "./path_table.ts";
import type { PeerContext } from "./peer_context.ts";
import { type Agreement, PeerHandshake } from "./peer_handshake.ts";
import { Scheduler } from "./scheduler.ts";
import { Session } from "./session.ts";
import { SessionSet } from "./session_set.ts";
import { readU32, writeDataHeader, writeFrameHead, writeU32 } from "./wire.ts";

/** What a peer is configured with. */
export interface PeerOptions {
  readonly publicKey: Uint8Array;
  /** Short printable name for logs (base64 of the key). */
  readonly name: string;
  /** Resolved remote path ends from `Endpoint`. */
  readonly endpoints: readonly Endpoint[];
  readonly persistentKeepaliveSeconds: number;
  /** Scheduling mode; default duplicate. */
  readonly mode?: Mode;
  /** Duplicate mode: send on this many best paths only; 0 = all. */
  readonly redundancy?: number;
  /** Inner prefixes this peer owns (the device routes by them); none when absent. */
  readonly allowedIps?: readonly { bytes: Uint8Array; prefixLength: number }[];
}

/** Per-peer counters shown by `show`. */
export interface PeerCounters {
  handshakesCompleted: number;
  lastHandshakeAt: number;
  packetsSent: number;
  packetsReceived: number;
  duplicatesDropped: number;
}

/** The per-peer state machine. */
export class Peer {
  readonly publicKey: Uint8Array;
  readonly name: string;
  readonly macKey: Uint8Array;
  /** Inner prefixes this peer owns (from its options; data plane lanes route by them). */
  allowedIps: readonly { bytes: Uint8Array; prefixLength: number }[];
  readonly scheduler: Scheduler;
  readonly counters: PeerCounters = {
    handshakesCompleted: 0,
    lastHandshakeAt: Number.NEGATIVE_INFINITY,
    packetsSent: 0,
    packetsReceived: 0,
    duplicatesDropped: 0,
  };
  readonly #ctx: PeerContext;
  readonly #table: PathTable;
  readonly #deliver: (packet: Uint8Array) => void;
  #keepaliveMs: number;
  readonly #sessions: SessionSet;
  readonly #handshake: PeerHandshake;
  #lastTrafficAt = Number.NEGATIVE_INFINITY;
  #staged: Uint8Array[] = [];
  #endpoints: readonly Endpoint[];
  #loggedClockOffsetMs: number | undefined = undefined;

  constructor(ctx: PeerContext, options: PeerOptions) {
    this.#ctx = ctx;
    this.publicKey = options.publicKey;
    this.name = options.name;
    this.macKey = mac1Key(options.publicKey);
    this.#keepaliveMs = options.persistentKeepaliveSeconds * 1000;
    this.allowedIps = options.allowedIps ?? [];
    this.scheduler = new Scheduler(options.mode, options.redundancy);
    this.scheduler.onSwitch = (from, to) =>
      this.#log(
        `failover ${from ? describePath(from) : "(none)"} -> ${describePath(to)}`,
      );
    this.#table = new PathTable(ctx.locals, (message) => this.#log(message));
    this.#table.onRemove = (path) => this.scheduler.forget(path);
    this.#endpoints = options.endpoints;
    this.#table.setEndpoints(options.endpoints);
    this.#deliver = (packet) => this.#ctx.output.deliver(packet, 0, packet.length);
    this.#sessions = new SessionSet((session) => this.#retire(session));
    this.#handshake = new PeerHandshake(ctx, this);
  }

  /** All paths, for status output. */
  get paths(): readonly Path[] {
    return this.#table.list;
  }

  /** The session used to send, if any. */
  get currentSession(): Session | undefined {
    return this.#sessions.current;
  }

  /** The peer's clock minus ours at the latest handshake, ms; undefined before the first. */
  get clockOffsetMs(): number | undefined {
    return this.#handshake.clockOffsetMs;
  }

  /**
   * How far ahead of our clock the newest initiation we answered from this peer is, ms (0 when
   * not ahead): its initiations from a clock further behind are refused as stale until then.
   */
  timestampAheadMs(now: number): number {
    return this.#handshake.timestampAheadMs(now);
  }

  /** Answers the peer's next initiation whatever its timestamp (`centipede reset-timestamp`). */
  forgetTimestamp(): void {
    this.#handshake.forgetTimestamp();
    this.#log("handshake timestamp forgotten: its next initiation is answered");
  }

  /** The confirmed sessions (current, previous): what data plane lanes may use. */
  get confirmedSessions(): Session[] {
    const list: Session[] = [];
    this.#sessions.forEach((s) => s !== this.#sessions.next && list.push(s));
    return list;
  }

  /** Applies a reloaded configuration; sessions and paths that stay are kept. */
  reconfigure(options: PeerOptions): void {
    this.#endpoints = options.endpoints;
    this.#table.setEndpoints(options.endpoints);
    this.#keepaliveMs = options.persistentKeepaliveSeconds * 1000;
    this.allowedIps = options.allowedIps ?? [];
    this.scheduler.mode = options.mode ?? "duplicate";
    this.scheduler.redundancy = options.redundancy ?? 0;
  }

  /** The device's local ends changed: paths start over, the sessions stay. */
  resetPaths(now: number): void {
    this.#table.reset(this.#ctx.locals, this.#endpoints);
    for (const path of this.#table.list) path.nextProbeAt = now;
  }

  #log(message: string): void {
    this.#ctx.logger.info(`peer ${this.name}: ${message}`);
  }

  // ---- Outbound ----

  /**
   * Seals the IP packet at `buf[DATA_HEADER_BYTES, +length)` (with TAG_BYTES of room after it)
   * and sends it on the paths the scheduler picks, or stages it while a handshake completes.
   */
  sendPacket(buf: Uint8Array, length: number, now: number): void {
    this.#touch(now);
    const session = this.#sendableSession(now);
    if (!session) {
      this.#stage(buf.slice(DATA_HEADER_BYTES, DATA_HEADER_BYTES + length));
      this.#ensureHandshake(now);
      return;
    }
    this.#sealAndSend(session, buf, length, now);
    this.counters.packetsSent++;
    this.#maybeRekey(session, now);
  }

  /** Starts a handshake now if none is under way (used at start-up for peers with endpoints). */
  initiate(now: number): void {
    this.#ensureHandshake(now);
  }

  #sendableSession(now: number): Session | undefined {
    const s = this.#sessions.current;
    if (!s) return undefined;
    if (s.age(now) >= REJECT_AFTER_TIME_MS || s.sendCounter >= REJECT_AFTER_MESSAGES) {
      return undefined;
    }
    return s;
  }

  #maybeRekey(session: Session, now: number): void {
    if (this.#handshake.pending) return;
    const limit = session.isInitiator ? REKEY_AFTER_TIME_MS : REKEY_AFTER_TIME_RESPONDER_MS;
    if (session.age(now) >= limit || session.sendCounter >= REKEY_AFTER_MESSAGES) {
      this.#ensureHandshake(now);
    }
  }

  #stage(packet: Uint8Array): void {
    if (this.#staged.length >= MAX_STAGED_PACKETS) {
      this.#staged.shift();
      this.#ctx.drops.noSession++;
    }
    this.#staged.push(packet);
  }

  /** Picks the paths, writes the header, seals once, and transmits the same bytes on each. */
  #sealAndSend(session: Session, buf: Uint8Array, length: number, now: number): void {
    const scheduler = this.scheduler;
    const critical = scheduler.mode === "adaptive" && length > 0 &&
      isLatencyCritical(buf, DATA_HEADER_BYTES, length);
    scheduler.sequenced = false;
    const count = length === 0 ? 0 : scheduler.select(this.#table.list, critical, now);
    const counter = session.takeCounter();
    writeDataHeader(buf, session.remoteIndex, counter, scheduler.sequenced ? FLAG_SEQUENCED : 0);
    session.sender.seal(buf, DATA_HEADER_BYTES, length, counter);
    const total = length + DATA_OVERHEAD_BYTES;
    for (let i = 0; i < count; i++) this.#transmit(scheduler.chosen[i], buf, total, now);
    if (count > 0) return;
    // Keepalives, or no usable path: every path we may send to (bounded when unvalidated).
    for (const path of this.#table.list) {
      if (path.maySend(total, UNVALIDATED_AMPLIFICATION)) this.#transmit(path, buf, total, now);
    }
  }

  /** Sends `buf[0, length)` on `path` and counts it. */
  #transmit(path: Path, buf: Uint8Array, length: number, now: number): void {
    path.packetsSent++;
    path.bytesSent += length;
    if (path.state === "validating") path.unvalidatedSent += length;
    path.lastSendAt = now;
    this.#ctx.output.transmit(path.local, path.remote, buf, length);
  }

  /** Seals a control frame already written at `scratch[DATA_HEADER_BYTES..]` on one path. */
  #sendFrame(session: Session, path: Path, length: number, now: number): void {
    const buf = this.#ctx.scratch;
    const counter = session.takeCounter();
    writeDataHeader(buf, session.remoteIndex, counter, 0);
    session.sender.seal(buf, DATA_HEADER_BYTES, length, counter);
    this.#transmit(path, buf, DATA_HEADER_BYTES + length + TAG_BYTES, now);
  }

  #sendProbe(session: Session, path: Path, now: number): void {
    if (!path.probeDue(now)) return; // the last one is still in flight
    path.probed((this.#ctx.randomU32() | 1) >>> 0, now);
    const buf = this.#ctx.scratch;
    writeFrameHead(buf, FRAME_PROBE, path.probeId);
    this.#sendFrame(session, path, PROBE_FRAME_BYTES, now);
  }

  #sendProbeAck(session: Session, path: Path, id: number, now: number): void {
    const buf = this.#ctx.scratch;
    writeFrameHead(buf, FRAME_PROBE_ACK, id);
    writeU32(buf, DATA_HEADER_BYTES + 8, path.arrivals >>> 0);
    writeU32(buf, DATA_HEADER_BYTES + 12, path.arrivalBytes >>> 0);
    this.#sendFrame(session, path, PROBE_ACK_FRAME_BYTES, now);
  }

  // ---- Handshake ----

  #ensureHandshake(now: number): void {
    if (this.#handshake.pending) return;
    this.#handshake.startAttempt(now);
    this.#sendInitiation(now);
  }

  /** A new initiation on every path we may send it on (bounded while unvalidated). */
  #sendInitiation(now: number): void {
    const candidates = this.#table.list.filter((p) =>
      p.maySend(INITIATION_BYTES, UNVALIDATED_AMPLIFICATION)
    );
    const message = this.#handshake.initiate(now, candidates.length > 0);
    if (!message) return;
    for (const path of candidates) this.#transmit(path, message, message.length, now);
    this.#ctx.logger.debug(`peer ${this.name}: handshake initiation sent`);
  }

  /**
   * An initiation from this peer passed the cheap checks: if it is answered, the new session
   * waits as `next` until the initiator's first data, and the response goes back on its path.
   */
  handleInitiation(msg: Uint8Array, init: Initiation, local: number, from: Endpoint, now: number) {
    const answered = this.#handshake.answer(msg, init, now);
    if (!answered) return;
    const [response, agreement] = answered;
    const next = this.#newSession(agreement, false, now);
    this.#sessions.setNext(next);
    this.#ctx.registerSession(next, this);
    const path = this.#table.learn(local, from, msg.length, now);
    if (path) this.#transmit(path, response, response.length, now);
    this.#ctx.logger.debug(`peer ${this.name}: answered handshake initiation`);
    this.#noteClock(now);
  }

  /** A response to our pending initiation passed the cheap checks. */
  handleResponse(msg: Uint8Array, resp: Response, local: number, from: Endpoint, now: number) {
    const agreement = this.#handshake.complete(msg, resp, now);
    if (!agreement) return;
    this.#noteClock(now);
    const session = this.#newSession(agreement, true, now);
    this.#ctx.registerSession(session, this);
    this.#install(session, now);
    // We sent the initiation to this address: its answer from there proves the path.
    const known = this.#table.get(local, from) !== undefined;
    const path = this.#table.learn(local, from, msg.length, now);
    if (path && known) {
      path.seedRtt(now - agreement.sentAt, now);
      this.#table.activate(path, now);
    }
    this.#flushStaged(session, now);
  }

  #newSession(agreement: Agreement, isInitiator: boolean, now: number): Session {
    return new Session({
      backend: this.#ctx.backend,
      keys: agreement.keys,
      localIndex: agreement.localIndex,
      remoteIndex: agreement.remoteIndex,
      isInitiator,
      now,
      keepKeys: this.#ctx.keepSessionKeys,
    });
  }

  /** Makes `session` current, keeping the old current one to receive in-flight packets. */
  #install(session: Session, now: number): void {
    this.#sessions.install(session);
    this.#noteHandshake(session, now);
  }

  /** Counts and logs a session that became current; every path is probed at once. */
  #noteHandshake(session: Session, now: number): void {
    this.counters.handshakesCompleted++;
    this.counters.lastHandshakeAt = now;
    this.#log(`handshake complete (${session.isInitiator ? "initiator" : "responder"})`);
    for (const path of this.#table.list) path.nextProbeAt = now;
  }

  /**
   * Logs the peer's clock offset when it first exceeds CLOCK_OFFSET_LOG_MS, and again each time
   * it moves by more than that.
   */
  #noteClock(now: number): void {
    const offset = this.#handshake.clockOffsetMs;
    if (offset === undefined) return;
    const logged = this.#loggedClockOffsetMs;
    const moved = logged === undefined
      ? Math.abs(offset) > CLOCK_OFFSET_LOG_MS
      : Math.abs(offset - logged) > CLOCK_OFFSET_LOG_MS;
    if (!moved) return;
    this.#loggedClockOffsetMs = offset;
    const s = Math.round(Math.abs(offset) / 1000);
    const ahead = Math.round(this.#handshake.timestampAheadMs(now) / 1000);
    this.#log(
      (s === 0
        ? "its clock agrees with ours (within a second)"
        : `its clock is ${s} s ${offset > 0 ? "ahead of" : "behind"} ours`) +
        (ahead * 1000 > CLOCK_OFFSET_LOG_MS
          ? `; the newest initiation answered from it is ${ahead} s ahead of our clock: until` +
            " ours gets there, older ones are refused (or until `centipede reset-timestamp`)"
          : ""),
    );
  }

  #retire(session: Session): void {
    session.reorder.flush(this.#deliver);
    this.#ctx.unregisterSession(session);
    session.destroy();
  }

  #flushStaged(session: Session, now: number): void {
    const staged = this.#staged;
    this.#staged = [];
    if (staged.length === 0 && session.isInitiator) {
      // Confirm the session to the responder right away: an empty data packet on every path.
      this.#sealAndSend(session, this.#ctx.scratch, 0, now);
      return;
    }
    const buf = this.#ctx.scratch;
    for (const packet of staged) {
      buf.set(packet, DATA_HEADER_BYTES);
      this.#sealAndSend(session, buf, packet.length, now);
      this.counters.packetsSent++;
    }
  }

  // ---- Inbound data ----

  /** A copy of an already-delivered packet arrived on `(local, from)`: count it for the path. */
  countCopy(local: number, from: Endpoint, length: number): void {
    this.counters.duplicatesDropped++;
    const path = this.#table.get(local, from);
    if (!path) return;
    path.arrivals++;
    path.arrivalBytes += length;
    path.duplicates++;
  }

  /**
   * A data message for one of our sessions whose counter is fresh. Opens it in place, updates
   * the replay window and the path, and delivers or handles the payload.
   */
  handleData(
    session: Session,
    buf: Uint8Array,
    length: number,
    counter: number,
    local: number,
    from: Endpoint,
    now: number,
  ): void {
    const drops = this.#ctx.drops;
    if (!session.receiver.open(buf, DATA_HEADER_BYTES, length - DATA_HEADER_BYTES, counter)) {
      return void drops.authFailed++;
    }
    if (!session.replay.accept(counter)) return void drops.duplicate++;
    if (session === this.#sessions.next) this.#confirm(now);
    const path = this.#table.learn(local, from, length, now);
    if (path) {
      path.packetsReceived++;
      path.bytesReceived += length;
      path.arrivals++;
      path.arrivalBytes += length;
    }
    const payload = length - DATA_OVERHEAD_BYTES;
    const kind = payload === 0 ? 0 : buf[DATA_HEADER_BYTES];
    if (payload === 0 || kind === FRAME_PROBE || kind === FRAME_PROBE_ACK) {
      session.reorder.push(counter, undefined, false, now, this.#deliver);
      if (payload > 0) this.#handleFrame(kind, buf, payload, session, path, now);
      return;
    }
    this.#receivePacket(session, buf, payload, counter, path, now);
  }

  #receivePacket(
    session: Session,
    buf: Uint8Array,
    payload: number,
    counter: number,
    path: Path | undefined,
    now: number,
  ): void {
    const { allowedIps, drops, output } = this.#ctx;
    const deliver = this.#deliver;
    const length = admitInner(
      buf,
      payload,
      this,
      allowedIps,
      drops,
      session,
      counter,
      now,
      deliver,
    );
    if (length < 0) return;
    this.#touch(now);
    this.counters.packetsReceived++;
    if (path) path.firstArrivals++;
    deliverInner(buf, length, session, counter, now, output, deliver);
  }

  #handleFrame(
    kind: number,
    buf: Uint8Array,
    payload: number,
    session: Session,
    path: Path | undefined,
    now: number,
  ): void {
    if (!path) return;
    const id = readU32(buf, DATA_HEADER_BYTES + 4);
    if (kind === FRAME_PROBE) {
      if (payload !== PROBE_FRAME_BYTES) return void this.#ctx.drops.badInnerPacket++;
      return this.#sendProbeAck(this.#sessions.current ?? session, path, id, now);
    }
    if (payload !== PROBE_ACK_FRAME_BYTES) return void this.#ctx.drops.badInnerPacket++;
    if (id === 0 || id !== path.probeId) return;
    path.sampleRtt(now - path.probeSentAt, now);
    path.sampleAck(readU32(buf, DATA_HEADER_BYTES + 8), readU32(buf, DATA_HEADER_BYTES + 12), now);
    this.#table.activate(path, now);
    this.#tuneReorder();
  }

  /** Sets how long striped packets wait for a gap: half the RTT spread plus jitter. */
  #tuneReorder(): void {
    let min = Number.POSITIVE_INFINITY;
    let max = 0;
    let jitter = 0;
    for (const p of this.#table.list) {
      if (p.state !== "active" || p.srttMs === 0) continue;
      min = Math.min(min, p.srttMs);
      max = Math.max(max, p.srttMs);
      jitter = Math.max(jitter, p.rttvarMs);
    }
    if (max === 0) return;
    const wait = (max - min) / 2 + 2 * jitter + REORDER_MIN_WAIT_MS;
    this.#sessions.forEach((s) => s.reorder.waitMs = wait);
  }

  /** The initiator's first data on the `next` session: it becomes current. */
  #confirm(now: number): void {
    const session = this.#sessions.confirmNext();
    this.#noteHandshake(session, now);
    this.#flushStaged(session, now);
  }

  // ---- From data plane lanes (they opened, counted and delivered the packet) ----

  /** An authenticated packet of `session` arrived on a path a lane does not know as active. */
  handleLaneArrival(session: Session, local: number, from: Endpoint, length: number, now: number) {
    if (session === this.#sessions.next) this.#confirm(now);
    this.#table.learn(local, from, length, now);
  }

  /** An authenticated probe or probe ack a lane opened (`frame` is the payload). */
  handleLaneFrame(session: Session, local: number, from: Endpoint, frame: Uint8Array, now: number) {
    const buf = new Uint8Array(DATA_HEADER_BYTES + frame.length);
    buf.set(frame, DATA_HEADER_BYTES);
    this.#handleFrame(
      buf[DATA_HEADER_BYTES],
      buf,
      frame.length,
      session,
      this.#table.get(local, from),
      now,
    );
  }

  /** A lane had traffic of this peer at `at`. */
  noteTraffic(at: number): void {
    if (at > this.#lastTrafficAt) this.#touch(at);
  }

  /** A lane saw the current session due for a rekey. */
  rekeyIfDue(now: number): void {
    const session = this.#sessions.current;
    if (session) this.#maybeRekey(session, now);
  }

  // ---- Timers ----

  /** Runs every timer that is due at `now`. */
  handleTimeout(now: number): void {
    if (now >= this.#handshake.retryAt) this.#retryHandshake(now);
    this.#expireSessions(now);
    this.#sessions.forEach((s) => s.reorder.handleTimeout(now, this.#deliver));
    this.#tendPaths(now);
  }

  #retryHandshake(now: number): void {
    const handshake = this.#handshake;
    handshake.retryAt = Number.POSITIVE_INFINITY;
    if (this.#sessions.current && !handshake.pending) return;
    if (handshake.attemptExpired(now) && !this.#wantsSession(now)) {
      handshake.cancel();
      this.#ctx.drops.noSession += this.#staged.length;
      this.#staged = [];
      this.#log("handshake did not complete, giving up");
      return;
    }
    this.#sendInitiation(now);
  }

  /** A session is wanted while data is waiting or a keepalive is configured. */
  #wantsSession(now: number): boolean {
    return this.#keepaliveMs > 0 || this.#staged.length > 0 ||
      now - this.#lastTrafficAt < TRAFFIC_ACTIVE_WINDOW_MS;
  }

  #expireSessions(now: number): void {
    this.#sessions.expire(now);
    if (!this.#sessions.current && !this.#handshake.pending && this.#keepaliveMs > 0) {
      this.#ensureHandshake(now);
    }
  }

  /** Probe interval of `path` now: 0 = do not probe. */
  #probeInterval(path: Path, busy: boolean): number {
    if (!busy) return path.state === "validating" ? PATH_PROBE_INTERVAL_BUSY_MS : this.#keepaliveMs;
    if (path.state === "down") return PATH_PROBE_INTERVAL_DOWN_MS;
    if (this.scheduler.isStandby(path, this.#table.list)) return PATH_PROBE_INTERVAL_STANDBY_MS;
    return PATH_PROBE_INTERVAL_BUSY_MS;
  }

  #tendPaths(now: number): void {
    const session = this.#sendableSession(now);
    const busy = now - this.#lastTrafficAt < TRAFFIC_ACTIVE_WINDOW_MS;
    if (session && busy && !this.#handshake.pending && this.#table.allDown()) {
      // Nothing answers on the session (the peer may have restarted): handshake again.
      this.#ensureHandshake(now);
    }
    this.#table.forgetSilent(now);
    for (const path of this.#table.list) {
      const interval = this.#probeInterval(path, busy);
      if (path.isSilent(now, interval || PATH_PROBE_INTERVAL_STANDBY_MS)) {
        this.#table.markDown(path, now);
      }
      if (!session || now < path.nextProbeAt) continue;
      if (interval === 0) {
        path.nextProbeAt = Number.POSITIVE_INFINITY;
        continue;
      }
      path.nextProbeAt = now + interval;
      const probeBytes = DATA_OVERHEAD_BYTES + PROBE_FRAME_BYTES;
      if (!path.maySend(probeBytes, UNVALIDATED_AMPLIFICATION)) continue;
      this.#sendProbe(session, path, now);
      this.#maybeRekey(session, now);
    }
  }

  /** Records traffic; after an idle spell, paths start probing again at once. */
  #touch(now: number): void {
    if (now - this.#lastTrafficAt >= TRAFFIC_ACTIVE_WINDOW_MS) {
      for (const path of this.#table.list) path.nextProbeAt = Math.min(path.nextProbeAt, now);
    }
    this.#lastTrafficAt = now;
  }

  /** The earliest time `handleTimeout` has work to do. */
  nextDeadline(now: number): number {
    let t = this.#handshake.retryAt;
    this.#sessions.forEach((s) => {
      t = Math.min(t, s.createdAt + REJECT_AFTER_TIME_MS, s.reorder.nextDeadline());
    });
    const busy = now - this.#lastTrafficAt < TRAFFIC_ACTIVE_WINDOW_MS;
    for (const path of this.#table.list) {
      if (this.#sessions.current) t = Math.min(t, path.nextProbeAt);
      const interval = this.#probeInterval(path, busy) || PATH_PROBE_INTERVAL_STANDBY_MS;
      t = Math.min(t, path.silentAt(interval));
    }
    return Math.max(t, now);
  }

  /** Forgets every session and pending handshake (peer removed or device closed). */
  close(): void {
    this.#handshake.cancel();
    this.#sessions.clear();
    this.#staged = [];
  }
}
