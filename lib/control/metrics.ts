/**
 * The status of one interface in the Prometheus text exposition format (version 0.0.4), the body
 * of `GET /metrics`. Every sample carries `interface`; peer samples add `peer` (base64 public
 * key); path samples add `path` ("LOCAL_INDEX->REMOTE"), `local` and `remote`. The list of
 * metrics is in docs/CONTROL.md.
 * @module
 */
import type { InterfaceStatus, PathStatus, PeerStatus } from "./status.ts";

/** Content type of the text exposition format. */
export const METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

type Labels = Record<string, string>;
type Kind = "counter" | "gauge";

interface Family {
  readonly name: string;
  readonly kind: Kind;
  readonly help: string;
  readonly samples: string[];
}

/** The metrics of one interface. */
export function prometheusText(status: InterfaceStatus): string {
  const out = new Exposition();
  const iface = { interface: status.interface };

  out.sample("centipede_info", "gauge", "Interface information (always 1).", {
    ...iface,
    public_key: status.public_key,
  }, 1);
  for (const [component, backend] of Object.entries(status.backends)) {
    out.sample("centipede_backend_info", "gauge", "Implementation of each component (always 1).", {
      ...iface,
      component,
      backend,
    }, 1);
  }
  const uptimeHelp = "Seconds since the interface came up.";
  out.sample("centipede_uptime_seconds", "gauge", uptimeHelp, iface, status.uptime_seconds);
  for (const [reason, count] of Object.entries(status.drops)) {
    out.sample("centipede_drops_total", "counter", "Inputs dropped, by reason.", {
      ...iface,
      reason,
    }, count);
  }
  for (const l of status.listen) {
    if (!l.stats) continue;
    const labels = { ...iface, local: l.address };
    out.sample(
      "centipede_socket_datagrams_sent_total",
      "counter",
      "Datagrams the kernel accepted on this local socket.",
      labels,
      l.stats.datagrams_sent,
    );
    out.sample(
      "centipede_socket_send_errors_total",
      "counter",
      "Sends that failed on this local socket (no route, wrong family, too long...).",
      labels,
      l.stats.send_errors,
    );
    out.sample(
      "centipede_socket_send_dropped_total",
      "counter",
      "Sends refused because too many were in flight on this local socket.",
      labels,
      l.stats.send_dropped,
    );
    out.sample(
      "centipede_socket_receive_errors_total",
      "counter",
      "Receive errors on this local socket.",
      labels,
      l.stats.receive_errors,
    );
  }
  for (const peer of status.peers) peerMetrics(out, status.interface, peer);
  return out.text();
}

function peerMetrics(out: Exposition, iface: string, peer: PeerStatus): void {
  const labels = { interface: iface, peer: peer.public_key };
  out.sample("centipede_peer_info", "gauge", "Peer information (always 1).", {
    ...labels,
    name: peer.name,
    mode: peer.mode,
  }, 1);
  if (peer.latest_handshake_seconds_ago !== null) {
    out.sample(
      "centipede_peer_last_handshake_seconds",
      "gauge",
      "Seconds since the latest completed handshake (absent before the first).",
      labels,
      peer.latest_handshake_seconds_ago,
    );
  }
  if (peer.clock_offset_seconds !== null) {
    out.sample(
      "centipede_peer_clock_offset_seconds",
      "gauge",
      "The peer's clock minus ours at the latest handshake (absent before the first).",
      labels,
      peer.clock_offset_seconds,
    );
  }
  out.sample(
    "centipede_peer_handshakes_total",
    "counter",
    "Handshakes completed with the peer.",
    labels,
    peer.handshakes_completed,
  );
  out.sample(
    "centipede_peer_session_up",
    "gauge",
    "1 when a session to send on exists, else 0.",
    labels,
    peer.session_age_seconds === null ? 0 : 1,
  );
  out.sample(
    "centipede_peer_packets_sent_total",
    "counter",
    "Inner packets sent to the peer (once each, whatever the number of paths).",
    labels,
    peer.packets_sent,
  );
  out.sample(
    "centipede_peer_packets_received_total",
    "counter",
    "Inner packets delivered from the peer, after duplicate removal.",
    labels,
    peer.packets_received,
  );
  out.sample(
    "centipede_peer_duplicates_dropped_total",
    "counter",
    "Copies of packets another path had already delivered.",
    labels,
    peer.duplicates_dropped,
  );
  for (const path of peer.paths) pathMetrics(out, labels, path);
}

const PATH_STATES = ["validating", "active", "down"] as const;

