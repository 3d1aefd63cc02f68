/**
 * One peer's handshake state, apart from its sessions and paths: our pending initiation and its
 * retransmission schedule, the timestamps that reject replays and break ties, and the ration of
 * signature checks. Sans-I/O: it makes and checks messages and returns keys; the `Peer` sends the
 * messages and installs the sessions.
 *
 * - An attempt starts with a 1 s retry delay that doubles to HANDSHAKE_RETRY_MAX_MS, plus jitter;
 *   the peer gives it up after HANDSHAKE_ATTEMPT_TIME_MS unless it still wants a session.
 * - An initiation is answered only if its timestamp is newer than every one answered before, no
 *   sooner than HANDSHAKE_MIN_INTERVAL_MS after the last, and within the signature budget.
 * - Both sides initiating at once: the newer timestamp wins, then the larger public key; the
 *   loser answers the winner's initiation and drops its own.
 * @module
 */
import {
  HANDSHAKE_ATTEMPT_TIME_MS,
  HANDSHAKE_MIN_INTERVAL_MS,
  HANDSHAKE_RETRY_INITIAL_MS,
  HANDSHAKE_RETRY_JITTER_MS,
  HANDSHAKE_RETRY_MAX_MS,
  PEER_VERIFICATION_BURST,
  PEER_VERIFICATIONS_PER_SECOND,
} from "./constants.ts";
import {
  createInitiation,
  createResponse,
  deriveSessionKeys,
  type Initiation,
  type Response,
  type SessionKeys,
  verifyInitiation,
  verifyResponse,
} from "./handshake.ts";
import type { Peer } from "./peer.ts";
import type { PeerContext } from "./peer_context.ts";
import { TokenBucket } from "./token_bucket.ts";

/** Our initiation while it waits for a response. */
interface PendingInitiation {
  readonly localIndex: number;
  readonly timestampUs: number;
  readonly ephemeralPrivate: Uint8Array;
  readonly message: Uint8Array;
  readonly sentAt: number;
}

/** A session agreed on: its keys and indices; `sentAt` is when our initiation left (initiator). */
export interface Agreement {
  readonly keys: SessionKeys;
  readonly localIndex: number;
  readonly remoteIndex: number;
  readonly sentAt: number;
}

export class PeerHandshake {
  /** When `handleTimeout` should retransmit or give up the attempt (infinite: nothing due). */
  retryAt = Number.POSITIVE_INFINITY;
  /**
   * The peer's clock minus ours, ms, from the timestamp of the latest handshake message of its
   * that we accepted (network delay included); undefined before the first.
   */
  clockOffsetMs: number | undefined = undefined;
  readonly #ctx: PeerContext;
  readonly #peer: Peer;
  #pending: PendingInitiation | undefined;
  #attemptStartedAt = 0;
  #retryDelayMs = HANDSHAKE_RETRY_INITIAL_MS;
  #greatestTimestampUs = -1;
  #lastAnsweredAt = Number.NEGATIVE_INFINITY;
  #lastTimestampSentUs = 0;
  readonly #verifications = new TokenBucket(PEER_VERIFICATIONS_PER_SECOND, PEER_VERIFICATION_BURST);

  constructor(ctx: PeerContext, peer: Peer) {
    this.#ctx = ctx;
    this.#peer = peer;
  }

