/**
 * The text and JSON of a lab run: the live per-second table (one row per second: ping
 * sent/received/lost and RTT, TCP Mbit/s, and per path centipede's state, RTT, send rate,
 * first-arrival share and duplicates), event lines, the end summary (per event: outage and TCP
 * before/after), and the result JSON. Pure: functions return strings.
 * @module
 */
import type { LabResult } from "./runner.ts";
import type { EventRecord, PathSample, Sample } from "./samples.ts";
import type { Scenario } from "./scenario.ts";

/** Widths of a path's columns: state, rtt, Mbit/s, first, dup. */
const COLUMNS = [10, 6, 7, 6, 5] as const;
/** "| " + the columns + " ". */
const PATH_WIDTH = 3 + COLUMNS.reduce((a, b) => a + b, 0);

function pad(text: string, width: number): string {
  return text.length >= width ? text : " ".repeat(width - text.length) + text;
}

function padEnd(text: string, width: number): string {
  return text.length >= width ? text.slice(0, width) : text + " ".repeat(width - text.length);
}

/** A number with `digits` decimals, or `-` for null. */
export function fmt(n: number | null | undefined, digits = 1): string {
  return n === null || n === undefined || !Number.isFinite(n) ? "-" : n.toFixed(digits);
}

function percent(share: number | null): string {
  return share === null ? "-" : `${Math.round(share * 100)}%`;
}

/** The two header lines of the table for a scenario. */
export function tableHeader(s: Scenario): string[] {
  const ping = s.traffic.ping !== null;
  const tcp = s.traffic.tcp !== null;
  let top = "     ";
  let bottom = "   t ";
  if (ping) {
    top += "|" + padEnd(" ping", 26);
    bottom += "| sent recv lost    rtt ms ";
  }
  if (tcp) {
    top += "|  TCP   ";
    bottom += "| Mbit/s ";
  }
  for (const p of s.paths) {
    top += "| " + padEnd(`${p.name}${p.backup ? " (backup)" : ""}`, PATH_WIDTH - 2);
    bottom += "| " + padEnd("state", COLUMNS[0]) + pad("rtt", COLUMNS[1]) +
      pad("Mbit/s", COLUMNS[2]) +
      pad("first", COLUMNS[3]) + pad("dup", COLUMNS[4]) + " ";
  }
  return [top.trimEnd(), bottom.trimEnd()];
}

function pathCells(p: PathSample | undefined): string {
  if (p === undefined) return padEnd("", PATH_WIDTH);
  const state = p.link === "down" ? `${p.state ?? "-"}*` : p.state ?? "-";
  return "| " + padEnd(state, COLUMNS[0]) + pad(fmt(p.rtt_ms), COLUMNS[1]) +
    pad(fmt(p.sent_mbps), COLUMNS[2]) + pad(percent(p.first_share), COLUMNS[3]) +
    pad(String(p.duplicates), COLUMNS[4]) + " ";
}

/** One table row. A `*` after a path's state: the lab has its link down. */
export function tableRow(s: Scenario, sample: Sample): string {
  let line = pad(`${sample.t}s`, 4) + " ";
  if (s.traffic.ping !== null) {
    const p = sample.ping;
    line += "|" + pad(String(p?.sent ?? "-"), 5) + pad(String(p?.received ?? "-"), 5) +
      pad(String(p?.lost ?? "-"), 5) + pad(fmt(p?.rtt_avg_ms, 2), 10) + " ";
  }
  if (s.traffic.tcp !== null) line += "|" + pad(fmt(sample.tcp_mbps), 7) + " ";
  for (const path of s.paths) line += pathCells(sample.paths[path.name]);
  return line.trimEnd();
}

/** The line printed when an event was carried out. */
export function eventLine(e: EventRecord): string {
  const what = e.error === null ? e.detail : `FAILED: ${e.error}`;
  return `  >> ${fmt(e.t, 1)} s  ${e.label}: ${what}`;
}

function mbit(n: number | null): string {
  return n === null ? "-" : `${n.toFixed(1)}`;
}

/** The end summary: totals, then one line per event. */
export function summaryLines(r: LabResult): string[] {
  const s = r.scenario;
  const lines = [
    `summary of ${s.name}: ${r.seconds} s${r.interrupted ? " (interrupted)" : ""}, ` +
    `client mode ${s.client.mode}, server mode ${s.server.mode}, ` +
    `${s.paths.length} path(s)${
      s.router === null ? "" : s.router.nat ? " behind NAT" : " via a router"
    }`,
  ];
  if (r.ping !== null) {
    const p = r.ping;
    const share = p.sent > 0 ? ` (${((100 * p.lost) / p.sent).toFixed(2)}%)` : "";
    lines.push(
      `  ping: ${p.sent} sent, ${p.received} answered, ${p.lost} lost${share}, ` +
        `${p.duplicates} duplicate replies, rtt avg ${fmt(p.rtt_avg_ms, 2)} ms, max ${
          fmt(p.rtt_max_ms, 1)
        } ms`,
    );
  }
  if (r.tcp !== null) {
    const t = r.tcp;
    lines.push(
      `  TCP: ${(t.bytes / 1e6).toFixed(1)} MB received, ${t.mbps.toFixed(1)} Mbit/s mean, ` +
        (t.intact ? "data intact (sha256)" : `NOT intact${t.error ? `: ${t.error}` : ""}`),
    );
  }
  if (r.events.length > 0) {
    lines.push("  events (outage: longest time without a ping reply in the 5 s after it):");
    for (const e of r.events) lines.push(`    ${eventSummary(e)}`);
  }
  for (const w of r.warnings) lines.push(`  warning: ${w}`);
  return lines;
}

/** One event of the summary. */
export function eventSummary(e: EventRecord): string {
  let text = `${pad(fmt(e.t, 1), 5)} s  ${padEnd(e.label, 28)}`;
  if (e.error !== null) return `${text} FAILED: ${e.error}`;
  if (e.outage !== null) {
    text += ` outage ${pad(e.outage.longest_gap_ms.toFixed(0), 5)} ms, ` +
      `${e.outage.lost}/${e.outage.sent} pings lost`;
  }
  if (e.tcp_before_mbps !== null || e.tcp_after_mbps !== null) {
    text += `; TCP ${mbit(e.tcp_before_mbps)} -> ${mbit(e.tcp_after_mbps)} Mbit/s`;
  }
  return text;
}

/** The result as JSON text: numbers rounded to 3 decimals, two-space indent. */
export function resultJson(r: LabResult): string {
  return JSON.stringify(
    r,
    (_key, value) =>
      typeof value === "number" && !Number.isInteger(value)
        ? Math.round(value * 1000) / 1000
        : value,
    2,
  ) + "\n";
}
