/**
 * A snapshot of one running interface as a plain JSON-serialisable object: what `GET /status`
 * returns and what `centipede show` and `GET /metrics` are made from. The schema (snake_case
 * keys, units in the names) is documented in docs/CONTROL.md; `schema` is bumped on any change
 * that is not a pure addition.
 *
 * Pure: reads the device's counters and converts monotonic ms to "seconds ago" against `now`.
 * @module
 */
import { encodeKey } from "../config/base64_key.ts";
import type { Mode } from "../config/config.ts";
import type { Device } from "../core/device.ts";
import { DROP_REASONS } from "../core/drops.ts";
import type { Path, PathState } from "../core/path.ts";
import type { Peer } from "../core/peer.ts";
import type { IoCounters } from "../engine/engine.ts";

/** Version of the status schema. */
export const STATUS_SCHEMA = 1;

/** Counters of one local socket, when the socket keeps them (`UdpSocketStats` in lib/host). */
export interface SocketStatsInput {
  readonly sent: number;
  readonly sendErrors: number;
  readonly sendDropped: number;
  readonly receiveErrors: number;
  readonly lastSendError: string;
  /** Sends that carried several datagrams for the kernel to cut (FFI sockets only). */
  readonly segmentedSends?: number;
  /** Receives that carried several datagrams the kernel joined (FFI sockets only). */
  readonly coalescedReceives?: number;
}

/** One local path end as `up` bound it; index = the path's local index. */
export interface ListenInput {
  readonly hostname: string;
  readonly port: number;
  /** Live counters of the socket, if it has them. */
  readonly stats?: SocketStatsInput;
}

/** What `interfaceStatus` reads. */
export interface StatusInput {
  /** Interface name, e.g. `wg0`. */
  readonly name: string;
  readonly device: Device;
  /** Bound socket addresses, by local index. */
  readonly listen: readonly ListenInput[];
  /** Implementation of each component, e.g. `{ tun: "ffi", udp: "deno", aead: "noble" }`. */
  readonly backends: Readonly<Record<string, string>>;
  /** Monotonic ms (`performance.now()`), the clock of the core. */
  readonly now: number;
  /** Monotonic ms when the interface came up. */
  readonly startedAt: number;
  /** The batched engine's counters, if it runs. */
  readonly io?: IoCounters;
}

/** Counters of one socket. */
export interface SocketStatus {
  "datagrams_sent": number;
  "send_errors": number;
  "send_dropped": number;
  "receive_errors": number;
  /** Sends of several datagrams at once (UDP segmentation offload); 0 without it. */
  "segmented_sends": number;
  /** Receives of several datagrams at once (UDP receive coalescing); 0 without it. */
  "coalesced_receives": number;
  /** Message of the last failed send; "" when none failed. */
  "last_send_error": string;
}

/** One local path end. */
export interface ListenStatus {
  /** Local index: the `local_index` of the paths that use this socket. */
  index: number;
  /** "host:port", IPv6 in brackets. */
  address: string;
  /** A metered uplink (`Bind = ... backup`): used only when no regular path is usable. */
  backup: boolean;
  /** Failover preference of the paths on this end: lower first. */
  priority: number;
  /** Null when the socket keeps no counters. */
  stats: SocketStatus | null;
}

/** One path of a peer. */
export interface PathStatus {
  "local_index": number;
  /** "host:port" of the local socket, or null when `local_index` is out of range. */
  "local_address": string | null;
  /** "host:port", IPv6 in brackets. */
  remote: string;
  /** True when from the config file's Endpoint; false when learned from traffic (roaming). */
  configured: boolean;
  /** On a backup local end: used only when no regular path is usable. */
  backup: boolean;
  /** Failover preference: lower first. */
  priority: number;
  /** The core's state, or `standby` for an active path kept warm but not carrying data. */
  state: PathState | "standby";
  /** Seconds since the last state change; null when unchanged since the path was created. */
  "state_since_seconds_ago": number | null;
  /** Smoothed round-trip time in ms; null before the first sample. */
  "rtt_ms": number | null;
  /** Round-trip time variation in ms; null before the first sample. */
  "rttvar_ms": number | null;
  /**
   * Estimated share of our packets lost on the way out, 0..1 (from probe acks); null before
   * the first RTT sample.
   */
  loss: number | null;
  /** Estimated bytes per second the peer received on this path; null before it is measured. */
  "delivery_rate_bytes_per_second": number | null;
  /** Datagrams sent on this path: data, probes, keepalives and handshakes, every copy. */
  "packets_sent": number;
  /** UDP payload bytes of those datagrams. */
  "bytes_sent": number;
  /**
   * Authenticated, fresh data messages received (data, probes, keepalives; not handshakes).
   * Copies that another path delivered first count in `duplicates` instead.
   */
  "packets_received": number;
  /** UDP payload bytes of those messages. */
  "bytes_received": number;
  /** Copies received after another path had delivered the packet (redundancy spent). */
  duplicates: number;
  /** Inner packets this path delivered before any other path did. */
  "first_arrivals": number;
  /** first_arrivals / the peer's delivered packets, 0..1; null before any delivery. */
  "first_arrival_share": number | null;
  /** Seconds since the last authenticated packet on this path; null when never. */
  "last_heard_seconds_ago": number | null;
}

