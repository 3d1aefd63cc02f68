/**
 * The main thread's side of lane statistics and plans: gives peers and paths their record slots,
 * builds the `LanePlan` the workers run on, and adds what the workers counted (their statistics
 * arrays, lane_plan.ts) into the device's own paths, peers and drop counters, so that the
 * control plane (probes, path states, rekeying, `show`) sees all traffic.
 * @module
 */
import type { Device } from "../core/device.ts";
import { DROP_REASONS } from "../core/drops.ts";
import {
  DROPS_AT,
  LANE_RECORDS,
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
} from "../core/lane_plan.ts";
import type { Path } from "../core/path.ts";
import type { Peer } from "../core/peer.ts";
import type { Session } from "../core/session.ts";

/** Counter fields of a path record, summed into the `Path` field of the same meaning. */
const PATH_SUMS: readonly [number, keyof Path][] = [
  [PATH_PACKETS_SENT, "packetsSent"],
  [PATH_BYTES_SENT, "bytesSent"],
  [PATH_PACKETS_RECEIVED, "packetsReceived"],
  [PATH_BYTES_RECEIVED, "bytesReceived"],
  [PATH_ARRIVALS, "arrivals"],
  [PATH_ARRIVAL_BYTES, "arrivalBytes"],
  [PATH_FIRST_ARRIVALS, "firstArrivals"],
  [PATH_DUPLICATES, "duplicates"],
];

/** Slots, plans and statistics of one device's lanes. */
export class LaneLedger {
  readonly #device: Device;
  /** Each lane's statistics, and what was last added from them. */
  readonly #stats: Float64Array[];
  readonly #seen: Float64Array[];
  readonly #slots = new Map<object, number>();
  /** Free slots, oldest first (a slot is reused as late as possible). */
  readonly #free: number[] = [];
  /** Sessions whose keys the lanes have. */
  #keysSent = new WeakSet<Session>();
  #lastPlan = "";

  constructor(device: Device, stats: readonly Float64Array[]) {
    this.#device = device;
    this.#stats = [...stats];
    this.#seen = stats.map((s) => new Float64Array(s.length));
    for (let slot = 0; slot < LANE_RECORDS; slot++) this.#free.push(slot);
  }

  /** The lanes were restarted (new statistics arrays): they need every key again. */
  restart(stats: readonly Float64Array[]): void {
    this.fold();
    this.#stats.splice(0, this.#stats.length, ...stats);
    this.#seen.splice(0, this.#seen.length, ...stats.map((s) => new Float64Array(s.length)));
    this.#keysSent = new WeakSet();
    this.#lastPlan = "";
  }

  /** The record slot of a peer or path (given out on first use), or -1 when none is free. */
  slotOf(owner: Peer | Path): number {
    let slot = this.#slots.get(owner);
    if (slot !== undefined) return slot;
    slot = this.#free.shift();
    if (slot === undefined) return -1;
    this.#slots.set(owner, slot);
    // What earlier owners of the slot counted is not this one's.
    for (let lane = 0; lane < this.#stats.length; lane++) {
      const at = slot * RECORD_FIELDS;
      this.#seen[lane].set(this.#stats[lane].subarray(at, at + RECORD_FIELDS), at);
    }
    return slot;
  }

  /** The peer holding record `slot`, if a peer does. */
  peerAt(slot: number): Peer | undefined {
    return this.#device.peers.find((peer) => this.#slots.get(peer) === slot);
  }

  /** Adds what the lanes counted since the last fold into the device. */
  fold(): void {
    const device = this.#device;
    for (const peer of device.peers) {
      const slot = this.#slots.get(peer);
      if (slot !== undefined) this.#foldPeer(peer, slot * RECORD_FIELDS);
      for (const path of peer.paths) {
        const pathSlot = this.#slots.get(path);
        if (pathSlot !== undefined) this.#foldPath(path, pathSlot * RECORD_FIELDS);
      }
    }
    DROP_REASONS.forEach((reason, i) => {
      device.drops[reason] += this.#delta(DROPS_AT + i);
    });
  }

