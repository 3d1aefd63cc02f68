/**
 * A hand-written SVG line chart of a lab run: stacked panels sharing the time axis (throughput,
 * RTT, ping loss), one polyline per series (a path or a metric), and the timeline's events as
 * dashed vertical lines with their labels. {@link renderChart} draws any {@link ChartSpec};
 * {@link resultChart} makes the spec of a {@link LabResult}. Pure; no dependencies.
 * @module
 */
import type { LabResult } from "./runner.ts";

/** One line: `[t, value]` points, value null for "no data" (the line is broken there). */
export interface Series {
  readonly name: string;
  readonly points: readonly (readonly [number, number | null])[];
  /** Dashed stroke (e.g. for a total next to per-path lines). */
  readonly dashed?: boolean;
  /** A CSS color; default: from the palette, by position. */
  readonly color?: string;
}

/** One panel: a y axis and its series. */
export interface Panel {
  readonly title: string;
  readonly unit: string;
  readonly series: readonly Series[];
}

/** A vertical marker across all panels. */
export interface Marker {
  readonly t: number;
  readonly label: string;
}

/** Everything a chart shows. */
export interface ChartSpec {
  readonly title: string;
  readonly subtitle?: string;
  /** The time axis runs from 0 to this many seconds. */
  readonly duration: number;
  readonly panels: readonly Panel[];
  readonly markers: readonly Marker[];
}

const PALETTE = [
  "#1f77b4",
  "#d62728",
  "#2ca02c",
  "#ff7f0e",
  "#9467bd",
  "#8c564b",
  "#e377c2",
  "#17becf",
];
const WIDTH = 960;
const LEFT = 64;
const RIGHT = 170;
const TOP = 92;
const PANEL_HEIGHT = 170;
const PANEL_GAP = 46;
const BOTTOM = 40;

/** Escapes text for XML content and attribute values. */
export function escapeXml(text: string): string {
  return text.replace(
    /[<>&"']/g,
    (c) => `&${{ "<": "lt", ">": "gt", "&": "amp", '"': "quot", "'": "apos" }[c]};`,
  );
}

/**
 * A "nice" y axis for values up to `max`: a maximum of 1, 2, 2.5 or 5 times a power of ten at
 * or above it, and a tick step that divides it into 4 or 5 round parts.
 */
export function niceScale(max: number): { max: number; step: number } {
  if (!(max > 0) || !Number.isFinite(max)) return { max: 1, step: 0.2 };
  const power = 10 ** Math.floor(Math.log10(max));
  for (const [m, parts] of [[1, 5], [2, 4], [2.5, 5], [5, 5]]) {
    if (m * power >= max * (1 - 1e-9)) return { max: m * power, step: (m * power) / parts };
  }
  return { max: 10 * power, step: 2 * power };
}

/** Tick spacing of the time axis: about ten ticks. */
export function timeStep(duration: number): number {
  for (const step of [1, 2, 5, 10, 15, 30, 60, 120]) if (duration / step <= 12) return step;
  return 300;
}

function num(n: number): string {
  return String(Math.round(n * 100) / 100);
}

/** Markers less than 0.5 s apart share one line, their labels joined. */
export function groupMarkers(markers: readonly Marker[]): Marker[] {
  const out: Marker[] = [];
  for (const m of [...markers].sort((a, b) => a.t - b.t)) {
    const last = out[out.length - 1];
    if (last !== undefined && m.t - last.t < 0.5) {
      out[out.length - 1] = { t: last.t, label: `${last.label} + ${m.label}` };
    } else out.push(m);
  }
  return out;
}

/** Splits a series into runs of consecutive non-null points. */
function runs(points: Series["points"]): [number, number][][] {
  const out: [number, number][][] = [];
  let cur: [number, number][] = [];
  for (const [t, v] of points) {
    if (v === null || !Number.isFinite(v)) {
      if (cur.length > 0) out.push(cur);
      cur = [];
    } else cur.push([t, v]);
  }
  if (cur.length > 0) out.push(cur);
  return out;
}

/** The SVG text of a chart. */
export function renderChart(spec: ChartSpec): string {
  const plotWidth = WIDTH - LEFT - RIGHT;
  const height = TOP + spec.panels.length * (PANEL_HEIGHT + PANEL_GAP) - PANEL_GAP + BOTTOM;
  const duration = Math.max(1, spec.duration);
  const x = (t: number) => LEFT + (Math.max(0, Math.min(duration, t)) / duration) * plotWidth;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" ` +
    `viewBox="0 0 ${WIDTH} ${height}" font-family="sans-serif" font-size="11">`,
    `<rect width="${WIDTH}" height="${height}" fill="white"/>`,
    `<text x="${LEFT}" y="20" font-size="15" font-weight="bold">${escapeXml(spec.title)}</text>`,
  ];
  if (spec.subtitle) {
    out.push(`<text x="${LEFT}" y="36" fill="#555">${escapeXml(spec.subtitle)}</text>`);
  }
  spec.panels.forEach((panel, i) => {
    out.push(...renderPanel(panel, TOP + i * (PANEL_HEIGHT + PANEL_GAP), x, duration));
  });
  const bottom = TOP + spec.panels.length * (PANEL_HEIGHT + PANEL_GAP) - PANEL_GAP;
  out.push(
    `<text x="${LEFT + plotWidth / 2}" y="${bottom + 32}" text-anchor="middle">time (s)</text>`,
  );
  groupMarkers(spec.markers).forEach((m, i) => {
    const mx = num(x(m.t));
    const ly = 52 + (i % 3) * 11;
    out.push(
      `<g class="event" data-t="${num(m.t)}">`,
      `<line x1="${mx}" y1="${
        ly + 3
      }" x2="${mx}" y2="${bottom}" stroke="#666" stroke-dasharray="4 3"/>`,
      `<text x="${mx}" y="${ly}" text-anchor="middle" fill="#333">${escapeXml(m.label)}</text>`,
      `</g>`,
    );
  });
  out.push("</svg>");
  return out.join("\n") + "\n";
}