/** One peer. */
export interface PeerStatus {
  /** Base64 public key. */
  "public_key": string;
  /** Short name used in logs (the key's first 8 characters). */
  name: string;
  /** How packets are spread over the paths: duplicate, failover, aggregate or adaptive. */
  mode: Mode;
  /** Duplicate mode: copies go to this many best paths; 0 = every usable path. */
  redundancy: number;
  /** Failover mode: the path carrying the traffic ("LOCAL_INDEX->REMOTE"); else null. */
  "failover_path": string | null;
  /** Seconds since the latest completed handshake; null when none completed. */
  "latest_handshake_seconds_ago": number | null;
  "handshakes_completed": number;
  /**
   * The peer's clock minus ours, seconds, from the timestamp of its latest handshake message we
   * accepted (network delay included); null before the first.
   */
  "clock_offset_seconds": number | null;
  /**
   * How far the newest initiation answered from this peer is ahead of our clock, seconds (0 when
   * not ahead): until then its initiations from a clock further behind are refused as stale.
   */
  "timestamp_ahead_seconds": number;
  /** Age in seconds of the session used to send, null when there is none. */
  "session_age_seconds": number | null;
  /** Inner packets sent to the peer (each counted once, whatever the number of paths). */
  "packets_sent": number;
  /** Inner packets delivered from the peer (after duplicate removal). */
  "packets_received": number;
  /** Sum over current paths of path bytes_sent (all copies, encrypted, handshakes included). */
  "bytes_sent": number;
  /** Sum over current paths of path bytes_received. */
  "bytes_received": number;
  /**
   * Copies of packets that another path had already delivered: the paths' duplicates plus
   * copies on paths no longer listed.
   */
  "duplicates_dropped": number;
  paths: PathStatus[];
}

/** One interface: the body of `GET /status`. */
export interface InterfaceStatus {
  schema: number;
  interface: string;
  /** Base64 public key of the interface. */
  "public_key": string;
  listen: ListenStatus[];
  backends: Record<string, string>;
  "uptime_seconds": number;
  /** Dropped inputs by reason (snake_case of the core's reasons), every reason present. */
  drops: Record<string, number>;
  /**
   * System calls of the batched engine since start (null for the portable one), and their sum
   * per packet handled (TUN reads plus datagrams received).
   */
  io: IoStatus | null;
  peers: PeerStatus[];
}

/** The engine's system-call counters (docs/CONTROL.md). */
export interface IoStatus {
  "packets_in": number;
  "tun_reads": number;
  "tun_writes": number;
  "super_packets_in": number;
  "segments_cut": number;
  "super_packets_out": number;
  "segments_joined": number;
  "receive_batches": number;
  "send_batches": number;
  "polls": number;
  "syscalls_per_packet": number | null;
}

/** The status of one interface at `input.now`. */
export function interfaceStatus(input: StatusInput): InterfaceStatus {
  const { device, now } = input;
  const listen = input.listen.map((l, index): ListenStatus => ({
    index,
    address: hostPort(l.hostname, l.port),
    backup: device.locals[index]?.backup ?? false,
    priority: device.locals[index]?.priority ?? 0,
    stats: l.stats ? socketStatus(l.stats) : null,
  }));
  const drops: Record<string, number> = {};
  for (const reason of DROP_REASONS) drops[snakeCase(reason)] = device.drops[reason];
  return {
    schema: STATUS_SCHEMA,
    interface: input.name,
    public_key: encodeKey(device.publicKey),
    listen,
    backends: { ...input.backends },
    uptime_seconds: seconds(now - input.startedAt),
    drops,
    io: input.io ? ioStatus(input.io) : null,
    peers: device.peers.map((peer) => peerStatus(peer, listen, now)),
  };
}

function ioStatus(io: IoCounters): IoStatus {
  const calls = io.tunReads + io.tunWrites + io.receiveBatches + io.sendBatches + io.polls;
  return {
    packets_in: io.packetsIn,
    tun_reads: io.tunReads,
    tun_writes: io.tunWrites,
    super_packets_in: io.superPacketsIn,
    segments_cut: io.segmentsCut,
    super_packets_out: io.superPacketsOut,
    segments_joined: io.segmentsJoined,
    receive_batches: io.receiveBatches,
    send_batches: io.sendBatches,
    polls: io.polls,
    syscalls_per_packet: io.packetsIn > 0 ? round6(calls / io.packetsIn) : null,
  };
}

