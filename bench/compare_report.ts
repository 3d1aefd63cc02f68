/**
 * The report of `bench/compare.ts`: the Markdown table (medians, min-max, ratios to wireguard-go)
 * and the SVG bar chart of throughput and RTT overhead.
 * @module
 */
import { type MachineInfo } from "./compare_tools.ts";
import { formatNumber, formatRatio, formatStats, type Stats } from "./compare_stats.ts";
import { type Options } from "./compare_options.ts";
import {
  METRICS,
  type Sample,
  summarize,
  type Summary,
  type SystemId,
  SYSTEMS,
} from "./compare_samples.ts";

/** The systems with a ratio column against wireguard-go, and the column's name. */
const RATIOS: readonly [SystemId, string][] = [
  ["centipede-1", "centipede 1 path"],
  ["centipede-w2", "centipede 2 workers"],
  ["centipede-2", "centipede 2 paths"],
];

/** The results table: one row per metric, one column per system, then the ratios. */
export function renderTable(summary: Summary, runs: number): string {
  const header = [
    "metric",
    ...SYSTEMS.map((s) => s.label),
    ...RATIOS.map(([, label]) => `${label} / wireguard-go`),
  ];
  const rows = METRICS.map((m) => {
    const cells = SYSTEMS.map((s) => formatStats(summary[m.key][s.id], runs));
    const wg = summary[m.key]["wireguard-go"];
    return [
      m.label,
      ...cells,
      ...RATIOS.map(([id]) => formatRatio(summary[m.key][id], wg)),
    ];
  });
  const line = (cells: string[]) => `| ${cells.join(" | ")} |`;
  return [line(header), line(header.map(() => "---")), ...rows.map(line)].join("\n");
}

/** The whole Markdown report: machine facts, the table, notes and failures. */
export function renderMarkdown(
  info: MachineInfo,
  options: Options,
  samples: readonly Sample[],
  warnings: readonly string[],
): string {
  const summary = summarize(samples);
  const notes = [...new Set(samples.flatMap((s) => s.notes.map((n) => `${s.system}: ${n}`)))];
  const failures = samples.filter((s) => s.error !== null);
  const out = [
    `### centipede vs wireguard-go, ${info.date}`,
    "",
    `- command: \`${info.command}\``,
    `- machine: ${info.nproc} CPUs (${info.cpu}), Linux ${info.kernel}; Deno ${info.deno}; ` +
    `${info.wireguardGo}; ${info.iperf3}; centipede at ${info.commit}`,
    `- ${options.runs} run(s) per system, order reversed every other run; ${options.seconds} s ` +
    "per iperf3 test; cells are median (min–max) over runs; ratios are of medians",
    "",
    renderTable(summary, options.runs),
    "",
  ];
  if (notes.length > 0) out.push(...notes.map((n) => `- ${n}`), "");
  const busy = samples.filter((s) => s.otherNamespaces.length > 0);
  if (busy.length > 0) {
    out.push(
      `- **Not a quiet machine:** during ${busy.length} of ${samples.length} steps, network ` +
        "namespaces this script did not make existed (other tests were running), so those " +
        "figures share the CPUs with them; `otherNamespaces` in the JSON lists them per step.",
      "",
    );
  }
  if (failures.length > 0 || warnings.length > 0) {
    out.push("**Failures and warnings:**", "");
    for (const w of warnings) out.push(`- ${w}`);
    for (const f of failures) out.push(`- run ${f.run}, ${f.system}: ${oneLine(f.error ?? "")}`);
    out.push("");
  }
  return out.join("\n");
}

function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, " / ").slice(0, 400);
}