function renderPanel(
  panel: Panel,
  top: number,
  x: (t: number) => number,
  duration: number,
): string[] {
  const plotWidth = WIDTH - LEFT - RIGHT;
  const values = panel.series.flatMap((s) => s.points.map((p) => p[1])).filter((v): v is number =>
    v !== null && Number.isFinite(v)
  );
  const { max: yMax, step: yStep } = niceScale(Math.max(0, ...values));
  const y = (v: number) =>
    top + PANEL_HEIGHT - (Math.max(0, Math.min(yMax, v)) / yMax) * PANEL_HEIGHT;
  const out = [
    `<g class="panel">`,
    `<text x="${LEFT}" y="${top - 8}" font-weight="bold">${escapeXml(panel.title)} (${
      escapeXml(panel.unit)
    })</text>`,
  ];
  for (let k = 0; k * yStep <= yMax * (1 + 1e-9); k++) {
    const v = k * yStep;
    const yy = num(y(v));
    out.push(
      `<line x1="${LEFT}" y1="${yy}" x2="${LEFT + plotWidth}" y2="${yy}" stroke="#e5e5e5"/>`,
      `<text x="${LEFT - 6}" y="${yy}" dy="4" text-anchor="end" fill="#555">${num(v)}</text>`,
    );
  }
  const step = timeStep(duration);
  for (let t = 0; t <= duration + 1e-9; t += step) {
    const xx = num(x(t));
    out.push(
      `<line x1="${xx}" y1="${top + PANEL_HEIGHT}" x2="${xx}" y2="${
        top + PANEL_HEIGHT + 4
      }" stroke="#888"/>`,
      `<text x="${xx}" y="${top + PANEL_HEIGHT + 16}" text-anchor="middle" fill="#555">${
        num(t)
      }</text>`,
    );
  }
  out.push(
    `<rect x="${LEFT}" y="${top}" width="${plotWidth}" height="${PANEL_HEIGHT}" fill="none" stroke="#888"/>`,
  );
  panel.series.forEach((s, i) => {
    const color = s.color ?? PALETTE[i % PALETTE.length];
    const dash = s.dashed ? ` stroke-dasharray="6 3"` : "";
    for (const r of runs(s.points)) {
      const pts = r.map(([t, v]) => `${num(x(t))},${num(y(v))}`).join(" ");
      out.push(
        `<polyline class="series" data-series="${escapeXml(s.name)}" points="${pts}" fill="none" ` +
          `stroke="${color}" stroke-width="1.6"${dash}/>`,
      );
    }
    const ly = top + 10 + i * 15;
    const lx = LEFT + plotWidth + 12;
    out.push(
      `<line x1="${lx}" y1="${ly}" x2="${
        lx + 18
      }" y2="${ly}" stroke="${color}" stroke-width="2"${dash}/>`,
      `<text x="${lx + 24}" y="${ly}" dy="4">${escapeXml(s.name)}</text>`,
    );
  });
  out.push("</g>");
  return out;
}

/**
 * The chart of a lab run: throughput (each path's send rate, and the TCP rate), RTT (the ping's
 * and centipede's estimate per path) and ping loss per second; the events as markers. Each
 * second's figures are drawn at its middle.
 */
export function resultChart(r: LabResult): ChartSpec {
  const s = r.scenario;
  const at = (t: number) => t - 0.5;
  const paths = s.paths.map((p) => p.name);
  const throughput: Series[] = paths.map((name) => ({
    name: `${name} sent`,
    points: r.samples.map((x) => [at(x.t), x.paths[name]?.sent_mbps ?? null] as const),
  }));
  if (s.traffic.tcp !== null) {
    throughput.push({
      name: "TCP received",
      color: "#000",
      dashed: true,
      points: r.samples.map((x) => [at(x.t), x.tcp_mbps] as const),
    });
  }
  const rtt: Series[] = paths.map((name) => ({
    name: `${name} rtt`,
    points: r.samples.map((x) => [at(x.t), x.paths[name]?.rtt_ms ?? null] as const),
  }));
  const panels: Panel[] = [{ title: "Throughput", unit: "Mbit/s", series: throughput }];
  if (s.traffic.ping !== null) {
    rtt.push({
      name: "ping rtt",
      color: "#000",
      dashed: true,
      points: r.samples.map((x) => [at(x.t), x.ping?.rtt_avg_ms ?? null] as const),
    });
  }
  panels.push({ title: "Round-trip time", unit: "ms", series: rtt });
  if (s.traffic.ping !== null) {
    panels.push({
      title: "Ping",
      unit: "lost per second",
      series: [{
        name: "ping lost",
        color: "#d62728",
        points: r.samples.map((x) => [at(x.t), x.ping?.lost ?? null] as const),
      }],
    });
  }
  const modes = s.client.mode === s.server.mode
    ? `mode ${s.client.mode}`
    : `client ${s.client.mode}, server ${s.server.mode}`;
  return {
    title: `centipede lab: ${s.name}`,
    subtitle:
      `${modes}; ${r.seconds} s; ${s.paths.length} path(s)${r.interrupted ? "; interrupted" : ""}` +
      (s.description ? ` | ${s.description.split("\n")[0].slice(0, 100)}` : ""),
    duration: Math.max(1, r.seconds),
    panels,
    markers: r.events.map((e) => ({ t: e.t, label: e.label })),
  };
}