  #foldPeer(peer: Peer, at: number): void {
    const c = peer.counters;
    c.packetsSent += this.#delta(at + PEER_PACKETS_SENT);
    c.packetsReceived += this.#delta(at + PEER_PACKETS_RECEIVED);
    c.duplicatesDropped += this.#delta(at + PEER_DUPLICATES);
    const traffic = this.#latest(at + PEER_LAST_TRAFFIC_AT);
    if (traffic > 0) peer.noteTraffic(traffic);
  }

  #foldPath(path: Path, at: number): void {
    for (const [field, name] of PATH_SUMS) {
      (path[name] as number) += this.#delta(at + field);
    }
    path.lastReceiveAt = Math.max(path.lastReceiveAt, this.#latest(at + PATH_LAST_RECEIVE_AT));
    path.lastSendAt = Math.max(path.lastSendAt, this.#latest(at + PATH_LAST_SEND_AT));
  }

  /** Sum over the lanes of what number `at` grew by since the last read. */
  #delta(at: number): number {
    let sum = 0;
    for (let lane = 0; lane < this.#stats.length; lane++) {
      const now = this.#stats[lane][at];
      sum += now - this.#seen[lane][at];
      this.#seen[lane][at] = now;
    }
    return sum;
  }

  /** The largest value of number `at` over the lanes (a time; 0 when never set). */
  #latest(at: number): number {
    let max = 0;
    for (const stats of this.#stats) max = Math.max(max, stats[at]);
    return max;
  }

  /**
   * The plan for the lanes when it changed since the last call (undefined otherwise). Slots of
   * peers and paths that are gone are freed.
   */
  plan(now: number): LanePlan | undefined {
    const alive = new Set<object>();
    const peers: LanePeer[] = [];
    const keyed: Session[] = [];
    for (const peer of this.#device.peers) {
      const lanePeer = this.#planPeer(peer, alive, keyed, now);
      if (lanePeer) peers.push(lanePeer);
    }
    for (const [owner, slot] of this.#slots) {
      if (alive.has(owner)) continue;
      this.#slots.delete(owner);
      this.#free.push(slot);
    }
    const plan: LanePlan = { peers };
    const text = JSON.stringify(plan, (key, value) => key === "keys" ? undefined : value);
    if (text === this.#lastPlan) return undefined;
    this.#lastPlan = text;
    for (const session of keyed) this.#keysSent.add(session);
    return plan;
  }

  #planPeer(peer: Peer, alive: Set<object>, keyed: Session[], now: number): LanePeer | undefined {
    const slot = this.slotOf(peer);
    if (slot < 0) return undefined;
    // Failover: the device chooses the path (as it would for a packet of its own), lanes follow.
    if (peer.scheduler.mode === "failover") peer.scheduler.select(peer.paths, false, now);
    const failover = peer.scheduler.failoverPath;
    alive.add(peer);
    const paths = [];
    for (const path of peer.paths) {
      const pathSlot = this.slotOf(path);
      if (pathSlot < 0) continue;
      alive.add(path);
      paths.push({
        slot: pathSlot,
        local: path.local,
        hostname: path.remote.hostname,
        port: path.remote.port,
        backup: path.backup,
        priority: path.priority,
        ...pathEstimates(path),
      });
    }
    const sessions = peer.confirmedSessions.map((s) => {
      const first = !this.#keysSent.has(s);
      if (first) keyed.push(s);
      return {
        localIndex: s.localIndex,
        remoteIndex: s.remoteIndex,
        isInitiator: s.isInitiator,
        createdAt: s.createdAt,
        memory: s.memory,
        keys: first ? s.keys : undefined,
        reorderWaitMs: s.reorder.waitMs,
      };
    });
    return {
      slot,
      mode: peer.scheduler.mode,
      redundancy: peer.scheduler.redundancy,
      allowedIps: peer.allowedIps,
      paths,
      sessions,
      current: peer.currentSession?.localIndex ?? -1,
      failover: failover ? this.slotOf(failover) : -1,
    };
  }
}
