/**
 * One path: a (local path end, remote address) pair, its state, estimators and counters.
 *
 * ```
 *   new remote address (authenticated, fresh)         probe ack on this path
 *   configured endpoint  ──► Validating ─────────────────────────────────► Active
 *                               ▲                                          │
 *                               │ fresh authenticated packet    probed but │
 *                               └─────────────────── Down ◄────────── silent
 *   (a validating path whose probes go unanswered as long is Down as well)
 * ```
 * A path is Active only after a probe we sent on it was acknowledged on it: return routability,
 * so a spoofed source address never becomes a path that receives our traffic.
 * @module
 */
import {
  DELIVERY_LIMITED_SHARE,
  DELIVERY_QUEUE_GROWTH_MS,
  DELIVERY_SAMPLE_MIN_PACKETS,
  LOSS_SAMPLE_MIN_PACKETS,
  MIN_RTT_WINDOW_MS,
  PATH_DOWN_MIN_MS,
  PROBE_INITIAL_TIMEOUT_MS,
  PROBE_LOSS_WEIGHT,
  PROBE_OVERDUE_SLACK_MS,
} from "./constants.ts";

/** A UDP address: an IP literal and a port. */
export interface Endpoint {
  readonly hostname: string;
  readonly port: number;
}

/** What the device knows about one local path end. */
export interface LocalEnd {
  /** 4 or 6, or 0 for a dual-stack socket. */
  readonly family: 0 | 4 | 6;
  /** A metered uplink: used only when no regular path is usable. */
  readonly backup: boolean;
  /** Failover preference: lower first. */
  readonly priority: number;
}

/** Path states. */
export type PathState = "validating" | "active" | "down";

/** The map key of a path. */
export function pathKey(local: number, remote: Endpoint): string {
  return `${local}|${remote.hostname}|${remote.port}`;
}

/** State, estimators and counters of one path. */
export class Path {
  readonly local: number;
  readonly remote: Endpoint;
  readonly key: string;
  /** From the config file (kept even when silent) rather than learned from traffic. */
  readonly configured: boolean;
  readonly backup: boolean;
  readonly priority: number;
  state: PathState = "validating";
  /** Monotonic ms of the last state change. */
  stateSince = 0;
  /** Monotonic ms of the last authenticated packet received on this path. */
  lastReceiveAt = Number.NEGATIVE_INFINITY;
  lastSendAt = Number.NEGATIVE_INFINITY;
  /**
   * Outstanding probe id (0 = none), when it was sent, our send count including it and the bytes
   * we had sent before it.
   */
  probeId = 0;
  probeSentAt = 0;
  probeSentCount = 0;
  probeSentBytes = 0;
  /** When we first probed after last hearing from the path (silence is measured from here). */
  probingSince = 0;
  nextProbeAt = 0;
  /** Smoothed RTT and its variance in ms (RFC 6298); 0 until the first sample. */
  srttMs = 0;
  rttvarMs = 0;
  /** Smallest RTT sample of the last MIN_RTT_WINDOW_MS: the path without queues. */
  minRttMs = 0;
  #minRttAt = 0;
  /** The estimates come from a handshake only (see `seedRtt`). */
  #rttSeeded = false;
  /** True once a probe was acknowledged on the path (it was a real, reachable path). */
  everValidated = false;
  /** Smoothed share of packets lost on the way out (from probe acks). */
  lossRate = 0;
  /**
   * Bytes per ms this path can deliver, from what the peer received (probe acks): a higher
   * sample is taken at once, a lower one smoothed in, and only when the path was the limit.
   */
  deliveryRate = 0;
  packetsSent = 0;
  bytesSent = 0;
  /** Fresh authenticated packets received. */
  packetsReceived = 0;
  bytesReceived = 0;
  /** Every data datagram that arrived, fresh or a copy (what we report in acks). */
  arrivals = 0;
  arrivalBytes = 0;
  /** Data packets this path delivered before any other path. */
  firstArrivals = 0;
  /** Copies that arrived after another path had delivered them (wasted duplicates). */
  duplicates = 0;
  /** Authenticated bytes received while validating: bounds what we may send (anti-amplification). */
  unvalidatedReceived = 0;
  unvalidatedSent = 0;
  /** Loss bookkeeping: our send count at the last loss sample, the peer's arrivals then. */
  ackedSent = 0;
  ackedArrivals = -1;
  ackedAt = 0;
  /**
   * Delivery bookkeeping at the previous ack: our send count and bytes, the peer's arrival
   * bytes, when that probe went out and when its ack came back.
   */
  #rateSent = 0;
  #rateSentBytes = 0;
  #rateArrivalBytes = -1;
  #rateProbeSentAt = 0;
  #rateAckAt = 0;

