/**
 * One peer: its handshake state, its sessions and its paths. Sans-I/O: every method takes `now`
 * (monotonic ms) and writes results through the device's `Output`.
 *
 * Moving parts:
 * - handshake: an initiation is retransmitted (1 s doubling to 5 s, with jitter) until answered or
 *   HANDSHAKE_ATTEMPT_TIME_MS passes; a new one starts when the current session ages out
 *   (REKEY_AFTER_TIME_MS), when data waits and no session exists, or when every path went down.
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
  DATA_HEADER_BYTES,
  DATA_OVERHEAD_BYTES,
  FLAG_SEQUENCED,
  FRAME_PROBE,
  FRAME_PROBE_ACK,
  HANDSHAKE_ATTEMPT_TIME_MS,
  HANDSHAKE_MIN_INTERVAL_MS,
  HANDSHAKE_RETRY_INITIAL_MS,
  HANDSHAKE_RETRY_JITTER_MS,
  HANDSHAKE_RETRY_MAX_MS,
  INITIATION_BYTES,
  MAX_STAGED_PACKETS,
  PATH_PROBE_INTERVAL_BUSY_MS,
  PATH_PROBE_INTERVAL_DOWN_MS,
  PATH_PROBE_INTERVAL_STANDBY_MS,
  PEER_VERIFICATION_BURST,
  PEER_VERIFICATIONS_PER_SECOND,
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
import {
  createInitiation,
  createResponse,
  deriveSessionKeys,
  type Initiation,
  mac1Key,
  type Response,
  verifyInitiation,
  verifyResponse,
} from "./handshake.ts";
import type { Endpoint, Path } from "./path.ts";
import { describePath, PathTable } from "./path_table.ts";
import type { PeerContext } from "./peer_context.ts";
import { Scheduler } from "./scheduler.ts";
import { Session } from "./session.ts";
import { SessionSet } from "./session_set.ts";
import { TokenBucket } from "./token_bucket.ts";
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

/** An initiation we sent and wait to be answered. */
interface Pending {
  readonly localIndex: number;
  readonly timestampUs: number;
  readonly ephemeralPrivate: Uint8Array;
  readonly message: Uint8Array;
  readonly sentAt: number;
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
  #pending?: Pending;
  #attemptStartedAt = 0;
  #retryDelayMs = HANDSHAKE_RETRY_INITIAL_MS;
  #nextRetryAt = Number.POSITIVE_INFINITY;
  #greatestTimestampUs = -1;
  #lastInitiationAt = Number.NEGATIVE_INFINITY;
  #lastTimestampSentUs = 0;
  #lastTrafficAt = Number.NEGATIVE_INFINITY;
  #staged: Uint8Array[] = [];
  #endpoints: readonly Endpoint[];
  readonly #verifications = new TokenBucket(PEER_VERIFICATIONS_PER_SECOND, PEER_VERIFICATION_BURST);

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
  }

  /** All paths, for status output. */
  get paths(): readonly Path[] {
    return this.#table.list;
  }

  /** The session used to send, if any. */
  get currentSession(): Session | undefined {
    return this.#sessions.current;
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
    if (this.#pending) return;
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
    if (this.#pending) return;
    this.#attemptStartedAt = now;
    this.#retryDelayMs = HANDSHAKE_RETRY_INITIAL_MS;
    this.#sendInitiation(now);
  }

  #sendInitiation(now: number): void {
    this.#dropPending();
    const candidates = this.#table.list.filter((p) =>
      p.maySend(INITIATION_BYTES, UNVALIDATED_AMPLIFICATION)
    );
    if (candidates.length === 0) {
      this.#nextRetryAt = now + this.#retryDelayMs;
      return;
    }
    const ephemeralPrivate = this.#ctx.randomKey();
    const localIndex = this.#ctx.allocateIndex(this);
    const timestampUs = this.#timestamp(now);
    const message = createInitiation(this.#ctx.me, {
      senderIndex: localIndex,
      timestampUs,
      ephemeralPrivate,
      peerKey: this.publicKey,
    });
    this.#pending = { localIndex, timestampUs, ephemeralPrivate, message, sentAt: now };
    for (const path of candidates) this.#transmit(path, message, message.length, now);
    const jitter = this.#ctx.randomU32() % (HANDSHAKE_RETRY_JITTER_MS + 1);
    this.#nextRetryAt = now + this.#retryDelayMs + jitter;
    this.#retryDelayMs = Math.min(2 * this.#retryDelayMs, HANDSHAKE_RETRY_MAX_MS);
    this.#ctx.logger.debug(`peer ${this.name}: handshake initiation sent`);
  }

  /** Strictly increasing wall-clock microseconds for our handshake messages. */
  #timestamp(now: number): number {
    const us = Math.floor((now + this.#ctx.epochOffsetMs) * 1000);
    this.#lastTimestampSentUs = Math.max(us, this.#lastTimestampSentUs + 1);
    return this.#lastTimestampSentUs;
  }

  #dropPending(): void {
    if (!this.#pending) return;
    this.#ctx.releaseIndex(this.#pending.localIndex);
    this.#pending.ephemeralPrivate.fill(0);
    this.#pending = undefined;
  }

  /**
   * An initiation from this peer passed the cheap checks. Verifies it and answers on the path
   * it came from. Replays (timestamp not newer than the greatest seen) are dropped before the
   * signature is checked.
   */
  handleInitiation(msg: Uint8Array, init: Initiation, local: number, from: Endpoint, now: number) {
    const drops = this.#ctx.drops;
    if (init.timestampUs <= this.#greatestTimestampUs) return void drops.staleTimestamp++;
    if (now - this.#lastInitiationAt < HANDSHAKE_MIN_INTERVAL_MS) {
      return void drops.handshakeFlood++;
    }
    if (!this.#mayVerify(now)) return void drops.handshakeFlood++;
    if (!verifyInitiation(msg, this.#ctx.me, init.initiatorKey)) return void drops.badSignature++;
    if (this.#pending && this.#winsTie(init.timestampUs)) return void drops.staleTimestamp++;
    const ephemeralPrivate = this.#ctx.randomKey();
    const localIndex = this.#ctx.allocateIndex(this);
    const response = createResponse(this.#ctx.me, {
      senderIndex: localIndex,
      receiverIndex: init.senderIndex,
      timestampUs: this.#timestamp(now),
      ephemeralPrivate,
      initiation: msg,
      peerKey: this.publicKey,
    });
    const keys = deriveSessionKeys({
      ephemeralPrivate,
      peerEphemeral: init.ephemeralKey,
      responderKey: this.#ctx.me.publicKey,
      initiation: msg,
      response,
    });
    ephemeralPrivate.fill(0);
    if (!keys) {
      this.#ctx.releaseIndex(localIndex);
      return void drops.badHandshake++;
    }
    this.#greatestTimestampUs = init.timestampUs;
    this.#lastInitiationAt = now;
    this.#dropPending();
    this.#nextRetryAt = Number.POSITIVE_INFINITY;
    const next = new Session({
      backend: this.#ctx.backend,
      keys,
      localIndex,
      remoteIndex: init.senderIndex,
      isInitiator: false,
      now,
      keepKeys: this.#ctx.keepSessionKeys,
    });
    this.#sessions.setNext(next);
    this.#ctx.registerSession(next, this);
    const path = this.#table.learn(local, from, msg.length, now);
    if (path) this.#transmit(path, response, response.length, now);
    this.#ctx.logger.debug(`peer ${this.name}: answered handshake initiation`);
  }

  /** Signature checks are rationed per peer and per device, so junk cannot eat the CPU. */
  #mayVerify(now: number): boolean {
    return this.#verifications.take(now) && this.#ctx.mayVerify(now);
  }

  /** True when our own pending initiation beats theirs (newer timestamp, then larger key). */
  #winsTie(theirTimestampUs: number): boolean {
    const ours = this.#pending!.timestampUs;
    if (ours !== theirTimestampUs) return ours > theirTimestampUs;
    return compareBytes(this.#ctx.me.publicKey, this.publicKey) > 0;
  }

  /** A response to our pending initiation passed the cheap checks. */
  handleResponse(msg: Uint8Array, resp: Response, local: number, from: Endpoint, now: number) {
    const pending = this.#pending;
    const drops = this.#ctx.drops;
    if (!pending || pending.localIndex !== resp.receiverIndex) {
      return void drops.unexpectedResponse++;
    }
    if (!this.#mayVerify(now)) return void drops.handshakeFlood++;
    if (!verifyResponse(msg, pending.message, this.publicKey)) return void drops.badSignature++;
    const keys = deriveSessionKeys({
      ephemeralPrivate: pending.ephemeralPrivate,
      peerEphemeral: resp.ephemeralKey,
      responderKey: this.publicKey,
      initiation: pending.message,
      response: msg,
    });
    if (!keys) return void drops.badHandshake++;
    const session = new Session({
      backend: this.#ctx.backend,
      keys,
      localIndex: pending.localIndex,
      remoteIndex: resp.senderIndex,
      isInitiator: true,
      now,
      keepKeys: this.#ctx.keepSessionKeys,
    });
    pending.ephemeralPrivate.fill(0);
    this.#pending = undefined;
    this.#nextRetryAt = Number.POSITIVE_INFINITY;
    this.#ctx.registerSession(session, this);
    this.#install(session, now);
    // We sent the initiation to this address: its answer from there proves the path.
    const known = this.#table.get(local, from) !== undefined;
    const path = this.#table.learn(local, from, msg.length, now);
    if (path && known) {
      path.sampleRtt(now - pending.sentAt, now);
      this.#table.activate(path, now);
    }
    this.#flushStaged(session, now);
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
    path.sampleAck(readU32(buf, DATA_HEADER_BYTES + 8), readU32(buf, DATA_HEADER_BYTES + 12));
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
    if (now >= this.#nextRetryAt) this.#retryHandshake(now);
    this.#expireSessions(now);
    this.#sessions.forEach((s) => s.reorder.handleTimeout(now, this.#deliver));
    this.#tendPaths(now);
  }

  #retryHandshake(now: number): void {
    this.#nextRetryAt = Number.POSITIVE_INFINITY;
    if (this.#sessions.current && !this.#pending) return;
    if (now - this.#attemptStartedAt >= HANDSHAKE_ATTEMPT_TIME_MS && !this.#wantsSession(now)) {
      this.#dropPending();
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
    if (!this.#sessions.current && !this.#pending && this.#keepaliveMs > 0) {
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
    if (session && busy && !this.#pending && this.#table.allDown()) {
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
    let t = this.#nextRetryAt;
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
    this.#dropPending();
    this.#sessions.clear();
    this.#staged = [];
  }
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    if (a[i] !== b[i]) return a[i] - b[i];
  }
  return a.length - b.length;
}
