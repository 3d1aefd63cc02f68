/**
 * All peers of one interface: the index table, cryptokey routing and dispatch of datagrams.
 *
 * Sans-I/O: the engine feeds datagrams (`handleDatagram`), packets from the TUN device
 * (`handleOutbound`) and timer ticks (`handleTimeout`), all with `now` in monotonic ms, and
 * arms one timer at `nextDeadline(now)`. Results go out synchronously through `Output`.
 * Bytes from the network never throw: each rejected datagram increments one drop counter.
 * @module
 */
import type { AeadBackend } from "./aead.ts";
import { AllowedIps } from "./allowed_ips.ts";
import {
  DATA_OVERHEAD_BYTES,
  DEVICE_VERIFICATION_BURST,
  DEVICE_VERIFICATIONS_PER_SECOND,
  FLAG_SEQUENCED,
  MAX_DATAGRAM_BYTES,
  MSG_DATA,
  MSG_INITIATION,
  MSG_RESPONSE,
} from "./constants.ts";
import { isValidPublicKey, publicKeyOf } from "./crypto.ts";
import { checkCounter, DROPPED, DUPLICATE } from "./data_receive.ts";
import { type DropCounters, newDropCounters } from "./drops.ts";
import { type Identity, identity, readInitiation, readResponse } from "./handshake.ts";
import { type Logger, silentLogger } from "./logger.ts";
import type { Output } from "./output.ts";
import type { Endpoint, LocalEnd } from "./path.ts";
import { Peer, type PeerOptions } from "./peer.ts";
import { readU32 } from "./wire.ts";
import type { PeerContext } from "./peer_context.ts";
import { randomU32, type Rng } from "./rng.ts";
import { routeOutbound } from "./route_outbound.ts";
import type { Session } from "./session.ts";
import { TokenBucket } from "./token_bucket.ts";
import { WarmPath } from "./warm_path.ts";

/** A peer as the device is configured with it. */
export interface DevicePeer extends PeerOptions {
  /** Inner prefixes this peer owns: `bytes` is 4 or 16 address bytes. */
  readonly allowedIps: readonly { bytes: Uint8Array; prefixLength: number }[];
}

/** Everything a device is built from. */
export interface DeviceOptions {
  readonly privateKey: Uint8Array;
  readonly peers: readonly DevicePeer[];
  /** Each local path end (socket), by index. */
  readonly locals: readonly LocalEnd[];
  readonly rng: Rng;
  readonly backend: AeadBackend;
  readonly output: Output;
  readonly logger?: Logger;
  /** Wall-clock ms minus the monotonic `now` (for handshake timestamps). */
  readonly epochOffsetMs: number;
  /** Sessions keep copies of their keys, for data plane workers (`Lane`). */
  readonly keepSessionKeys?: boolean;
}

interface IndexEntry {
  readonly peer: Peer;
  session?: Session;
}