function pathMetrics(out: Exposition, peerLabels: Labels, p: PathStatus): void {
  const labels = {
    ...peerLabels,
    path: pathName(p),
    local: p.local_address ?? "",
    remote: p.remote,
  };
  out.sample(
    "centipede_path_up",
    "gauge",
    "1 when the path is active (validated and answering), else 0.",
    labels,
    p.state === "active" ? 1 : 0,
  );
  for (const state of PATH_STATES) {
    out.sample(
      "centipede_path_state",
      "gauge",
      "1 for the path's current state, 0 for the others.",
      { ...labels, state },
      p.state === state ? 1 : 0,
    );
  }
  if (p.rtt_ms !== null) {
    out.sample(
      "centipede_path_rtt_seconds",
      "gauge",
      "Smoothed round-trip time of the path.",
      labels,
      p.rtt_ms / 1000,
    );
  }
  if (p.rttvar_ms !== null) {
    out.sample(
      "centipede_path_rttvar_seconds",
      "gauge",
      "Round-trip time variation of the path.",
      labels,
      p.rttvar_ms / 1000,
    );
  }
  if (p.loss !== null) {
    out.sample(
      "centipede_path_loss_ratio",
      "gauge",
      "Estimated share of packets lost on the way out (from probe acks), 0..1.",
      labels,
      p.loss,
    );
  }
  if (p.delivery_rate_bytes_per_second !== null) {
    out.sample(
      "centipede_path_delivery_rate_bytes_per_second",
      "gauge",
      "Estimated bytes per second the peer received on the path.",
      labels,
      p.delivery_rate_bytes_per_second,
    );
  }
  out.sample(
    "centipede_path_packets_sent_total",
    "counter",
    "Datagrams sent on the path (data, probes, keepalives, handshakes).",
    labels,
    p.packets_sent,
  );
  out.sample(
    "centipede_path_bytes_sent_total",
    "counter",
    "UDP payload bytes sent on the path.",
    labels,
    p.bytes_sent,
  );
  out.sample(
    "centipede_path_packets_received_total",
    "counter",
    "Fresh authenticated data messages received on the path.",
    labels,
    p.packets_received,
  );
  out.sample(
    "centipede_path_bytes_received_total",
    "counter",
    "UDP payload bytes of fresh data messages received on the path.",
    labels,
    p.bytes_received,
  );
  out.sample(
    "centipede_path_duplicates_total",
    "counter",
    "Copies received on the path after another path had delivered the packet.",
    labels,
    p.duplicates,
  );
  out.sample(
    "centipede_path_first_arrivals_total",
    "counter",
    "Inner packets this path delivered before any other path.",
    labels,
    p.first_arrivals,
  );
  if (p.last_heard_seconds_ago !== null) {
    out.sample(
      "centipede_path_last_heard_seconds",
      "gauge",
      "Seconds since the last authenticated packet on the path (absent when never).",
      labels,
      p.last_heard_seconds_ago,
    );
  }
}

/** The `path` label: "LOCAL_INDEX->REMOTE". */
function pathName(p: PathStatus): string {
  return `${p.local_index}->${p.remote}`;
}

/** Collects samples grouped by family, families in first-seen order. */
class Exposition {
  readonly #families = new Map<string, Family>();

  sample(name: string, kind: Kind, help: string, labels: Labels, value: number): void {
    let family = this.#families.get(name);
    if (!family) {
      family = { name, kind, help, samples: [] };
      this.#families.set(name, family);
    }
    family.samples.push(`${name}${formatLabels(labels)} ${formatValue(value)}`);
  }

  text(): string {
    let out = "";
    for (const f of this.#families.values()) {
      out += `# HELP ${f.name} ${escapeHelp(f.help)}\n# TYPE ${f.name} ${f.kind}\n`;
      for (const s of f.samples) out += `${s}\n`;
    }
    return out;
  }
}

function formatLabels(labels: Labels): string {
  const parts = Object.entries(labels).map(([k, v]) => `${k}="${escapeLabel(v)}"`);
  return parts.length === 0 ? "" : `{${parts.join(",")}}`;
}

/** Label values escape backslash, double quote and line feed. */
export function escapeLabel(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

/** HELP text escapes backslash and line feed. */
function escapeHelp(text: string): string {
  return text.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");
}

/** A sample value: Go-style float text, with the format's spelling of NaN and infinities. */
export function formatValue(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (value === Number.POSITIVE_INFINITY) return "+Inf";
  if (value === Number.NEGATIVE_INFINITY) return "-Inf";
  return String(value);
}
