/**
 * One system's measurements in a built topology: pings at rest (cold, warmed up, with busy CPUs,
 * captured hop by hop), iperf3 TCP and UDP, RTT under load, CPU time and peak RSS.
 * @module
 */
import {
  cpuSeconds,
  Netns,
  peakRssKiB,
  type Proc,
  processName,
  run,
  sleep,
  which,
} from "./_netns.ts";
import { formatNumber } from "./compare_stats.ts";
import { type Hops, parseHops } from "./hops.ts";
import { type IperfResult, parseIperf, parsePing } from "./compare_parse.ts";
import { type Sample } from "./compare_samples.ts";
import { outputOf, type Topology } from "./compare_topology.ts";

function iperfArgv(target: string, seconds: number, extra: string[]): string[] {
  return [
    "iperf3",
    "-c",
    target,
    "-t",
    String(seconds),
    "-J",
    "--connect-timeout",
    "5000",
    ...extra,
  ];
}

async function iperf(
  net: Netns,
  topo: Topology,
  seconds: number,
  extra: string[],
): Promise<IperfResult> {
  const r = await net.exec(topo.client, iperfArgv(topo.target, seconds, extra), {
    timeoutMs: (seconds + 30) * 1000,
  });
  if (r.timedOut) throw new Error(`iperf3 ${extra.join(" ")} timed out`);
  return parseIperf(r.stdout || r.stderr, extra.includes("-u"));
}

export async function ping(net: Netns, topo: Topology, argv: string[], timeoutMs: number) {
  const r = await net.exec(topo.client, ["ping", "-q", ...argv, topo.target], { timeoutMs });
  return parsePing(r.stdout);
}

async function vpnCpuSeconds(vpn: readonly Proc[]): Promise<number> {
  let total = 0;
  for (const p of vpn) total += await cpuSeconds(p.pid);
  return total;
}

/** Throws when a VPN process has exited: its figures would be meaningless. */
export function checkAlive(vpn: readonly Proc[], when: string): void {
  for (const p of vpn) {
    if (p.exited) {
      throw new Error(`${p.name} (pid ${p.pid}) exited ${when}; output:\n${outputOf(p)}`);
    }
  }
}

/** The ping at rest: 200 at 100 Hz (2 s), each waiting up to 1 s, all within 10 s. */
const REST_PING = ["-c", "200", "-i", "0.01", "-W", "1", "-w", "10"];
/**
 * The warm-up: 5000 pings, each sent when the last reply is in (about 1 s), all within 15 s.
 * A VPN runs for hours; a JIT-compiled one reaches its optimized code only after a few thousand
 * packets, and the figures at rest are meant for the tunnel as it runs, not as it starts.
 */
export const WARM_UP_PING = ["-f", "-c", "5000", "-W", "1", "-w", "15"];

/**
 * The ping at rest again while one `nice -n 19` busy loop per CPU keeps every CPU out of idle
 * (they yield to any other task). On a VM whose idle CPUs halt, waking from a halt and running on
 * cold caches is a large part of a tunnel's RTT at rest; this shows the RTT without that part.
 */
async function pingWithBusyCpus(net: Netns, topo: Topology): Promise<number | null> {
  const spinners = Array.from(
    { length: navigator.hardwareConcurrency },
    (_, cpu) =>
      net.spawn(topo.client, `busy-cpu${cpu}`, [
        ...["taskset", "-c", String(cpu), "nice", "-n", "19", "timeout", "60"],
        ...["sh", "-c", "while :; do :; done"],
      ]),
  );
  try {
    await sleep(500);
    return (await ping(net, topo, REST_PING, 20_000)).avgMs;
  } finally {
    await Promise.all(spinners.map((p) => p.stop()));
  }
}

/**
 * A second ping at rest (200 at 100 Hz) under `tcpdump -i any` in the client namespace, cut into
 * hops (hops.ts). Null, with a note, when tcpdump is missing or the capture shows no full ping.
 */