/** The protocol state of one interface. */
export class Device implements PeerContext {
  readonly me: Identity;
  locals: readonly LocalEnd[];
  readonly backend: AeadBackend;
  readonly output: Output;
  readonly drops: DropCounters = newDropCounters();
  readonly logger: Logger;
  /** Wall-clock ms minus the monotonic `now`; see `setWallClock`. */
  epochOffsetMs: number;
  readonly keepSessionKeys: boolean;
  allowedIps: AllowedIps<Peer> = new AllowedIps<Peer>();
  readonly scratch: Uint8Array = new Uint8Array(MAX_DATAGRAM_BYTES + DATA_OVERHEAD_BYTES);
  readonly #rng: Rng;
  readonly #warmPath: WarmPath;
  readonly #u32 = new Uint8Array(4);
  /**
   * Sessions and pending handshakes by our index, keyed as an int32 (`index | 0`): a u32 above
   * 2^31 would be a boxed number, allocated on every lookup of the hot path.
   */
  readonly #indices = new Map<number, IndexEntry>();
  readonly #byKey = new Map<string, Peer>();
  readonly #verifications = new TokenBucket(
    DEVICE_VERIFICATIONS_PER_SECOND,
    DEVICE_VERIFICATION_BURST,
  );

  constructor(options: DeviceOptions) {
    this.me = identity(options.privateKey, publicKeyOf(options.privateKey));
    this.locals = options.locals;
    this.backend = options.backend;
    this.output = options.output;
    this.logger = options.logger ?? silentLogger;
    this.epochOffsetMs = options.epochOffsetMs;
    this.keepSessionKeys = options.keepSessionKeys ?? false;
    this.#rng = options.rng;
    this.#warmPath = new WarmPath(options.backend);
    for (const p of options.peers) this.#addPeer(p);
  }

  /** Every peer. */
  get peers(): readonly Peer[] {
    return [...this.#byKey.values()];
  }

  /** Our Ed25519 public key. */
  get publicKey(): Uint8Array {
    return this.me.publicKey;
  }

  #addPeer(options: DevicePeer): void {
    const key = keyId(options.publicKey);
    if (!isValidPublicKey(options.publicKey)) {
      throw new TypeError(`peer ${options.name}: public key is not a valid Ed25519 key`);
    }
    if (key === keyId(this.me.publicKey)) {
      throw new TypeError(`peer ${options.name}: public key is this interface's own key`);
    }
    if (this.#byKey.has(key)) throw new TypeError(`peer ${options.name}: configured twice`);
    const peer = new Peer(this, options);
    this.#byKey.set(key, peer);
    for (const prefix of options.allowedIps) {
      this.allowedIps.insert(prefix.bytes, prefix.prefixLength, peer);
    }
  }

  /**
   * Applies a new peer list in one step: removed peers are closed, new ones added, and peers
   * that stay keep their sessions while their endpoints, keepalive and allowed IPs change.
   * Validates everything before changing anything; throws TypeError on a bad list.
   */
  setPeers(peers: readonly DevicePeer[], now: number): void {
    const wanted = new Map(peers.map((p) => [keyId(p.publicKey), p]));
    for (const p of peers) {
      if (!isValidPublicKey(p.publicKey)) throw new TypeError(`peer ${p.name}: invalid key`);
      if (keyId(p.publicKey) === keyId(this.me.publicKey)) {
        throw new TypeError(`peer ${p.name}: public key is this interface's own key`);
      }
    }
    if (wanted.size !== peers.length) throw new TypeError("a peer is configured twice");
    for (const [key, peer] of this.#byKey) {
      if (wanted.has(key)) continue;
      peer.close();
      this.#byKey.delete(key);
      for (const [index, entry] of this.#indices) {
        if (entry.peer === peer) this.#indices.delete(index);
      }
    }
    this.allowedIps = new AllowedIps<Peer>();
    for (const [key, options] of wanted) {
      const peer = this.#byKey.get(key);
      if (!peer) {
        this.#addPeer(options);
        if (options.endpoints.length > 0) this.#byKey.get(key)!.initiate(now);
        continue;
      }
      peer.reconfigure(options);
      for (const prefix of options.allowedIps) {
        this.allowedIps.insert(prefix.bytes, prefix.prefixLength, peer);
      }
    }
  }

  /**
   * Replaces the local path ends (a reload changed `Bind` or the port): every peer's paths start
   * over on the new ends; sessions stay, so no handshake is needed and traffic resumes as soon as
   * the new paths validate.
   */
  setLocals(locals: readonly LocalEnd[], now: number): void {
    this.locals = locals;
    for (const peer of this.#byKey.values()) peer.resetPaths(now);
  }

  /**
   * Takes the wall clock again (the engine does so every 10 s), as wall-clock ms minus the
   * monotonic `now`: a step of the system clock shows in the next handshake timestamp (which
   * still never goes below the last one sent) and in the clock offsets.
   */
  setWallClock(epochOffsetMs: number): void {
    this.epochOffsetMs = epochOffsetMs;
  }

  /** The peer with this public key, if configured. */
  peer(publicKey: Uint8Array): Peer | undefined {
    return this.#byKey.get(keyId(publicKey));
  }

  /** Starts handshakes with every peer that has an endpoint. */
  start(now: number): void {
    for (const peer of this.#byKey.values()) {
      if (peer.paths.length > 0) peer.initiate(now);
    }
  }

  // ---- Inputs ----

  /**
   * One datagram received on local path end `local` from `from`, in `buf[0, length)`.
   * The buffer is decrypted in place; it must have room for nothing more.
   */
  handleDatagram(buf: Uint8Array, length: number, local: number, from: Endpoint, now: number) {
    if (length < 4) return void this.drops.truncated++;
    switch (buf[0]) {
      case MSG_DATA:
        return this.#handleData(buf, length, local, from, now);
      case MSG_INITIATION:
        return this.#handleInitiation(buf.subarray(0, length), local, from, now);
      case MSG_RESPONSE:
        return this.#handleResponse(buf.subarray(0, length), local, from, now);
      default:
        this.drops.unknownType++;
    }
  }

  /** Hot path: a data message. Cheap checks first; decryption only for fresh counters. */
  #handleData(buf: Uint8Array, length: number, local: number, from: Endpoint, now: number) {
    if (length < DATA_OVERHEAD_BYTES) return void this.drops.truncated++;
    if (((buf[1] & ~FLAG_SEQUENCED) | buf[2] | buf[3]) !== 0) return void this.drops.unknownType++;
    const entry = this.#indices.get(readU32(buf, 4) | 0);
    const session = entry?.session;
    if (!session) return void this.drops.unknownIndex++;
    const counter = checkCounter(buf, session, now, this.drops);
    if (counter === DROPPED) return;
    const peer = entry.peer;
    if (counter === DUPLICATE) {
      peer.countCopy(local, from, length);
      return void this.drops.duplicate++;
    }
    peer.handleData(session, buf, length, counter, local, from, now);
  }

  #handleInitiation(msg: Uint8Array, local: number, from: Endpoint, now: number) {
    const init = readInitiation(msg, this.me);
    if (!init) return void this.drops.badHandshake++;
    const peer = this.#byKey.get(keyId(init.initiatorKey));
    if (!peer) return void this.drops.unknownPeer++;
    peer.handleInitiation(msg, init, local, from, now);
  }

  #handleResponse(msg: Uint8Array, local: number, from: Endpoint, now: number) {
    const resp = readResponse(msg, this.me);
    if (!resp) return void this.drops.badHandshake++;
    const entry = this.#indices.get(resp.receiverIndex | 0);
    if (!entry || entry.session) return void this.drops.unexpectedResponse++;
    entry.peer.handleResponse(msg, resp, local, from, now);
  }

  /**
   * One IP packet read from the TUN device, at `buf[DATA_HEADER_BYTES, +length)`, with
   * TAG_BYTES of room after it. Sent to the peer owning its destination (longest prefix).
   */
  handleOutbound(buf: Uint8Array, length: number, now: number): void {
    routeOutbound(buf, length, this.allowedIps, this.drops)?.sendPacket(buf, length, now);
  }

  // ---- From data plane lanes ----

  /** A lane opened a packet of our session `index` from a path it does not know as active. */
  handleLaneArrival(index: number, local: number, from: Endpoint, length: number, now: number) {
    const entry = this.#indices.get(index | 0);
    if (entry?.session) entry.peer.handleLaneArrival(entry.session, local, from, length, now);
  }

  /** A lane opened a control frame of our session `index`. */
  handleLaneFrame(index: number, local: number, from: Endpoint, frame: Uint8Array, now: number) {
    const entry = this.#indices.get(index | 0);
    if (entry?.session) entry.peer.handleLaneFrame(entry.session, local, from, frame, now);
  }

  /** Runs every timer due at `now`. */
  handleTimeout(now: number): void {
    for (const peer of this.#byKey.values()) peer.handleTimeout(now);
  }

  /** When `handleTimeout` next has work (never earlier than `now`). */
  nextDeadline(now: number): number {
    let t = Number.POSITIVE_INFINITY;
    for (const peer of this.#byKey.values()) t = Math.min(t, peer.nextDeadline(now));
    return t;
  }

  /** Runs a stand-in packet through the data path to keep it hot (see `WarmPath`). */
  warm(): void {
    this.#warmPath.run(this.allowedIps);
  }

  /** Forgets all keys. */
  close(): void {
    for (const peer of this.#byKey.values()) peer.close();
    this.#indices.clear();
    this.#warmPath.destroy();
  }

  // ---- PeerContext ----

  mayVerify(now: number): boolean {
    return this.#verifications.take(now);
  }

  randomU32(): number {
    return randomU32(this.#rng, this.#u32);
  }

  randomKey(): Uint8Array {
    const key = new Uint8Array(32);
    this.#rng.fill(key);
    return key;
  }

  allocateIndex(peer: Peer): number {
    for (;;) {
      const index = this.randomU32();
      if (index !== 0 && !this.#indices.has(index | 0)) {
        this.#indices.set(index | 0, { peer });
        return index;
      }
    }
  }

  releaseIndex(index: number): void {
    this.#indices.delete(index | 0);
  }

  registerSession(session: Session, peer: Peer): void {
    this.#indices.set(session.localIndex | 0, { peer, session });
  }

  unregisterSession(session: Session): void {
    const entry = this.#indices.get(session.localIndex | 0);
    if (entry?.session === session) this.#indices.delete(session.localIndex | 0);
  }
}

/** Map key of a public key. */
function keyId(key: Uint8Array): string {
  let s = "";
  for (const b of key) s += b.toString(16).padStart(2, "0");
  return s;
}
