/**
 * Unit tests of the pure parts of `bench/compare.ts` and `bench/_netns.ts`: parsing ping, iperf3
 * and /proc output, statistics, formatting, the run order, options, the config it writes and the
 * report. No root, no namespaces.
 * @module
 */
import assert from "node:assert/strict";
import { parseConfig } from "../lib/config/parse.ts";
import { parseProcStatTicks, parseVmHwmKiB } from "./_netns.ts";
import {
  formatInterval,
  formatNumber,
  formatRatio,
  formatStats,
  median,
  medianInterval,
  stats,
} from "./compare_stats.ts";
import { parseOptions } from "./compare_options.ts";
import { parseIperf, parsePing } from "./compare_parse.ts";
import { renderMarkdown, renderSvg, renderTable } from "./compare_report.ts";
import {
  emptySample,
  runOrder,
  type Sample,
  summarize,
  type SystemId,
  SYSTEMS,
} from "./compare_samples.ts";
import { centipedeConfig } from "./compare_topology.ts";

const PING_OK = `PING 10.214.0.2 (10.214.0.2) 56(84) bytes of data.

--- 10.214.0.2 ping statistics ---
50 packets transmitted, 50 received, 0% packet loss, time 539ms
rtt min/avg/max/mdev = 0.310/0.418/0.902/0.081 ms
`;

const PING_LOST = `PING 10.214.0.2 (10.214.0.2) 56(84) bytes of data.

--- 10.214.0.2 ping statistics ---
5 packets transmitted, 0 received, 100% packet loss, time 4098ms
`;

Deno.test("parsePing: counts and average RTT", () => {
  assert.deepEqual(parsePing(PING_OK), { transmitted: 50, received: 50, avgMs: 0.418 });
});

Deno.test("parsePing: no reply means no average", () => {
  assert.deepEqual(parsePing(PING_LOST), { transmitted: 5, received: 0, avgMs: null });
});

Deno.test("parsePing: output without statistics throws", () => {
  assert.throws(() => parsePing("ping: connect: Network is unreachable\n"), /no ping statistics/);
});

const TCP_REPORT = JSON.stringify({
  start: {},
  end: {
    sum_sent: { seconds: 5.0, bytes: 700_000_000, bits_per_second: 1.12e9 },
    sum_received: { seconds: 5.0, bytes: 687_500_000, bits_per_second: 1.1e9 },
  },
});

Deno.test("parseIperf: TCP uses the receiver sum", () => {
  const r = parseIperf(TCP_REPORT, false);
  assert.equal(r.bytes, 687_500_000);
  assert.equal(r.seconds, 5);
  assert.equal(r.mbps, 1100);
  assert.equal(r.receivedPps, undefined);
});

Deno.test("parseIperf: UDP received packets per second and loss (iperf 3.12 layout)", () => {
  const report = JSON.stringify({
    end: {
      sum: { seconds: 3.0, bytes: 1e9, packets: 837_410, lost_packets: 727_347 },
      sum_sent: { seconds: 3.0, bytes: 1e9, packets: 837_410, lost_packets: 0 },
      sum_received: {
        seconds: 3.0,
        bytes: 132_075_600,
        bits_per_second: 352_201_600,
        packets: 837_410,
        lost_packets: 727_347,
      },
    },
  });
  const r = parseIperf(report, true);
  assert.equal(Math.round(r.receivedPps!), Math.round((837_410 - 727_347) / 3));
  assert.equal(Math.round(r.sentPps!), Math.round(837_410 / 3));
  assert.ok(Math.abs(r.lossPercent! - 86.857) < 0.01);
});

Deno.test("parseIperf: iperf3's error is reported", () => {
  const report = JSON.stringify({ start: {}, end: {}, error: "unable to connect to server" });
  assert.throws(() => parseIperf(report, false), /iperf3: unable to connect to server/);
  assert.throws(() => parseIperf("not json", false), /no JSON report/);
  assert.throws(() => parseIperf(JSON.stringify({ end: {} }), false), /no receiver sum/);
});

