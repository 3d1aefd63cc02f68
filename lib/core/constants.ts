/**
 * Every protocol limit in one place. Units are part of each name.
 *
 * "Wire" values are fixed by docs/PROTOCOL.md and must not change without a new protocol version.
 * "Timer" and "implementation" values are our choices; the sources they follow are named.
 * @module
 */

// ---- Wire format (docs/PROTOCOL.md) ----

/** Message type byte of a handshake initiation. */
export const MSG_INITIATION = 1;
/** Message type byte of a handshake response. */
export const MSG_RESPONSE = 2;
/** Message type byte of a data (transport) message. */
export const MSG_DATA = 4;

/** Data header: type(1) reserved(3) receiver index(4) counter(8, little-endian). */
export const DATA_HEADER_BYTES = 16;
/** Poly1305 tag appended to every sealed payload. */
export const TAG_BYTES = 16;
/** Bytes a data message adds to the inner packet. */
export const DATA_OVERHEAD_BYTES = DATA_HEADER_BYTES + TAG_BYTES;
/** Size of a handshake initiation message. */
export const INITIATION_BYTES = 160;
/** Size of a handshake response message. */
export const RESPONSE_BYTES = 132;
/** Largest datagram we accept or send. */
export const MAX_DATAGRAM_BYTES = 65535;

/** Outer overhead on a path: data overhead + UDP (8) + IPv6 (40), the worst case. */
export const PATH_OVERHEAD_BYTES = DATA_OVERHEAD_BYTES + 8 + 40;
/** Default inner MTU: 1500 minus the worst-case path overhead. */
export const DEFAULT_MTU = 1500 - PATH_OVERHEAD_BYTES;
/** Smallest MTU accepted (an IPv4 host must accept 576-byte datagrams); IPv6 needs 1280. */
export const MIN_MTU = 576;
/** Smallest MTU when the interface has an IPv6 address. */
export const MIN_MTU_IPV6 = 1280;
/** Largest MTU accepted. */
export const MAX_MTU = 65535 - PATH_OVERHEAD_BYTES;

/** Plaintext type byte of a path probe (an IP packet starts with version nibble 4 or 6). */
export const FRAME_PROBE = 1;
/** Plaintext type byte of a probe acknowledgement. */
export const FRAME_PROBE_ACK = 2;
/** Size of a probe frame: type(1) reserved(3) probe id(4). */
export const PROBE_FRAME_BYTES = 8;
/** Size of a probe ack: type(1) reserved(3) probe id(4) arrivals(4) arrival bytes(4). */
export const PROBE_ACK_FRAME_BYTES = 16;

// ---- Session and handshake timers (WireGuard whitepaper §6.1, adapted) ----

/** The initiator of a session starts a new handshake when it sends on a session this old. */
export const REKEY_AFTER_TIME_MS = 120_000;
/** The responder rekeys later, so both sides rarely start at once. */
export const REKEY_AFTER_TIME_RESPONDER_MS = 150_000;
/** A session is never used, to send or receive, after this age. */
export const REJECT_AFTER_TIME_MS = 180_000;
/** Rekey when the send counter passes this many messages. */
export const REKEY_AFTER_MESSAGES = 2 ** 47;
/**
 * Refuse to send or accept counters at or beyond this. Counters are 64-bit on the wire; we stop
 * well inside the 2^53 range of a JavaScript number (years at millions of packets per second).
 */
export const REJECT_AFTER_MESSAGES = 2 ** 48;
/** First retransmission of an unanswered initiation; doubles up to the maximum. */
export const HANDSHAKE_RETRY_INITIAL_MS = 1_000;
/** Longest interval between retransmitted initiations (WireGuard's REKEY_TIMEOUT). */
export const HANDSHAKE_RETRY_MAX_MS = 5_000;
/** Random jitter added to each retransmission. */
export const HANDSHAKE_RETRY_JITTER_MS = 333;
/** Give up retransmitting after this long; new traffic starts a new attempt. */
export const HANDSHAKE_ATTEMPT_TIME_MS = 90_000;
/** A peer's initiations closer together than this are ignored (50 per second). */
export const HANDSHAKE_MIN_INTERVAL_MS = 20;
/**
 * A peer whose clock differs from ours by more than this at a handshake is named in the log, again
 * when the difference moves by more than this. Clocks need not agree; but an initiation from a
 * clock that runs ahead raises the timestamp a later one must beat (docs/PROTOCOL.md, "Clocks").
 */
export const CLOCK_OFFSET_LOG_MS = 60_000;
/** Signature checks of messages naming one peer: per second, and at once. */
export const PEER_VERIFICATIONS_PER_SECOND = 20;
export const PEER_VERIFICATION_BURST = 5;
/** Signature checks for the whole device: per second, and at once (about 20% of a core). */
export const DEVICE_VERIFICATIONS_PER_SECOND = 500;
export const DEVICE_VERIFICATION_BURST = 50;
/** Packets held per peer while its handshake completes; more are dropped. */
export const MAX_STAGED_PACKETS = 128;

