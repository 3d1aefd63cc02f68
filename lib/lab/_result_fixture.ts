/**
 * A small synthetic {@link LabResult} for the report and chart tests: two paths, ping and TCP,
 * five seconds, one event per kind of figure.
 * @module
 */
import type { LabResult } from "./runner.ts";
import type { PathSample, Sample } from "./samples.ts";
import { parseScenario } from "./scenario.ts";

const SCENARIO = `
name: fixture
description: A <test> & its "chart"
duration: 5
hosts: { client: { mode: adaptive } }
paths:
  - { name: wifi, rate: 20mbit }
  - { name: cell, rate: 10mbit, backup: true }
traffic: { ping: { hz: 100 }, tcp: { rate: 4mbit } }
timeline:
  - { at: 2, down: wifi, label: "Wi-Fi <lost> & gone" }
  - { at: 2.2, loss: { cell: 1 } }
  - { at: 4, up: wifi }
`;

function path(state: string, mbps: number, link: "up" | "down" = "up"): PathSample {
  return {
    state,
    "rtt_ms": 0.4,
    loss: 0,
    "sent_mbps": mbps,
    "first_share": state === "active" ? 0.5 : null,
    duplicates: 3,
    "bytes_sent": 1000,
    "first_arrivals": 10,
    link,
    rate: null,
    "loss_set": 0,
  };
}

/** The fixture result; `samples` can be replaced. */
export function fixtureResult(): LabResult {
  const scenario = parseScenario(SCENARIO, "fixture.yaml");
  const samples: Sample[] = [1, 2, 3, 4, 5].map((t) => ({
    t,
    ping: t === 3
      ? { sent: 100, received: 98, lost: 2, "rtt_avg_ms": null, "rtt_max_ms": null }
      : { sent: 100, received: 100, lost: 0, "rtt_avg_ms": 0.5 * t, "rtt_max_ms": t },
    "tcp_mbps": t === 3 ? null : 4,
    paths: {
      wifi: t === 3 ? path("down", 0, "down") : path("active", 2.25),
      cell: path("active", 2.5),
    },
    "server_paths": [],
  }));
  return {
    schema: 1,
    scenario,
    "started_at": "2026-01-01T00:00:00.000Z",
    seconds: 5,
    interrupted: false,
    namespaces: { client: "cp0000c", server: "cp0000s", router: null },
    paths: {
      wifi: { "client_ip": "10.201.1.1", "far_ip": "10.201.1.2" },
      cell: { "client_ip": "10.201.2.1", "far_ip": "10.201.2.2" },
    },
    samples,
    events: scenario.timeline.map((e, i) => ({
      at: e.at,
      t: e.at + 0.01,
      "took_ms": 5,
      kind: e.kind,
      label: e.label,
      detail: `did ${e.kind}`,
      error: i === 1 ? "iptables: permission denied" : null,
      outage: { "longest_gap_ms": 9.5 + i, sent: 500, lost: i },
      "tcp_before_mbps": i === 0 ? 4 : null,
      "tcp_after_mbps": i === 0 ? 3.9876 : null,
    })),
    ping: {
      sent: 500,
      received: 498,
      lost: 2,
      duplicates: 0,
      "rtt_avg_ms": 1.23456,
      "rtt_max_ms": 5,
    },
    tcp: { bytes: 2_500_000, mbps: 4, intact: true, error: null },
    warnings: ["event at 2.2 s (cell loss 1%) failed: iptables: permission denied"],
  };
}