Deno.test("median, stats", () => {
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 3, 2]), 2.5);
  assert.throws(() => median([]));
  assert.deepEqual(stats([5, null, 1, NaN, 3, undefined]), { median: 3, min: 1, max: 5, n: 3 });
  assert.equal(stats([null, NaN]), null);
});

Deno.test("medianInterval: order statistics with binomial coverage", () => {
  const upTo = (n: number) => Array.from({ length: n }, (_, i) => n - i); // n, n-1, ..., 1
  const bounds = (xs: number[], level?: number) => {
    const interval = medianInterval(xs, level)!;
    return [interval.low, interval.high];
  };
  // 10 samples: the 2nd smallest to the 2nd largest, coverage 1 - 2 * 11/1024
  const ten = medianInterval(upTo(10))!;
  assert.deepEqual([ten.low, ten.high], [2, 9]);
  assert.ok(Math.abs(ten.confidence - (1 - 22 / 1024)) < 1e-12);
  // 30 samples: the 10th to the 21st (P(B <= 9) = 0.0214 for B ~ binomial(30, 1/2))
  const thirty = medianInterval(upTo(30))!;
  assert.deepEqual([thirty.low, thirty.high], [10, 21]);
  assert.ok(thirty.confidence > 0.95 && thirty.confidence < 0.96);
  // a looser level narrows it; too few samples for the level gives none
  assert.deepEqual(bounds(upTo(30), 0.8), [11, 20]);
  assert.equal(medianInterval(upTo(5)), null);
  assert.deepEqual(bounds(upTo(6)), [1, 6]);
  assert.equal(medianInterval([]), null);
  // no underflow for many samples: 2000 of them give the usual normal-approximation width
  const many = medianInterval(upTo(2000))!;
  assert.ok(many.low > 950 && many.low < 960 && many.high === 2001 - many.low, `${many.low}`);
  assert.ok(many.confidence >= 0.95 && many.confidence < 0.96);
  assert.equal(formatInterval(thirty), "10.0–21.0× (95.7 %)");
  assert.equal(formatInterval(null), "—");
});

Deno.test("formatNumber, formatStats, formatRatio", () => {
  assert.equal(formatNumber(15362.3), "15362");
  assert.equal(formatNumber(52.34), "52.3");
  assert.equal(formatNumber(3.4321), "3.43");
  assert.equal(formatNumber(0.41789), "0.418");
  assert.equal(formatNumber(-0.0123), "-0.012");
  assert.equal(formatStats({ median: 500, min: 480, max: 530, n: 3 }, 3), "500 (480–530)");
  assert.equal(formatStats({ median: 500, min: 500, max: 500, n: 1 }, 1), "500");
  assert.equal(formatStats({ median: 500, min: 480, max: 530, n: 2 }, 3), "500 (480–530) n=2");
  assert.equal(formatStats(null, 3), "—");
  const s = (m: number) => ({ median: m, min: m, max: m, n: 1 });
  assert.equal(formatRatio(s(1155), s(525)), "2.20×");
  assert.equal(formatRatio(s(40), s(2)), "20.0×");
  assert.equal(formatRatio(s(1), s(0)), "—");
  assert.equal(formatRatio(null, s(1)), "—");
});

Deno.test("runOrder alternates the direction every run", () => {
  assert.deepEqual(runOrder(["a", "b", "c"], 1), ["a", "b", "c"]);
  assert.deepEqual(runOrder(["a", "b", "c"], 2), ["c", "b", "a"]);
  assert.deepEqual(runOrder(["a", "b", "c"], 3), ["a", "b", "c"]);
});