  constructor(local: number, remote: Endpoint, configured: boolean, end?: LocalEnd) {
    this.local = local;
    this.remote = remote;
    this.key = pathKey(local, remote);
    this.configured = configured;
    this.backup = end?.backup ?? false;
    this.priority = end?.priority ?? 0;
  }

  /** Moves to `state` at `now`. */
  setState(state: PathState, now: number): void {
    this.state = state;
    this.stateSince = now;
  }

  /** How long a probed path may stay silent before it is down. */
  silenceLimit(probeIntervalMs: number): number {
    return Math.max(PATH_DOWN_MIN_MS, 2 * probeIntervalMs + this.srttMs + 4 * this.rttvarMs);
  }

  /**
   * True when a new probe may be sent: none is outstanding, or the outstanding one is overdue
   * (then it counts as lost). A probe still in flight on a slow or queued path is waited for.
   */
  probeDue(now: number): boolean {
    if (this.probeId === 0) return true;
    const limit = this.srttMs > 0
      ? this.srttMs + 4 * this.rttvarMs + PROBE_OVERDUE_SLACK_MS
      : PROBE_INITIAL_TIMEOUT_MS;
    return now - this.probeSentAt > limit;
  }

  /** Records a probe sent at `now` (an unanswered previous one counts as lost). */
  probed(id: number, now: number): void {
    if (this.probeId !== 0) this.probeLost();
    if (this.probingSince <= this.heardSince()) this.probingSince = now;
    this.probeId = id;
    this.probeSentAt = now;
    this.probeSentCount = this.packetsSent + 1;
    this.probeSentBytes = this.bytesSent;
  }

  /** The last time the path proved alive (or started validating). */
  heardSince(): number {
    return Math.max(this.lastReceiveAt, this.stateSince);
  }

  /**
   * True when the path was probed and stayed silent past its limit (an active path that stopped
   * answering, or a validating one whose probes were never acknowledged), and our probes had
   * time to be answered: at least one interval plus an RTT since we started asking.
   */
  isSilent(now: number, probeIntervalMs: number): boolean {
    // Compared with the very deadline a timer waits for: `now - heard >= limit` can be false at
    // `heard + limit` by one rounding, and the timer would fire again and again at that instant.
    return now >= this.silentAt(probeIntervalMs);
  }

  /** When `isSilent` turns true (+Infinity when no probe is outstanding). */
  silentAt(probeIntervalMs: number): number {
    const heard = this.heardSince();
    if (this.state === "down" || this.probingSince <= heard) return Number.POSITIVE_INFINITY;
    const answerTime = probeIntervalMs + this.srttMs + 4 * this.rttvarMs;
    return Math.max(heard + this.silenceLimit(probeIntervalMs), this.probingSince + answerTime);
  }

  /** True when the outstanding probe is overdue: the path may be failing. */
  inDoubt(now: number): boolean {
    if (this.probeId === 0 || this.srttMs === 0) return false;
    return now - this.probeSentAt > this.srttMs + 4 * this.rttvarMs + PROBE_OVERDUE_SLACK_MS;
  }

  /** True when the path's RTT grew well above its minimum: a queue builds, it is saturated. */
  congested(): boolean {
    return this.srttMs > 2 * this.minRttMs + 2;
  }

  /**
   * Seeds the RTT estimates from a handshake's round trip (which includes the peer's signature
   * work) unless the path is active with estimates of its own; its first probe replaces the seed.
   */
  seedRtt(rttMs: number, now: number): void {
    if (this.state === "active" && this.srttMs !== 0) return;
    this.sampleRtt(rttMs, now);
    this.#rttSeeded = true;
  }

