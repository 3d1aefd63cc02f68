/**
 * Test helpers: a hand-made status of one interface (for the metrics, server and show tests), a
 * file-exists check and output sinks that collect what a command prints.
 */
import { DROP_REASONS } from "../core/drops.ts";
import { type InterfaceStatus, snakeCase, STATUS_SCHEMA } from "./status.ts";

/** Public keys of the fixture. */
export const FIXTURE_KEY = "xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=";
export const FIXTURE_PEER_KEY = "HIgo9xNzJMWLKASShiTqIybxZ0U3wGLiUeJ1PKf8ykw=";

/** wg0: two sockets, one peer with an active, a validating and a down path. */
export function fixtureStatus(name = "wg0"): InterfaceStatus {
  const drops: Record<string, number> = {};
  for (const reason of DROP_REASONS) drops[snakeCase(reason)] = 0;
  drops.duplicate = 1200;
  drops.unknown_index = 3;
  return {
    schema: STATUS_SCHEMA,
    interface: name,
    public_key: FIXTURE_KEY,
    listen: [
      {
        index: 0,
        address: "192.0.2.1:51820",
        backup: false,
        priority: 0,
        stats: {
          datagrams_sent: 5000,
          send_errors: 2,
          send_dropped: 0,
          receive_errors: 0,
          segmented_sends: 0,
          coalesced_receives: 0,
          last_send_error: "No route to host",
        },
      },
      { index: 1, address: "[2001:db8::1]:51820", backup: true, priority: 1, stats: null },
    ],
    backends: { tun: "ffi", udp: "deno", aead: "noble" },
    uptime_seconds: 3723.5,
    drops,
    io: null,
    peers: [{
      public_key: FIXTURE_PEER_KEY,
      name: "HIgo9xNz",
      mode: "duplicate",
      redundancy: 0,
      failover_path: null,
      latest_handshake_seconds_ago: 42.25,
      handshakes_completed: 3,
      clock_offset_seconds: 0.012,
      timestamp_ahead_seconds: 0,
      session_age_seconds: 42.25,
      packets_sent: 2000,
      packets_received: 1500,
      bytes_sent: 3_145_728,
      bytes_received: 1_572_864,
      duplicates_dropped: 1200,
      paths: [
        {
          local_index: 0,
          local_address: "192.0.2.1:51820",
          remote: "198.51.100.7:51820",
          configured: true,
          backup: false,
          priority: 0,
          state: "active",
          state_since_seconds_ago: 100,
          rtt_ms: 12.5,
          rttvar_ms: 1.25,
          loss: 0.015,
          delivery_rate_bytes_per_second: 1_250_000,
          packets_sent: 2100,
          bytes_sent: 2_097_152,
          packets_received: 1200,
          bytes_received: 1_048_576,
          duplicates: 250,
          first_arrivals: 1200,
          first_arrival_share: 0.8,
          last_heard_seconds_ago: 0.5,
        },
        {
          local_index: 1,
          local_address: "[2001:db8::1]:51820",
          remote: "[2001:db8::7]:51820",
          configured: false,
          backup: true,
          priority: 1,
          state: "validating",
          state_since_seconds_ago: 2,
          rtt_ms: null,
          rttvar_ms: null,
          loss: null,
          delivery_rate_bytes_per_second: null,
          packets_sent: 3,
          bytes_sent: 96,
          packets_received: 300,
          bytes_received: 524_288,
          duplicates: 950,
          first_arrivals: 300,
          first_arrival_share: 0.2,
          last_heard_seconds_ago: 1,
        },
        {
          local_index: 0,
          local_address: "192.0.2.1:51820",
          remote: "203.0.113.9:4500",
          configured: true,
          backup: false,
          priority: 0,
          state: "down",
          state_since_seconds_ago: null,
          rtt_ms: null,
          rttvar_ms: null,
          loss: null,
          delivery_rate_bytes_per_second: null,
          packets_sent: 1000,
          bytes_sent: 1_048_480,
          packets_received: 0,
          bytes_received: 0,
          duplicates: 0,
          first_arrivals: 0,
          first_arrival_share: 0,
          last_heard_seconds_ago: null,
        },
      ],
    }],
  };
}

/** True when something (a socket, say) exists at `path`. */
export async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch {
    return false;
  }
}

/** Output sinks for a command, and the lines each one got. */
export function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return {
    out,
    err,
    sinks: { out: (t: string) => void out.push(t), err: (t: string) => void err.push(t) },
  };
}