Deno.test("parseOptions: defaults, --quick, explicit values, errors", () => {
  const d = parseOptions([]);
  assert.ok(d !== "help");
  assert.equal(d.runs, 3);
  assert.equal(d.seconds, 5);
  assert.ok(d.outDir.endsWith("/bench/results"));
  const q = parseOptions(["--quick"]);
  assert.ok(q !== "help" && q.runs === 1 && q.seconds === 3 && q.quick && q.pairedRounds === 3);
  assert.ok(d.pairedRounds === 30);
  const p = parseOptions(["--paired-rounds", "0"]);
  assert.ok(p !== "help" && p.pairedRounds === 0);
  assert.throws(() => parseOptions(["--paired-rounds", "51"]), /--paired-rounds takes/);
  const e = parseOptions(["--runs", "5", "--seconds", "2", "--out", "/tmp/x"]);
  assert.ok(e !== "help" && e.runs === 5 && e.seconds === 2 && e.outDir === "/tmp/x");
  assert.equal(parseOptions(["--help"]), "help");
  assert.throws(() => parseOptions(["--runs", "0"]), /--runs takes a whole number/);
  assert.throws(() => parseOptions(["--seconds", "2.5"]), /--seconds takes a whole number/);
  assert.throws(() => parseOptions(["extra"]), /unexpected argument/);
  assert.throws(() => parseOptions(["--bogus"]));
  assert.equal(d.systems, SYSTEMS);
  const only = parseOptions(["--systems", "centipede-2,wireguard-go"]);
  assert.ok(only !== "help");
  assert.deepEqual(only.systems.map((s) => s.id), ["wireguard-go", "centipede-2"]);
  assert.throws(() => parseOptions(["--systems", "tailscale"]), /unknown system "tailscale"/);
});

Deno.test("/proc parsers: utime+stime, also with spaces and parentheses in the name", () => {
  const stat = "4242 (deno (main) x) S 1 4242 4242 0 -1 4194560 9000 0 0 0 " +
    "1234 567 0 0 20 0 9 0 100 2000000 20000 18446744073709551615";
  assert.equal(parseProcStatTicks(stat), 1234 + 567);
  assert.throws(() => parseProcStatTicks("garbage"));
  const status = "Name:\tdeno\nVmPeak:\t 900000 kB\nVmHWM:\t   80292 kB\nVmRSS:\t   70000 kB\n";
  assert.equal(parseVmHwmKiB(status), 80292);
  assert.throws(() => parseVmHwmKiB("Name:\tx\n"));
});

const KEY_A = "D270DcbDK1ZUN1G644dI7a607/apghJXMo9+F5Da150=";
const KEY_B = "6G3IVI1Y2QymrDGOO2yp6dGSgnkRCQS8BzFhlnCgfN0=";

Deno.test("centipedeConfig: two-path client and server configs parse", () => {
  const client = centipedeConfig({
    privateKey: KEY_A,
    address: "10.214.0.1/24",
    binds: ["10.213.1.1", "10.213.2.1"],
    peerKey: KEY_B,
    endpoints: ["10.213.1.2:51820", "10.213.2.2:51820"],
    allowed: "10.214.0.2/32",
  });
  const c = parseConfig(client, "cpbench0.conf");
  assert.deepEqual(c.warnings, []);
  assert.equal(c.config.binds.length, 2);
  assert.equal(c.config.mtu, 1420);
  assert.equal(c.config.listenPort, 51820);
  assert.equal(c.config.peers[0].mode, "duplicate");
  assert.equal(c.config.peers[0].endpoints.length, 2);
  const server = centipedeConfig({
    privateKey: KEY_B,
    address: "10.214.0.2/24",
    binds: ["10.213.1.2"],
    peerKey: KEY_A,
    endpoints: [],
    allowed: "10.214.0.1/32",
  });
  const s = parseConfig(server, "cpbench0.conf");
  assert.equal(s.config.peers[0].endpoints.length, 0);
  assert.equal(s.config.binds.length, 1);
});

function sample(system: SystemId, run: number, values: Partial<Sample>): Sample {
  return { ...emptySample(system, run, 1), ...values };
}

const SAMPLES: Sample[] = [
  sample("veth", 1, { tcp1Mbps: 15000, rttRestMs: 0.03, rttLoadMs: 0.05 }),
  sample("veth", 2, { tcp1Mbps: 16000, rttRestMs: 0.05, rttLoadMs: 0.05 }),
  sample("wireguard-go", 1, {
    tcp1Mbps: 500,
    rttRestMs: 0.43,
    rttLoadMs: 3.05,
    cpuPerGbit: 2.5,
    rssKiB: [31_000, 52_224],
  }),
  sample("wireguard-go", 2, { tcp1Mbps: 600, rttRestMs: 0.45, rttLoadMs: 4.05, cpuPerGbit: 2 }),
  sample("centipede-1", 1, { tcp1Mbps: 1100, rttRestMs: 0.83, cpuPerGbit: 1.5 }),
  sample("centipede-1", 2, { error: "boom", tcp1Mbps: 1 }),
  sample("centipede-w2", 1, {
    tcp1Mbps: 800,
    hops: { outUs: 30, turnUs: 60, inUs: 25, totalUs: 115, pings: 200 },
  }),
  sample("centipede-2", 1, { tcp1Mbps: 550, rttRestMs: 0.93, otherNamespaces: ["cp12ab"] }),
];