  /**
   * Adds one RTT sample taken at `now`. A sample on a path that is not active (validating, or
   * back from down) starts the estimates afresh: what the path measured before is stale.
   */
  sampleRtt(rttMs: number, now: number): void {
    const fresh = this.srttMs === 0 || this.state !== "active" || this.#rttSeeded;
    this.#rttSeeded = false;
    if (
      fresh || rttMs <= this.minRttMs || now - this.#minRttAt > MIN_RTT_WINDOW_MS
    ) {
      this.minRttMs = rttMs;
      this.#minRttAt = now;
    }
    if (fresh) {
      this.srttMs = rttMs;
      this.rttvarMs = rttMs / 2;
      return;
    }
    this.rttvarMs = 0.75 * this.rttvarMs + 0.25 * Math.abs(this.srttMs - rttMs);
    this.srttMs = 0.875 * this.srttMs + 0.125 * rttMs;
  }

  /** A probe went unanswered (a newer one replaces it). */
  probeLost(): void {
    this.lossRate = (1 - PROBE_LOSS_WEIGHT) * this.lossRate + PROBE_LOSS_WEIGHT;
  }

  /**
   * The ack of our outstanding probe, received at `now`, reported the peer's arrival counters on
   * this path when the probe arrived. Everything we sent before the probe had arrived or was
   * lost by then, so the counts since an earlier acked probe give the loss and the delivery
   * rate exactly.
   */
  sampleAck(arrivals: number, arrivalBytes: number, now: number): void {
    this.probeId = 0;
    this.#sampleLoss(arrivals);
    this.#sampleDelivery(arrivalBytes, now);
  }

  #sampleLoss(arrivals: number): void {
    if (this.ackedArrivals >= 0) {
      const got = (arrivals - this.ackedArrivals) >>> 0;
      const sent = this.probeSentCount - this.ackedSent;
      if (sent < LOSS_SAMPLE_MIN_PACKETS) {
        // Too little data for a sample: the answered probe is a small "no loss" sign, and the
        // interval grows until enough packets went out (so an idle path is not declared clean).
        this.lossRate *= 1 - PROBE_LOSS_WEIGHT;
        if (this.probeSentAt - this.ackedAt < 1_000) return;
      } else {
        const lost = Math.min(1, Math.max(0, 1 - got / sent));
        this.lossRate = 0.7 * this.lossRate + 0.3 * lost;
      }
    }
    this.ackedSent = this.probeSentCount;
    this.ackedArrivals = arrivals;
    this.ackedAt = this.probeSentAt;
  }

  /**
   * A delivery sample covers the time between this ack and the previous one; what an idle path
   * delivered says nothing about what it can carry, so an interval with too few packets leaves
   * the rate as it is. The bytes arrived between the two probes' arrivals, a time we do not
   * know: the longer of the time between their sending and between their acks is at least as
   * long while the way back is steady (a growing queue on the way out stretches the second), so
   * a sample hardly ever overstates the rate, and a higher one is taken at once. A lower one
   * counts only when the path was the limit: it lost packets, or its queue grew (the acks came
   * further apart than the probes went out). Otherwise the sample only shows what the path was
   * offered, and a path offered less for a while (another path took a larger share, or its own
   * queue drained) must not lose its estimate.
   */
  #sampleDelivery(arrivalBytes: number, now: number): void {
    const sent = this.probeSentCount - this.#rateSent;
    if (this.#rateArrivalBytes >= 0 && sent >= DELIVERY_SAMPLE_MIN_PACKETS) {
      const sendInterval = this.probeSentAt - this.#rateProbeSentAt;
      const ackInterval = now - this.#rateAckAt;
      const got = (arrivalBytes - this.#rateArrivalBytes) >>> 0;
      const rate = got / Math.max(sendInterval, ackInterval, 1);
      const limited = got < DELIVERY_LIMITED_SHARE * (this.probeSentBytes - this.#rateSentBytes) ||
        ackInterval - sendInterval > DELIVERY_QUEUE_GROWTH_MS;
      this.deliveryRate = limited
        ? Math.max(rate, 0.75 * this.deliveryRate + 0.25 * rate)
        : Math.max(rate, this.deliveryRate);
    }
    this.#rateSent = this.probeSentCount;
    this.#rateSentBytes = this.probeSentBytes;
    this.#rateArrivalBytes = arrivalBytes;
    this.#rateProbeSentAt = this.probeSentAt;
    this.#rateAckAt = now;
  }

  /** True when `bytes` more may be sent before the path is validated. */
  maySend(bytes: number, amplification: number): boolean {
    if (this.configured || this.everValidated) return true;
    return this.unvalidatedSent + bytes <= amplification * this.unvalidatedReceived;
  }
}
