/**
 * One path: a (local socket, remote address) pair, its state and its counters.
 *
 * ```
 *   new remote address (authenticated, fresh)         probe ack on this path
 *   configured endpoint  ──► Validating ─────────────────────────────────► Active
 *                               ▲                                          │
 *                               │ fresh authenticated packet    silent for │
 *                               └─────────────────── Down ◄────────────────┘
 *                                                          PATH_DOWN_AFTER_MS
 *   (a validating path whose probes go unanswered for PATH_DOWN_AFTER_MS is Down as well)
 * ```
 * A path is Active only after a probe we sent on it was acknowledged on it: return routability,
 * so a spoofed source address never becomes a path that receives our traffic.
 * @module
 */

/** A UDP address: an IP literal and a port. */
export interface Endpoint {
  readonly hostname: string;
  readonly port: number;
}

/** Path states. */
export type PathState = "validating" | "active" | "down";

/** The map key of a path. */
export function pathKey(local: number, remote: Endpoint): string {
  return `${local}|${remote.hostname}|${remote.port}`;
}

/** State and counters of one path. */
export class Path {
  readonly local: number;
  readonly remote: Endpoint;
  readonly key: string;
  /** From the config file (kept even when silent) rather than learned from traffic. */
  readonly configured: boolean;
  state: PathState = "validating";
  /** Monotonic ms of the last state change. */
  stateSince = 0;
  /** Monotonic ms of the last authenticated packet received on this path. */
  lastReceiveAt = Number.NEGATIVE_INFINITY;
  lastSendAt = Number.NEGATIVE_INFINITY;
  /** Outstanding probe id (0 = none) and when it was sent. */
  probeId = 0;
  probeSentAt = 0;
  nextProbeAt = 0;
  /** Smoothed RTT and its variance in ms (RFC 6298); 0 until the first sample. */
  srttMs = 0;
  rttvarMs = 0;
  packetsSent = 0;
  bytesSent = 0;
  packetsReceived = 0;
  bytesReceived = 0;
  /** Data packets this path delivered before any other path. */
  firstArrivals = 0;
  /** Authenticated bytes received while validating: bounds what we may send (anti-amplification). */
  unvalidatedReceived = 0;
  unvalidatedSent = 0;

  constructor(local: number, remote: Endpoint, configured: boolean) {
    this.local = local;
    this.remote = remote;
    this.key = pathKey(local, remote);
    this.configured = configured;
  }

  /** Moves to `state` at `now`. */
  setState(state: PathState, now: number): void {
    this.state = state;
    this.stateSince = now;
  }

  /**
   * True when the path was probed and stayed silent for `silenceMs`: an active path that stopped
   * answering, or a validating one whose probes were never acknowledged.
   */
  isSilent(now: number, silenceMs: number): boolean {
    const since = this.state === "active" ? this.lastReceiveAt : this.stateSince;
    return this.state !== "down" && this.probeSentAt > since && now - since >= silenceMs;
  }

  /** Adds one RTT sample. */
  sampleRtt(rttMs: number): void {
    if (this.srttMs === 0) {
      this.srttMs = rttMs;
      this.rttvarMs = rttMs / 2;
      return;
    }
    this.rttvarMs = 0.75 * this.rttvarMs + 0.25 * Math.abs(this.srttMs - rttMs);
    this.srttMs = 0.875 * this.srttMs + 0.125 * rttMs;
  }

  /** True when `bytes` more may be sent before the path is validated. */
  maySend(bytes: number, amplification: number): boolean {
    if (this.state !== "validating" || this.configured) return true;
    return this.unvalidatedSent + bytes <= amplification * this.unvalidatedReceived;
  }
}