// ---- Replay and duplicate window ----

/**
 * Counters this far behind the highest seen are still accepted once. Multipath needs more than
 * WireGuard's 8128: the window must cover packet rate x delay skew between paths
 * (65504 packets is about 0.7 s of skew at 1 Gbit/s of 1400-byte packets).
 */
export const REPLAY_WINDOW_WORDS = 2048;
/** Bits per word of the replay bitmap. */
export const REPLAY_WORD_BITS = 32;
/** Usable window: the bitmap minus one word of slack for the ring. */
export const REPLAY_WINDOW_PACKETS = (REPLAY_WINDOW_WORDS - 1) * REPLAY_WORD_BITS;

// ---- Paths ----

/** Probe interval on every path in use while the tunnel carries traffic. */
export const PATH_PROBE_INTERVAL_BUSY_MS = 100;
/** Probe interval on standby paths (failover spares, unused backups). */
export const PATH_PROBE_INTERVAL_STANDBY_MS = 1_000;
/** Probe interval on paths that are down, while traffic flows: a path that returns is found fast. */
export const PATH_PROBE_INTERVAL_DOWN_MS = 250;
/** A probe is given up after this long when the path has no RTT estimate yet (as TCP's 1 s RTO). */
export const PROBE_INITIAL_TIMEOUT_MS = 1_000;
/** The minimum RTT of a path is the smallest sample of this window (queueing-free baseline). */
export const MIN_RTT_WINDOW_MS = 10_000;
/** Weight of one probe outcome (answered or lost) in the loss estimate when little data flows. */
export const PROBE_LOSS_WEIGHT = 0.02;
/** Data packets sent between two acked probes needed for a data-based loss sample. */
export const LOSS_SAMPLE_MIN_PACKETS = 16;
/** Packets sent between two probe acks needed for a delivery rate sample (fewer: idle). */
export const DELIVERY_SAMPLE_MIN_PACKETS = 16;
/**
 * A path that delivered less than this share of the bytes sent on it between two acks lost
 * packets: it was the limit, and its delivery sample may lower its rate.
 */
export const DELIVERY_LIMITED_SHARE = 0.95;
/**
 * Acks that came back this much further apart than their probes went out: the path's queue grew,
 * it was the limit, and its delivery sample may lower its rate.
 */
export const DELIVERY_QUEUE_GROWTH_MS = 1;
/** Traffic within this long counts as "the tunnel is busy" (probes run). */
export const TRAFFIC_ACTIVE_WINDOW_MS = 10_000;
/**
 * A probed path silent for max(this, 2 x its probe interval + srtt + 4 x rttvar) is down:
 * about 250 ms on a path of a few ms while traffic flows.
 */
export const PATH_DOWN_MIN_MS = 250;
/** A learned (not configured) path silent for this long is forgotten. */
export const PATH_FORGET_AFTER_MS = 120_000;
/** Most paths kept per peer. */
export const MAX_PATHS_PER_PEER = 16;
/** Before validation, send at most this many times the bytes received on a path (RFC 9000 §8). */
export const UNVALIDATED_AMPLIFICATION = 3;
/** A path losing at least this share of packets is degraded (backups take over). */
export const DEGRADED_LOSS = 0.3;
/** Adaptive mode stripes bulk traffic only over paths losing less than this share. */
export const HEALTHY_LOSS = 0.02;
/** A probe unanswered this long beyond srtt + 4 x rttvar puts its path in doubt. */
export const PROBE_OVERDUE_SLACK_MS = 10;
/** Failover switches back to a preferred path only after it stayed active this long. */
export const FAILOVER_HOLD_MS = 1_000;
/** Aggregation leaves out paths whose RTT exceeds the best path's by more than this. */
export const AGGREGATE_MAX_SKEW_MS = 200;

// ---- Reordering (aggregate and adaptive modes) ----

/** Flag in header byte 1: deliver this packet in counter order (it was striped). */
export const FLAG_SEQUENCED = 0x01;
/** Longest a striped packet waits for an earlier counter before the gap is skipped. */
export const REORDER_MAX_WAIT_MS = 100;
/** Shortest wait for a gap (covers scheduling jitter on equal paths). */
export const REORDER_MIN_WAIT_MS = 5;
/** Most packets held per session; beyond, the oldest gap is skipped. */
export const MAX_REORDER_PACKETS = 1024;

// ---- Adaptive mode ----

/** Packets shorter than this are duplicated in adaptive mode. */
export const SMALL_PACKET_BYTES = 256;

// ---- Data plane workers (lib/engine/lane_worker.ts) ----

/** Datagrams and packets one worker hands to the main thread per second at most (the rest drop). */
export const LANE_FORWARDS_PER_SECOND = 20_000;
/** Burst of such hand-overs. */
export const LANE_FORWARD_BURST = 1_000;
/** A worker reports packets from a path that is not active at most this often per path. */
export const LANE_ARRIVAL_REPORT_INTERVAL_MS = 5;
