/**
 * One peer: its handshake state, its sessions and its paths. Sans-I/O: every method takes `now`
 * (monotonic ms) and writes results through the device's `Output`.
 *
 * Moving parts:
 * - handshake: an initiation is retransmitted (1 s doubling to 5 s, with jitter) until answered or
 *   HANDSHAKE_ATTEMPT_TIME_MS passes; a new one starts when the current session ages out
 *   (REKEY_AFTER_TIME_MS) or when data waits and no session exists.
 * - sessions: `next` (responder, unconfirmed), `current` (used to send), `previous` (receive only).
 * - paths: probed every PATH_PROBE_INTERVAL_MS while traffic flows, declared down when silent.
 * - staged packets: held (bounded) while a handshake completes.
 * @module
 */
import {
  DATA_HEADER_BYTES,
  DATA_OVERHEAD_BYTES,
  FRAME_PROBE,
  FRAME_PROBE_ACK,
  HANDSHAKE_ATTEMPT_TIME_MS,
  HANDSHAKE_MIN_INTERVAL_MS,
  HANDSHAKE_RETRY_INITIAL_MS,
  HANDSHAKE_RETRY_JITTER_MS,
  HANDSHAKE_RETRY_MAX_MS,
  INITIATION_BYTES,
  MAX_PATHS_PER_PEER,
  MAX_STAGED_PACKETS,
  MSG_DATA,
  PATH_DOWN_AFTER_MS,
  PATH_FORGET_AFTER_MS,
  PATH_PROBE_INTERVAL_MS,
  PROBE_FRAME_BYTES,
  REJECT_AFTER_MESSAGES,
  REJECT_AFTER_TIME_MS,
  REKEY_AFTER_MESSAGES,
  REKEY_AFTER_TIME_MS,
  REKEY_AFTER_TIME_RESPONDER_MS,
  TAG_BYTES,
  TRAFFIC_ACTIVE_WINDOW_MS,
  UNVALIDATED_AMPLIFICATION,
} from "./constants.ts";
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
import { ipDeclaredLength, IPV4_SRC, IPV6_SRC, ipVersion } from "./ip.ts";
import { type Endpoint, Path, pathKey } from "./path.ts";
import type { PeerContext } from "./peer_context.ts";
import { Session } from "./session.ts";

/** What a peer is configured with. */
export interface PeerOptions {
  readonly publicKey: Uint8Array;
  /** Short printable name for logs (base64 of the key). */
  readonly name: string;
  /** Resolved remote path ends from `Endpoint`. */
  readonly endpoints: readonly Endpoint[];
  readonly persistentKeepaliveSeconds: number;
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
  readonly counters: PeerCounters = {
    handshakesCompleted: 0,
    lastHandshakeAt: Number.NEGATIVE_INFINITY,
    packetsSent: 0,
    packetsReceived: 0,
    duplicatesDropped: 0,
  };
  #keepaliveMs: number;
  readonly #ctx: PeerContext;
  readonly #paths = new Map<string, Path>();
  #current?: Session;
  #previous?: Session;
  #next?: Session;
  #pending?: Pending;
  #attemptStartedAt = 0;
  #retryDelayMs = HANDSHAKE_RETRY_INITIAL_MS;
  #nextRetryAt = Number.POSITIVE_INFINITY;
  #greatestTimestampUs = -1;
  #lastInitiationAt = Number.NEGATIVE_INFINITY;
  #lastTimestampSentUs = 0;
  #lastTrafficAt = Number.NEGATIVE_INFINITY;
  #staged: Uint8Array[] = [];

  constructor(ctx: PeerContext, options: PeerOptions) {
    this.#ctx = ctx;
    this.publicKey = options.publicKey;
    this.name = options.name;
    this.macKey = mac1Key(options.publicKey);
    this.#keepaliveMs = options.persistentKeepaliveSeconds * 1000;
    this.setEndpoints(options.endpoints);
  }

