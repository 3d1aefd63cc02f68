/**
 * What the control plane (the `Device` on the main thread) tells each data plane lane (a
 * `Lane` in a worker), and where a lane counts what it did.
 *
 * - `LanePlan`: a snapshot of the peers: allowed IPs, the paths with the estimators the
 *   scheduler reads, and the sessions (keys only the first time a lane sees a session; the send
 *   counter and replay window are shared memory). Sent again whenever it changes.
 * - Lane statistics: one `Float64Array` per lane over a `SharedArrayBuffer`, written only by its
 *   lane, read by the main thread, which adds what changed since its last read into the
 *   device's own paths, peers and drop counters (`lib/engine/lane_stats.ts`). Peers and paths
 *   each own a record slot, given out by the main thread.
 * @module
 */
import type { Mode } from "../config/config.ts";
import { DROP_REASONS } from "./drops.ts";
import type { SessionKeys } from "./handshake.ts";
import type { Path } from "./path.ts";
import type { SessionMemory } from "./session.ts";

/** The state and estimators of a path that its mirror in a lane copies (the scheduler reads them). */
export type PathEstimates = Pick<
  Path,
  | "state"
  | "stateSince"
  | "srttMs"
  | "rttvarMs"
  | "minRttMs"
  | "lossRate"
  | "deliveryRate"
  | "probeId"
  | "probeSentAt"
>;

/** The estimates of `path` (the device's path, or a plan's copy of one), as a new object. */
export function pathEstimates(path: PathEstimates): PathEstimates {
  return {
    state: path.state,
    stateSince: path.stateSince,
    srttMs: path.srttMs,
    rttvarMs: path.rttvarMs,
    minRttMs: path.minRttMs,
    lossRate: path.lossRate,
    deliveryRate: path.deliveryRate,
    probeId: path.probeId,
    probeSentAt: path.probeSentAt,
  };
}

/** One path as a lane's scheduler sees it. */
export interface LanePath extends Readonly<PathEstimates> {
  /** Record slot of its counters. */
  readonly slot: number;
  readonly local: number;
  readonly hostname: string;
  readonly port: number;
  readonly backup: boolean;
  readonly priority: number;
}

/** One session a lane may open packets of (and send with, when it is the peer's current one). */
export interface LaneSession {
  readonly localIndex: number;
  readonly remoteIndex: number;
  readonly isInitiator: boolean;
  /** Main-thread monotonic ms of the handshake. */
  readonly createdAt: number;
  readonly memory: SessionMemory;
  /** Present the first time a lane is told about the session. */
  readonly keys?: SessionKeys;
  /** How long striped packets wait for a gap (ms). */
  readonly reorderWaitMs: number;
}

/** One peer in a plan. */
export interface LanePeer {
  /** Record slot of its counters. */
  readonly slot: number;
  readonly mode: Mode;
  readonly redundancy: number;
  readonly allowedIps: readonly { bytes: Uint8Array; prefixLength: number }[];
  readonly paths: readonly LanePath[];
  readonly sessions: readonly LaneSession[];
  /** `localIndex` of the session to send with, or -1. */
  readonly current: number;
  /**
   * Failover mode: record slot of the path the device chose (-1: none yet). Every lane starts
   * from the device's choice, so all lanes send on the same path.
   */
  readonly failover: number;
}

/** The whole snapshot. */
export interface LanePlan {
  readonly peers: readonly LanePeer[];
}

/** Record slots per lane (paths and peers together). */
export const LANE_RECORDS = 1024;
/** Numbers per record. */
export const RECORD_FIELDS = 10;

/** Fields of a path record. */
export const PATH_PACKETS_SENT = 0;
export const PATH_BYTES_SENT = 1;
export const PATH_PACKETS_RECEIVED = 2;
export const PATH_BYTES_RECEIVED = 3;
export const PATH_ARRIVALS = 4;
export const PATH_ARRIVAL_BYTES = 5;
export const PATH_FIRST_ARRIVALS = 6;
export const PATH_DUPLICATES = 7;
/** Main-thread monotonic ms (a maximum, not a sum). */
export const PATH_LAST_RECEIVE_AT = 8;
export const PATH_LAST_SEND_AT = 9;

/** Fields of a peer record. */
export const PEER_PACKETS_SENT = 0;
export const PEER_PACKETS_RECEIVED = 1;
export const PEER_DUPLICATES = 2;
/** Main-thread monotonic ms (a maximum). */
export const PEER_LAST_TRAFFIC_AT = 3;

/** Where the drop counters start (one number per reason of `DROP_REASONS`). */
export const DROPS_AT = LANE_RECORDS * RECORD_FIELDS;
/** Where the lane's engine copies its `IoCounters` (in declaration order). */
export const IO_AT = DROPS_AT + DROP_REASONS.length;
/** Numbers of I/O counters kept. */
export const IO_FIELDS = 16;
/** Where each socket's counters start: SOCKET_FIELDS numbers per local end. */
export const SOCKETS_AT = IO_AT + IO_FIELDS;
export const SOCKET_FIELDS = 8;
/** Most local ends a lane reports socket counters for. */
export const MAX_LANE_SOCKETS = 16;
/** Numbers in a lane's statistics array. */
export const LANE_STATS_NUMBERS = SOCKETS_AT + SOCKET_FIELDS * MAX_LANE_SOCKETS;

/** Fresh shared statistics memory for one lane. */
export function laneStatsMemory(): SharedArrayBuffer {
  return new SharedArrayBuffer(LANE_STATS_NUMBERS * 8);
}