async function captureHops(net: Netns, topo: Topology, notes: string[]): Promise<Hops | null> {
  if (which("tcpdump") === null) {
    notes.push("tcpdump missing: no hop figures");
    return null;
  }
  const file = `${await net.tempDir()}/hops.pcap`;
  const capture = net.spawn(topo.client, "tcpdump", [
    "tcpdump",
    ...["-i", "any", "-nn", "-U", "-Z", "root", "-w", file, "icmp or udp"],
  ]);
  await capture.waitForLine(/listening on/, 10_000, "stderr");
  await ping(net, topo, REST_PING, 20_000);
  await sleep(200);
  await capture.stop();
  const text = await run(["tcpdump", "-nn", "-tt", "-r", file], { timeoutMs: 30_000 });
  const hops = parseHops(text.stdout);
  if (hops === null) notes.push("the capture showed no complete ping: no hop figures");
  return hops;
}

/** The single-flow TCP test with ping alongside and the VPN's CPU time around it. */
async function tcpUnderLoad(net: Netns, topo: Topology, seconds: number, sample: Sample) {
  const cpuBefore = await vpnCpuSeconds(topo.vpn);
  const interval = 0.05;
  const count = Math.max(5, Math.floor((seconds - 1.5) / interval));
  const loaded = sleep(500).then(() =>
    ping(
      net,
      topo,
      ["-i", String(interval), "-c", String(count), "-W", "2", "-w", String(seconds)],
      (seconds + 10) * 1000,
    )
  );
  const [tcp, pingLoad] = await Promise.all([iperf(net, topo, seconds, []), loaded]);
  checkAlive(topo.vpn, "during the single-flow TCP test");
  const cpuAfter = await vpnCpuSeconds(topo.vpn);
  sample.tcp1Mbps = tcp.mbps;
  sample.tcp1Gigabits = tcp.bytes * 8 / 1e9;
  sample.rttLoadMs = pingLoad.avgMs;
  sample.rttLoadLossPercent = 100 * (1 - pingLoad.received / Math.max(1, pingLoad.transmitted));
  if (topo.vpn.length > 0) {
    sample.cpuSeconds = cpuAfter - cpuBefore;
    sample.cpuPerGbit = sample.tcp1Gigabits > 0 ? sample.cpuSeconds / sample.tcp1Gigabits : null;
  }
}

/** Runs every test against a built topology and fills `sample`. */
export async function measure(net: Netns, topo: Topology, seconds: number, sample: Sample) {
  for (const p of topo.vpn) sample.notes.push(`VPN process: ${await processName(p.pid) ?? "gone"}`);
  const server = net.spawn(topo.server, "iperf3-server", ["iperf3", "-s", "--forceflush"]);
  await server.waitForLine(/Server listening/, 10_000, "stdout");
  sample.rttColdMs = (await ping(net, topo, REST_PING, 20_000)).avgMs;
  sample.rttFloodMs = (await ping(net, topo, WARM_UP_PING, 25_000)).avgMs;
  await sleep(300);
  sample.rttRestMs = (await ping(net, topo, REST_PING, 20_000)).avgMs;
  sample.rttBusyMs = await pingWithBusyCpus(net, topo);
  if (topo.vpn.length > 0) sample.hops = await captureHops(net, topo, sample.notes);
  await tcpUnderLoad(net, topo, seconds, sample);
  await sleep(300);
  sample.tcp4Mbps = (await iperf(net, topo, seconds, ["-P", "4"])).mbps;
  await sleep(300);
  const udp = await iperf(net, topo, seconds, ["-u", "-l", "1200", "-b", "0"]);
  sample.udpPps = udp.receivedPps ?? null;
  sample.udpSentPps = udp.sentPps ?? null;
  sample.udpLossPercent = udp.lossPercent ?? null;
  checkAlive(topo.vpn, "during the tests");
  for (const p of topo.vpn) sample.rssKiB.push(await peakRssKiB(p.pid));
}

export function describe(s: Sample): string {
  const f = (x: number | null, unit: string) => (x === null ? "n/a" : `${formatNumber(x)}${unit}`);
  return [
    `tcp1 ${f(s.tcp1Mbps, " Mbit/s")}`,
    `tcp4 ${f(s.tcp4Mbps, " Mbit/s")}`,
    `udp ${f(s.udpPps, " pps")}`,
    `rtt ${f(s.rttRestMs, " ms")} / loaded ${f(s.rttLoadMs, " ms")}`,
    `cpu ${f(s.cpuPerGbit, " s/Gbit")}`,
    `rss ${s.rssKiB.length ? f(Math.max(...s.rssKiB) / 1024, " MiB") : "n/a"}`,
  ].join(", ");
}