  /** All paths, for status output. */
  get paths(): readonly Path[] {
    return [...this.#paths.values()];
  }

  /** The session used to send, if any. */
  get currentSession(): Session | undefined {
    return this.#current;
  }

  /** Replaces the configured remote ends. Paths that stay keep their state; learned ones stay. */
  setEndpoints(endpoints: readonly Endpoint[]): void {
    const wanted = new Map<string, Path>();
    for (let local = 0; local < this.#ctx.locals.length; local++) {
      for (const remote of endpoints) {
        const family = this.#ctx.locals[local];
        if (family !== 0 && family !== familyOf(remote.hostname)) continue;
        const key = pathKey(local, remote);
        const existing = this.#paths.get(key);
        wanted.set(key, existing?.configured ? existing : new Path(local, remote, true));
      }
    }
    for (const path of this.#paths.values()) {
      if (path.configured && !wanted.has(path.key)) this.#paths.delete(path.key);
    }
    for (const [key, path] of wanted) this.#paths.set(key, path);
  }

  /** Sets the persistent keepalive interval. */
  setKeepalive(seconds: number): void {
    this.#keepaliveMs = seconds * 1000;
  }

  // ---- Outbound ----

  /**
   * Seals the IP packet at `buf[DATA_HEADER_BYTES, +length)` (with TAG_BYTES of room after it)
   * and sends it on every usable path, or stages it while a handshake completes.
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
    const s = this.#current;
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

  /** Writes the header, seals, and transmits on the chosen paths. */
  #sealAndSend(session: Session, buf: Uint8Array, length: number, now: number): void {
    const counter = session.sendCounter++;
    writeDataHeader(buf, session.remoteIndex, counter);
    session.sender.seal(buf, DATA_HEADER_BYTES, length, counter);
    const bytes = buf.subarray(0, length + DATA_OVERHEAD_BYTES);
    let sent = 0;
    for (const path of this.#paths.values()) {
      if (path.state !== "active") continue;
      this.#transmit(path, bytes, now);
      sent++;
    }
    if (sent > 0) return;
    // No validated path: fall back to every path we may send to (bounded when unvalidated).
    for (const path of this.#paths.values()) {
      if (path.state === "active" || !path.maySend(bytes.length, UNVALIDATED_AMPLIFICATION)) {
        continue;
      }
      this.#transmit(path, bytes, now);
    }
  }