Deno.test("summarize: medians, overhead against the same run's veth, failed samples left out", () => {
  const s = summarize(SAMPLES);
  assert.equal(s.tcp1["wireguard-go"]!.median, 550);
  assert.deepEqual(s.tcp1["centipede-1"], { median: 1100, min: 1100, max: 1100, n: 1 });
  // wireguard-go: 0.43 - 0.03 (run 1) and 0.45 - 0.05 (run 2)
  assert.ok(Math.abs(s.overheadRest["wireguard-go"]!.median - 0.4) < 1e-9);
  assert.ok(Math.abs(s.overheadLoad["wireguard-go"]!.median - 3.5) < 1e-9);
  assert.ok(Math.abs(s.overheadRest["centipede-2"]!.median - 0.9) < 1e-9);
  assert.equal(s.overheadRest.veth, null);
  assert.equal(s.cpuPerGbit.veth, null);
  assert.equal(s.rss["wireguard-go"]!.median, 51);
  assert.equal(s.udp.veth, null);
  assert.equal(s.hopTurn["centipede-w2"]!.median, 60);
  assert.equal(s.hopOut.veth, null);
});

Deno.test("renderTable and renderMarkdown: one row per metric, ratio columns, failures listed", () => {
  const table = renderTable(summarize(SAMPLES), 2);
  const lines = table.split("\n");
  assert.match(lines[0], /^\| metric \| bare veth \| wireguard-go \| centipede 1 path \|/);
  const tcp1 = lines.find((l) => l.startsWith("| TCP 1 flow"))!;
  assert.equal(
    tcp1,
    "| TCP 1 flow (Mbit/s) | 15500 (15000–16000) | 550 (500–600) | 1100 n=1 | 800 n=1 | 550 n=1 | 2.00× | 1.45× | 1.00× |",
  );
  const md = renderMarkdown(
    {
      date: "2026-01-01T00:00:00Z",
      command: "deno run -A bench/compare.ts --runs 2",
      nproc: 2,
      cpu: "Test CPU",
      kernel: "6.1",
      deno: "2.9.6",
      wireguardGo: "wireguard-go v0",
      iperf3: "iperf 3.12",
      commit: "abc",
    },
    {
      runs: 2,
      seconds: 5,
      outDir: "/tmp",
      quick: false,
      wireguardGo: "wireguard-go",
      systems: SYSTEMS,
      pairedRounds: 10,
    },
    SAMPLES,
    ["a warning"],
  );
  assert.match(md, /`deno run -A bench\/compare.ts --runs 2`/);
  assert.match(md, /- a warning/);
  assert.match(md, /- run 2, centipede-1: boom/);
  assert.match(md, /Not a quiet machine:\*\* during 1 of 8 steps/);
});

Deno.test("renderSvg: a well-formed SVG with a bar per value", () => {
  const svg = renderSvg(SAMPLES, "t <&> t");
  assert.ok(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"'));
  assert.ok(svg.trimEnd().endsWith("</svg>"));
  assert.match(svg, /t &lt;&amp;&gt; t/);
  assert.ok(!svg.includes("NaN"));
  // every open tag is closed or self-closed
  const opened = (svg.match(/<(text|svg)\b/g) ?? []).length;
  const closed = (svg.match(/<\/(text|svg)>/g) ?? []).length;
  assert.equal(opened, closed);
  // 4 throughput bars + 4 overhead bars can be drawn (the rest say n/a)
  assert.ok((svg.match(/<rect /g) ?? []).length >= 5);
});