  /**
   * How far the greatest initiation timestamp we answered is ahead of our clock at `now`, ms (0
   * when it is not ahead). Until our clock passes it, only an initiation from a clock at least as
   * far ahead is answered.
   */
  timestampAheadMs(now: number): number {
    if (this.#greatestTimestampUs < 0) return 0;
    return Math.max(0, this.#greatestTimestampUs / 1000 - this.#wallMs(now));
  }

  /**
   * Forgets the greatest initiation timestamp answered, so that the peer's next initiation is
   * answered whatever its clock says: the way out when the peer's clock went back (an operator's
   * command, never a network event). Until that initiation, an old one replayed would be
   * answered once; it cannot complete a session.
   */
  forgetTimestamp(): void {
    this.#greatestTimestampUs = -1;
  }

  /** True while our initiation waits for a response. */
  get pending(): boolean {
    return this.#pending !== undefined;
  }

  /** Starts a new attempt: the retry delay goes back to its initial value. */
  startAttempt(now: number): void {
    this.#attemptStartedAt = now;
    this.#retryDelayMs = HANDSHAKE_RETRY_INITIAL_MS;
  }

  /** True when the current attempt has run for HANDSHAKE_ATTEMPT_TIME_MS. */
  attemptExpired(now: number): boolean {
    return now - this.#attemptStartedAt >= HANDSHAKE_ATTEMPT_TIME_MS;
  }

  /**
   * A fresh initiation to send on every usable path, replacing any pending one, with the next
   * retry scheduled; null when there is no path to send it on (retried after the delay).
   */
  initiate(now: number, hasPath: boolean): Uint8Array | null {
    this.cancel();
    if (!hasPath) {
      this.retryAt = now + this.#retryDelayMs;
      return null;
    }
    const ephemeralPrivate = this.#ctx.randomKey();
    const localIndex = this.#ctx.allocateIndex(this.#peer);
    const timestampUs = this.#timestamp(now);
    const message = createInitiation(this.#ctx.me, {
      senderIndex: localIndex,
      timestampUs,
      ephemeralPrivate,
      peerKey: this.#peer.publicKey,
    });
    this.#pending = { localIndex, timestampUs, ephemeralPrivate, message, sentAt: now };
    const jitter = this.#ctx.randomU32() % (HANDSHAKE_RETRY_JITTER_MS + 1);
    this.retryAt = now + this.#retryDelayMs + jitter;
    this.#retryDelayMs = Math.min(2 * this.#retryDelayMs, HANDSHAKE_RETRY_MAX_MS);
    return message;
  }

  /**
   * Answers an initiation from this peer that passed the cheap checks: the response to send and
   * the session agreed on, or undefined (counted in the drops). Replays (timestamp not newer than
   * the greatest answered) are dropped before the signature is checked. Answering cancels our
   * own pending initiation.
   */
  answer(msg: Uint8Array, init: Initiation, now: number): [Uint8Array, Agreement] | undefined {
    const drops = this.#ctx.drops;
    if (init.timestampUs <= this.#greatestTimestampUs) return void drops.staleTimestamp++;
    if (now - this.#lastAnsweredAt < HANDSHAKE_MIN_INTERVAL_MS) return void drops.handshakeFlood++;
    if (!this.#mayVerify(now)) return void drops.handshakeFlood++;
    if (!verifyInitiation(msg, this.#ctx.me, init.initiatorKey)) return void drops.badSignature++;
    if (this.#pending && this.#winsTie(init.timestampUs)) return void drops.staleTimestamp++;
    const ephemeralPrivate = this.#ctx.randomKey();
    const localIndex = this.#ctx.allocateIndex(this.#peer);
    const response = createResponse(this.#ctx.me, {
      senderIndex: localIndex,
      receiverIndex: init.senderIndex,
      timestampUs: this.#timestamp(now),
      ephemeralPrivate,
      initiation: msg,
      peerKey: this.#peer.publicKey,
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
    this.clockOffsetMs = init.timestampUs / 1000 - this.#wallMs(now);
    this.#lastAnsweredAt = now;
    this.cancel();
    this.retryAt = Number.POSITIVE_INFINITY;
    return [response, { keys, localIndex, remoteIndex: init.senderIndex, sentAt: now }];
  }

  /**
   * Completes our pending initiation with a response that passed the cheap checks: the session
   * agreed on, or undefined (counted in the drops; the initiation stays pending).
   */
  complete(msg: Uint8Array, resp: Response, now: number): Agreement | undefined {
    const pending = this.#pending;
    const drops = this.#ctx.drops;
    if (!pending || pending.localIndex !== resp.receiverIndex) {
      return void drops.unexpectedResponse++;
    }
    if (!this.#mayVerify(now)) return void drops.handshakeFlood++;
    if (!verifyResponse(msg, pending.message, this.#peer.publicKey)) {
      return void drops.badSignature++;
    }
    const keys = deriveSessionKeys({
      ephemeralPrivate: pending.ephemeralPrivate,
      peerEphemeral: resp.ephemeralKey,
      responderKey: this.#peer.publicKey,
      initiation: pending.message,
      response: msg,
    });
    if (!keys) return void drops.badHandshake++;
    this.clockOffsetMs = resp.timestampUs / 1000 - this.#wallMs(now);
    pending.ephemeralPrivate.fill(0);
    this.#pending = undefined;
    this.retryAt = Number.POSITIVE_INFINITY;
    const { localIndex, sentAt } = pending;
    return { keys, localIndex, remoteIndex: resp.senderIndex, sentAt };
  }

  /** Forgets the pending initiation, if any: its index is released and its key wiped. */
  cancel(): void {
    if (!this.#pending) return;
    this.#ctx.releaseIndex(this.#pending.localIndex);
    this.#pending.ephemeralPrivate.fill(0);
    this.#pending = undefined;
  }

  /** Strictly increasing wall-clock microseconds for our handshake messages. */
  #timestamp(now: number): number {
    const us = Math.floor(this.#wallMs(now) * 1000);
    this.#lastTimestampSentUs = Math.max(us, this.#lastTimestampSentUs + 1);
    return this.#lastTimestampSentUs;
  }

  /** Our wall clock at monotonic `now`, ms since the Unix epoch. */
  #wallMs(now: number): number {
    return now + this.#ctx.epochOffsetMs;
  }

  /** Signature checks are rationed per peer and per device, so junk cannot eat the CPU. */
  #mayVerify(now: number): boolean {
    return this.#verifications.take(now) && this.#ctx.mayVerify(now);
  }

  /** True when our own pending initiation beats theirs (newer timestamp, then larger key). */
  #winsTie(theirTimestampUs: number): boolean {
    const ours = this.#pending!.timestampUs;
    if (ours !== theirTimestampUs) return ours > theirTimestampUs;
    return compareBytes(this.#ctx.me.publicKey, this.#peer.publicKey) > 0;
  }
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    if (a[i] !== b[i]) return a[i] - b[i];
  }
  return a.length - b.length;
}