  #transmit(path: Path, bytes: Uint8Array, now: number): void {
    path.packetsSent++;
    path.bytesSent += bytes.length;
    if (path.state === "validating") path.unvalidatedSent += bytes.length;
    path.lastSendAt = now;
    this.#ctx.output.transmit(path.local, path.remote, bytes);
  }

  /** Seals a control frame (probe, ack, keepalive) and sends it on one path. */
  #sendFrame(session: Session, path: Path, type: number, id: number, now: number): void {
    const buf = this.#ctx.scratch;
    const length = type === 0 ? 0 : PROBE_FRAME_BYTES;
    if (length > 0) {
      buf[DATA_HEADER_BYTES] = type;
      buf[DATA_HEADER_BYTES + 1] = buf[DATA_HEADER_BYTES + 2] = buf[DATA_HEADER_BYTES + 3] = 0;
      writeU32(buf, DATA_HEADER_BYTES + 4, id);
    }
    const counter = session.sendCounter++;
    writeDataHeader(buf, session.remoteIndex, counter);
    session.sender.seal(buf, DATA_HEADER_BYTES, length, counter);
    this.#transmit(path, buf.subarray(0, DATA_HEADER_BYTES + length + TAG_BYTES), now);
  }

  #sendProbe(session: Session, path: Path, now: number): void {
    path.probeId = (this.#ctx.randomU32() | 1) >>> 0;
    path.probeSentAt = now;
    this.#sendFrame(session, path, FRAME_PROBE, path.probeId, now);
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
    const candidates = [...this.#paths.values()].filter((p) =>
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
    for (const path of candidates) this.#transmit(path, message, now);
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
    this.#retire(this.#next);
    this.#next = new Session({
      backend: this.#ctx.backend,
      keys,
      localIndex,
      remoteIndex: init.senderIndex,
      isInitiator: false,
      now,
    });
    this.#ctx.registerSession(this.#next, this);
    const path = this.#pathFor(local, from, msg.length, now);
    if (path) this.#transmit(path, response, now);
    this.#ctx.logger.debug(`peer ${this.name}: answered handshake initiation`);
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
    });
    pending.ephemeralPrivate.fill(0);
    this.#pending = undefined;
    this.#nextRetryAt = Number.POSITIVE_INFINITY;
    this.#ctx.registerSession(session, this);
    this.#install(session, now);
    const known = this.#paths.has(pathKey(local, from));
    const path = this.#pathFor(local, from, msg.length, now);
    if (path && known) {
      path.sampleRtt(now - pending.sentAt);
      this.#activate(path, now);
    }
    this.#flushStaged(session, now);
  }

  /** Makes `session` current, keeping the old current one to receive in-flight packets. */
  #install(session: Session, now: number): void {
    this.#retire(this.#previous);
    this.#previous = this.#current;
    this.#current = session;
    this.counters.handshakesCompleted++;
    this.counters.lastHandshakeAt = now;
    this.#ctx.logger.info(
      `peer ${this.name}: handshake complete (${session.isInitiator ? "initiator" : "responder"})`,
    );
    for (const path of this.#paths.values()) path.nextProbeAt = now;
  }

  #retire(session: Session | undefined): void {
    if (!session) return;
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
    if (session === this.#next) this.#confirm(session, now);
    const path = this.#pathFor(local, from, length, now);
    if (path) {
      path.packetsReceived++;
      path.bytesReceived += length;
    }
    const payload = length - DATA_OVERHEAD_BYTES;
    if (payload === 0) return;
    const kind = buf[DATA_HEADER_BYTES];
    if (kind === FRAME_PROBE || kind === FRAME_PROBE_ACK) {
      return this.#handleFrame(kind, buf, payload, session, path, now);
    }
    this.#deliver(buf, payload, path, now);
  }

  #deliver(buf: Uint8Array, payload: number, path: Path | undefined, now: number): void {
    const at = DATA_HEADER_BYTES;
    const version = ipVersion(buf, at, payload);
    if (version === 0) return void this.#ctx.drops.badInnerPacket++;
    const src = at + (version === 4 ? IPV4_SRC : IPV6_SRC);
    if (this.#ctx.allowedIps.lookup(buf, src, version) !== this) {
      return void this.#ctx.drops.sourceNotAllowed++;
    }
    this.#touch(now);
    this.counters.packetsReceived++;
    if (path) path.firstArrivals++;
    this.#ctx.output.deliver(buf.subarray(at, at + ipDeclaredLength(buf, at, version)));
  }

  #handleFrame(
    kind: number,
    buf: Uint8Array,
    payload: number,
    session: Session,
    path: Path | undefined,
    now: number,
  ): void {
    if (payload !== PROBE_FRAME_BYTES || !path) return void this.#ctx.drops.badInnerPacket++;
    const id = readU32(buf, DATA_HEADER_BYTES + 4);
    if (kind === FRAME_PROBE) {
      const sendOn = this.#current ?? session;
      return this.#sendFrame(sendOn, path, FRAME_PROBE_ACK, id, now);
    }
    if (id === 0 || id !== path.probeId) return;
    path.sampleRtt(now - path.probeSentAt);
    path.probeId = 0;
    this.#activate(path, now);
  }

  #confirm(session: Session, now: number): void {
    session.confirmed = true;
    this.#next = undefined;
    this.#install(session, now);
    this.#flushStaged(session, now);
  }

  /**
   * The path a packet of `length` bytes arrived on, created (validating) for a new remote end.
   * Only called for authenticated, fresh input: this is how roaming is learned.
   */
  #pathFor(local: number, from: Endpoint, length: number, now: number): Path | undefined {
    let path = this.#paths.get(pathKey(local, from));
    if (!path) {
      if (!this.#makeRoom()) return undefined;
      path = new Path(local, { hostname: from.hostname, port: from.port }, false);
      path.setState("validating", now);
      this.#paths.set(path.key, path);
      path.nextProbeAt = now;
      this.#ctx.logger.info(`peer ${this.name}: new path ${describe(path)} (validating)`);
    } else if (path.state === "down") {
      this.#revalidate(path, now);
    }
    path.lastReceiveAt = now;
    if (path.state === "validating") path.unvalidatedReceived += length;
    return path;
  }

  /** Frees a slot for a new learned path by forgetting the stalest learned one. */
  #makeRoom(): boolean {
    if (this.#paths.size < MAX_PATHS_PER_PEER) return true;
    let victim: Path | undefined;
    for (const p of this.#paths.values()) {
      if (p.configured || p.state === "active") continue;
      if (!victim || p.lastReceiveAt < victim.lastReceiveAt) victim = p;
    }
    if (victim) this.#paths.delete(victim.key);
    return victim !== undefined;
  }

  #activate(path: Path, now: number): void {
    if (path.state === "active") return;
    path.setState("active", now);
    path.lastReceiveAt = now;
    this.#ctx.logger.info(
      `peer ${this.name}: path ${describe(path)} up (rtt ${path.srttMs.toFixed(2)} ms)`,
    );
  }

  #revalidate(path: Path, now: number): void {
    path.setState("validating", now);
    path.unvalidatedReceived = 0;
    path.unvalidatedSent = 0;
    path.nextProbeAt = now;
  }

  // ---- Timers ----

  /** Runs every timer that is due at `now`. */
  handleTimeout(now: number): void {
    if (now >= this.#nextRetryAt) this.#retryHandshake(now);
    this.#expireSessions(now);
    this.#tendPaths(now);
  }

  #retryHandshake(now: number): void {
    this.#nextRetryAt = Number.POSITIVE_INFINITY;
    if (this.#current && !this.#pending) return;
    if (now - this.#attemptStartedAt >= HANDSHAKE_ATTEMPT_TIME_MS && !this.#wantsSession(now)) {
      this.#dropPending();
      this.#ctx.drops.noSession += this.#staged.length;
      this.#staged = [];
      this.#ctx.logger.info(`peer ${this.name}: handshake did not complete, giving up`);
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
    for (const s of [this.#previous, this.#current, this.#next]) {
      if (!s || s.age(now) < REJECT_AFTER_TIME_MS) continue;
      if (s === this.#current) this.#current = undefined;
      if (s === this.#previous) this.#previous = undefined;
      if (s === this.#next) this.#next = undefined;
      this.#retire(s);
    }
    if (!this.#current && !this.#pending && this.#keepaliveMs > 0) this.#ensureHandshake(now);
  }

  #tendPaths(now: number): void {
    const session = this.#sendableSession(now);
    const busy = now - this.#lastTrafficAt < TRAFFIC_ACTIVE_WINDOW_MS;
    if (session && busy && !this.#pending && this.#allPathsDown()) {
      // Nothing answers on the session (the peer may have restarted): handshake again.
      this.#ensureHandshake(now);
    }
    for (const path of this.#paths.values()) {
      if (path.isSilent(now, PATH_DOWN_AFTER_MS)) this.#markDown(path, now);
      if (!path.configured && now - path.lastReceiveAt >= PATH_FORGET_AFTER_MS) {
        this.#paths.delete(path.key);
        continue;
      }
      if (!session || now < path.nextProbeAt) continue;
      const interval = busy || path.state === "validating"
        ? PATH_PROBE_INTERVAL_MS
        : this.#keepaliveMs;
      if (interval === 0) {
        path.nextProbeAt = Number.POSITIVE_INFINITY;
        continue;
      }
      if (!path.maySend(DATA_OVERHEAD_BYTES + PROBE_FRAME_BYTES, UNVALIDATED_AMPLIFICATION)) {
        path.nextProbeAt = now + interval;
        continue;
      }
      this.#sendProbe(session, path, now);
      path.nextProbeAt = now + interval;
      this.#maybeRekey(session, now);
    }
  }

  #allPathsDown(): boolean {
    let down = 0;
    for (const path of this.#paths.values()) {
      if (path.state !== "down") return false;
      down++;
    }
    return down > 0;
  }

  #markDown(path: Path, now: number): void {
    const was = path.state;
    path.setState("down", now);
    const why = was === "active" ? "silent" : "never validated";
    this.#ctx.logger.info(`peer ${this.name}: path ${describe(path)} down (${why})`);
  }

  /** Records traffic; after an idle spell, paths start probing again at once. */
  #touch(now: number): void {
    if (now - this.#lastTrafficAt >= TRAFFIC_ACTIVE_WINDOW_MS) {
      for (const path of this.#paths.values()) path.nextProbeAt = Math.min(path.nextProbeAt, now);
    }
    this.#lastTrafficAt = now;
  }

  /** The earliest time `handleTimeout` has work to do. */
  nextDeadline(now: number): number {
    let t = this.#nextRetryAt;
    for (const s of [this.#previous, this.#current, this.#next]) {
      if (s) t = Math.min(t, s.createdAt + REJECT_AFTER_TIME_MS);
    }
    for (const path of this.#paths.values()) {
      if (this.#current) t = Math.min(t, path.nextProbeAt);
      if (path.state === "active" && path.probeSentAt > path.lastReceiveAt) {
        t = Math.min(t, path.lastReceiveAt + PATH_DOWN_AFTER_MS);
      }
      if (path.state === "validating" && path.probeSentAt > path.stateSince) {
        t = Math.min(t, path.stateSince + PATH_DOWN_AFTER_MS);
      }
      if (!path.configured) t = Math.min(t, path.lastReceiveAt + PATH_FORGET_AFTER_MS);
    }
    return Math.max(t, now);
  }

  /** Forgets every session and pending handshake (peer removed or device closed). */
  close(): void {
    this.#dropPending();
    this.#retire(this.#previous);
    this.#retire(this.#current);
    this.#retire(this.#next);
    this.#previous = this.#current = this.#next = undefined;
    this.#staged = [];
  }
}

/** Address family of an IP literal. */
export function familyOf(hostname: string): 4 | 6 {
  return hostname.includes(":") ? 6 : 4;
}

function describe(path: Path): string {
  const host = path.remote.hostname.includes(":")
    ? `[${path.remote.hostname}]`
    : path.remote.hostname;
  return `#${path.local}->${host}:${path.remote.port}`;
}

/** Writes a data header: type, reserved, receiver index and 64-bit counter, little-endian. */
export function writeDataHeader(buf: Uint8Array, receiverIndex: number, counter: number): void {
  buf[0] = MSG_DATA;
  buf[1] = buf[2] = buf[3] = 0;
  writeU32(buf, 4, receiverIndex);
  writeU32(buf, 8, counter >>> 0);
  writeU32(buf, 12, Math.floor(counter / 2 ** 32));
}

/** Writes a little-endian u32 without allocating. */
export function writeU32(buf: Uint8Array, at: number, value: number): void {
  buf[at] = value & 0xff;
  buf[at + 1] = (value >>> 8) & 0xff;
  buf[at + 2] = (value >>> 16) & 0xff;
  buf[at + 3] = (value >>> 24) & 0xff;
}

/** Reads a little-endian u32 without allocating. */
export function readU32(buf: Uint8Array, at: number): number {
  return (buf[at] | (buf[at + 1] << 8) | (buf[at + 2] << 16) | (buf[at + 3] << 24)) >>> 0;
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    if (a[i] !== b[i]) return a[i] - b[i];
  }
  return a.length - b.length;
}