function socketStatus(s: SocketStatsInput): SocketStatus {
  return {
    datagrams_sent: s.sent,
    send_errors: s.sendErrors,
    send_dropped: s.sendDropped,
    receive_errors: s.receiveErrors,
    segmented_sends: s.segmentedSends ?? 0,
    coalesced_receives: s.coalescedReceives ?? 0,
    last_send_error: s.lastSendError,
  };
}

function peerStatus(peer: Peer, listen: readonly ListenStatus[], now: number): PeerStatus {
  const c = peer.counters;
  const paths = [...peer.paths].sort(comparePaths);
  const session = peer.currentSession;
  const scheduler = peer.scheduler;
  const carrying = scheduler.mode === "failover" ? scheduler.failoverPath : undefined;
  return {
    public_key: encodeKey(peer.publicKey),
    name: peer.name,
    mode: scheduler.mode,
    redundancy: scheduler.redundancy,
    failover_path: carrying ? pathLabel(carrying) : null,
    latest_handshake_seconds_ago: ago(c.lastHandshakeAt, now),
    handshakes_completed: c.handshakesCompleted,
    clock_offset_seconds: peer.clockOffsetMs === undefined
      ? null
      : round3(peer.clockOffsetMs / 1000),
    timestamp_ahead_seconds: seconds(peer.timestampAheadMs(now)),
    session_age_seconds: session ? seconds(session.age(now)) : null,
    packets_sent: c.packetsSent,
    packets_received: c.packetsReceived,
    bytes_sent: paths.reduce((sum, p) => sum + p.bytesSent, 0),
    bytes_received: paths.reduce((sum, p) => sum + p.bytesReceived, 0),
    duplicates_dropped: c.duplicatesDropped,
    paths: paths.map((p) => ({
      ...pathStatus(p, listen, c.packetsReceived, now),
      // An active path kept warm but not carrying data (failover spare, idle backup).
      ...(scheduler.isStandby(p, peer.paths) ? { state: "standby" as const } : {}),
    })),
  };
}

function pathStatus(
  p: Path,
  listen: readonly ListenStatus[],
  delivered: number,
  now: number,
): PathStatus {
  // The core keeps 0 until the first sample (a true 0 ms sample is indistinguishable: null).
  const sampled = p.srttMs > 0 || p.rttvarMs > 0;
  return {
    local_index: p.local,
    local_address: listen[p.local]?.address ?? null,
    remote: hostPort(p.remote.hostname, p.remote.port),
    configured: p.configured,
    backup: p.backup,
    priority: p.priority,
    state: p.state,
    state_since_seconds_ago: p.stateSince === 0 ? null : seconds(now - p.stateSince),
    rtt_ms: sampled ? round3(p.srttMs) : null,
    rttvar_ms: sampled ? round3(p.rttvarMs) : null,
    loss: sampled ? round6(p.lossRate) : null,
    delivery_rate_bytes_per_second: p.deliveryRate > 0 ? Math.round(p.deliveryRate * 1000) : null,
    packets_sent: p.packetsSent,
    bytes_sent: p.bytesSent,
    packets_received: p.packetsReceived,
    bytes_received: p.bytesReceived,
    duplicates: p.duplicates,
    first_arrivals: p.firstArrivals,
    first_arrival_share: delivered > 0 ? round6(p.firstArrivals / delivered) : null,
    last_heard_seconds_ago: ago(p.lastReceiveAt, now),
  };
}

/** Local index first, then remote address: a stable order for display and diffs. */
function comparePaths(a: Path, b: Path): number {
  if (a.local !== b.local) return a.local - b.local;
  const ha = a.remote.hostname;
  const hb = b.remote.hostname;
  if (ha !== hb) return ha < hb ? -1 : 1;
  return a.remote.port - b.remote.port;
}

/** "LOCAL_INDEX->host:port": how status, metrics and show name a path. */
export function pathLabel(
  p: { local: number; remote: { hostname: string; port: number } },
): string {
  return `${p.local}->${hostPort(p.remote.hostname, p.remote.port)}`;
}

/** "host:port", with brackets around an IPv6 host. */
export function hostPort(hostname: string, port: number): string {
  return `${hostname.includes(":") ? `[${hostname}]` : hostname}:${port}`;
}

/** `unknownIndex` -> `unknown_index`. */
export function snakeCase(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

/** Seconds between monotonic ms `at` and `now`; null when `at` is not a time (never). */
function ago(at: number, now: number): number | null {
  return Number.isFinite(at) ? seconds(now - at) : null;
}

function seconds(ms: number): number {
  return round3(Math.max(0, ms) / 1000);
}

function round3(x: number): number {
  return Math.round(x * 1e3) / 1e3;
}

function round6(x: number): number {
  return Math.round(x * 1e6) / 1e6;
}