function escapeXml(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

interface Bar {
  readonly stats: Stats | null;
  readonly color: string;
}

interface Group {
  readonly label: string;
  readonly bars: readonly Bar[];
}

interface Panel {
  readonly title: string;
  readonly x: number;
  readonly width: number;
  readonly log: boolean;
  readonly groups: readonly Group[];
}

const CHART_TOP = 70;
const CHART_HEIGHT = 260;

/** Maps a value to a y pixel within a panel's plot area. */
function scaleFor(panel: Panel): { y: (v: number) => number; ticks: number[] } {
  const values = panel.groups.flatMap((g) =>
    g.bars.flatMap((b) => (b.stats ? [b.stats.min, b.stats.max, b.stats.median] : []))
  );
  const bottom = CHART_TOP + CHART_HEIGHT;
  if (panel.log) {
    const pos = values.filter((v) => v > 0);
    const lo = Math.floor(Math.log10(Math.min(...pos, 10)));
    const hi = Math.max(lo + 1, Math.ceil(Math.log10(Math.max(...pos, 10))));
    const y = (v: number) =>
      bottom - (Math.log10(Math.max(v, 10 ** lo)) - lo) / (hi - lo) * CHART_HEIGHT;
    return { y, ticks: Array.from({ length: hi - lo + 1 }, (_, i) => 10 ** (lo + i)) };
  }
  const lo = Math.min(0, ...values);
  const hi = Math.max(lo + 1e-3, ...values) * 1.1;
  const step = niceStep((hi - lo) / 5);
  const ticks: number[] = [];
  for (let t = Math.ceil(lo / step) * step; t <= hi; t += step) {
    ticks.push(Number(t.toPrecision(6)));
  }
  return { y: (v: number) => bottom - (v - lo) / (hi - lo) * CHART_HEIGHT, ticks };
}

function formatTick(t: number): string {
  return Number.isInteger(t) ? String(t) : String(Number(t.toPrecision(3)));
}

function niceStep(raw: number): number {
  const p = 10 ** Math.floor(Math.log10(raw));
  const f = raw / p;
  return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * p;
}

function renderPanel(panel: Panel): string {
  const { y, ticks } = scaleFor(panel);
  const left = panel.x + 50;
  const plotWidth = panel.width - 60;
  const parts = [
    `<text x="${panel.x + panel.width / 2}" y="40" text-anchor="middle" font-weight="bold">` +
    `${escapeXml(panel.title)}</text>`,
  ];
  for (const t of ticks) {
    const ty = y(t).toFixed(1);
    parts.push(
      `<line x1="${left}" y1="${ty}" x2="${left + plotWidth}" y2="${ty}" stroke="#ddd"/>`,
      `<text x="${left - 6}" y="${ty}" text-anchor="end" dominant-baseline="middle" ` +
        `font-size="11">${escapeXml(formatTick(t))}</text>`,
    );
  }
  const groupWidth = plotWidth / panel.groups.length;
  panel.groups.forEach((g, gi) => {
    const barWidth = Math.min(36, (groupWidth - 20) / g.bars.length);
    const start = left + gi * groupWidth + (groupWidth - barWidth * g.bars.length) / 2;
    g.bars.forEach((b, bi) => parts.push(renderBar(b, start + bi * barWidth, barWidth, y)));
    parts.push(
      `<text x="${(left + (gi + 0.5) * groupWidth).toFixed(1)}" y="${
        CHART_TOP + CHART_HEIGHT + 18
      }" ` +
        `text-anchor="middle" font-size="11">${escapeXml(g.label)}</text>`,
    );
  });
  const zero = y(panel.log ? ticks[0] : 0).toFixed(1);
  parts.push(
    `<line x1="${left}" y1="${zero}" x2="${left + plotWidth}" y2="${zero}" stroke="#333"/>`,
  );
  return parts.join("\n");
}

function renderBar(b: Bar, x: number, w: number, y: (v: number) => number): string {
  const cx = (x + w / 2).toFixed(1);
  if (b.stats === null) {
    return `<text x="${cx}" y="${y(0) - 4}" text-anchor="middle" font-size="10">n/a</text>`;
  }
  const base = y(0) > CHART_TOP + CHART_HEIGHT ? CHART_TOP + CHART_HEIGHT : y(0);
  const top = y(b.stats.median);
  const [y0, y1] = top < base ? [top, base] : [base, top];
  return [
    `<rect x="${(x + 1).toFixed(1)}" y="${y0.toFixed(1)}" width="${(w - 2).toFixed(1)}" ` +
    `height="${Math.max(0.5, y1 - y0).toFixed(1)}" fill="${b.color}"/>`,
    `<line x1="${cx}" y1="${y(b.stats.min).toFixed(1)}" x2="${cx}" y2="${
      y(b.stats.max).toFixed(1)
    }" stroke="#000"/>`,
    `<text x="${cx}" y="${(Math.min(y0, y(b.stats.max)) - 4).toFixed(1)}" text-anchor="middle" ` +
    `font-size="10">${escapeXml(formatNumber(b.stats.median))}</text>`,
  ].join("\n");
}

function legend(items: readonly [string, string][], x: number, y: number): string {
  return items.map(([label, color], i) => {
    const lx = x + i * 150;
    return `<rect x="${lx}" y="${y - 9}" width="12" height="12" fill="${color}"/>` +
      `<text x="${lx + 16}" y="${y + 1}" font-size="11">${escapeXml(label)}</text>`;
  }).join("\n");
}

const COLORS = ["#4e79a7", "#f28e2b"];

/** The bar chart: throughput (log scale) and RTT overhead per system, with min–max whiskers. */
export function renderSvg(samples: readonly Sample[], title: string): string {
  const summary = summarize(samples);
  const short: Record<SystemId, string> = {
    "veth": "bare veth",
    "wireguard-go": "wireguard-go",
    "centipede-1": "centipede 1p",
    "centipede-w2": "centipede 2w",
    "centipede-2": "centipede 2p dup",
  };
  const throughput: Panel = {
    title: "Throughput, Mbit/s (log scale)",
    x: 0,
    width: 480,
    log: true,
    groups: SYSTEMS.map((s) => ({
      label: short[s.id],
      bars: [
        { stats: summary.tcp1[s.id], color: COLORS[0] },
        { stats: summary.tcp4[s.id], color: COLORS[1] },
      ],
    })),
  };
  const rtt: Panel = {
    title: "RTT overhead over bare veth, ms",
    x: 500,
    width: 400,
    log: false,
    groups: SYSTEMS.filter((s) => s.tunnel).map((s) => ({
      label: short[s.id],
      bars: [
        { stats: summary.overheadRest[s.id], color: COLORS[0] },
        { stats: summary.overheadLoad[s.id], color: COLORS[1] },
      ],
    })),
  };
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="920" height="392" viewBox="0 0 920 392" ` +
    `font-family="sans-serif" font-size="12">`,
    `<rect width="920" height="392" fill="#fff"/>`,
    `<text x="460" y="18" text-anchor="middle" font-size="13">${escapeXml(title)}</text>`,
    `<text x="910" y="386" text-anchor="end" font-size="10" fill="#555">` +
    "bars: median; lines: min–max over runs</text>",
    renderPanel(throughput),
    renderPanel(rtt),
    legend([["TCP 1 flow", COLORS[0]], ["TCP 4 flows", COLORS[1]]], 60, 365),
    legend([["at rest", COLORS[0]], ["under load (1 TCP flow)", COLORS[1]]], 560, 365),
    `</svg>`,
    "",
  ].join("\n");
}
