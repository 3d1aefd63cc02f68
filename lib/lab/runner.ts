/**
 * Runs a scenario in a {@link Lab}: builds the network, writes both configs, starts both peers,
 * waits for the tunnel, starts the traffic, carries out the timeline while sampling the client's
 * (and server's) status every second, and returns everything it observed as a {@link LabResult}.
 * The caller owns the lab and its cleanup.
 *
 * Timing: the traffic starts at t = 0; each second k the status is read at t = k and the row for
 * second k is printed 0.3 s later, so that pings sent at the end of the second have had time to
 * be answered (a later answer is counted in the final figures, not in the row). Times are
 * wall-clock (Unix ms), the clock `ping -D` and the TCP sink print.
 * @module
 */
import type { PeerStatus } from "../control/status.ts";
import { request } from "../control/client.ts";
import {
  firstReplies,
  meanTcp,
  OUTAGE_WINDOW_MS,
  outageAfter,
  pingWindow,
  tcpMbps,
} from "./analysis.ts";
import {
  buildNetwork,
  type Network,
  rebind,
  setPathLink,
  setPathLoss,
  setPathRate,
} from "./build.ts";
import { rateBits } from "./impair.ts";
import type { Lab } from "./lab.ts";
import { estimateSendTimes, estimateSentCount, parsePing } from "./ping.ts";
import { type Proc, sleep } from "./process.ts";
import type { HostSpec, Scenario, ScenarioEvent } from "./scenario.ts";
import {
  clientPathSamples,
  type EventRecord,
  type PathSample,
  type Sample,
  serverPathSamples,
} from "./samples.ts";
import { ensureCommand } from "./tools.ts";
import { hostConfig, type HostKeys, planTopology, type TopologyPlan } from "./topology.ts";
import {
  calibratePingInterval,
  finishTcp,
  type PingFlow,
  startPing,
  startTcp,
  stopPing,
  type TcpFlow,
  type TcpOutcome,
} from "./traffic.ts";
import {
  centipede,
  CONTROL_DIR_ENV,
  controlDirFor,
  genKeyPair,
  startPeer,
  writeConfig,
} from "./vpn.ts";

/** Version of the result JSON. */
export const RESULT_SCHEMA = 1;

/** How long after the end of a second its row is printed, ms. */
export const ROW_DELAY_MS = 300;

/** Totals of the ping over the run. */
export interface PingTotals {
  sent: number;
  received: number;
  lost: number;
  duplicates: number;
  "rtt_avg_ms": number | null;
  "rtt_max_ms": number | null;
}

/** Totals of the TCP flow. */
export interface TcpTotals {
  /** Bytes the sink received, and its mean rate over the time it received. */
  bytes: number;
  mbps: number;
  /** True when the sink received exactly what the source sent (sha256). */
  intact: boolean;
  error: string | null;
}

/** Everything a run observed: what `--json` writes. */
export interface LabResult {
  schema: number;
  scenario: Scenario;
  /** ISO time of t = 0. */
  "started_at": string;
  /** Seconds of traffic recorded (the scenario's duration unless interrupted). */
  seconds: number;
  interrupted: boolean;
  namespaces: { client: string; server: string; router: string | null };
  /** Lab path name → the client's local address and the far end's address. */
  paths: Record<string, { "client_ip": string; "far_ip": string }>;
  samples: Sample[];
  events: EventRecord[];
  ping: PingTotals | null;
  tcp: TcpTotals | null;
  /** Problems that did not stop the run (a failed event, a status that could not be read). */
  warnings: string[];
}

/** What the live output of a run says, as it happens. */
export interface RunReporter {
  /** Progress before the traffic starts (building, peers up, ...). */
  note(text: string): void;
  /** The traffic starts: print the table header. */
  start(scenario: Scenario): void;
  row(sample: Sample): void;
  event(record: EventRecord): void;
  warning(text: string): void;
}

/** Options of {@link runScenario}. */
export interface RunOptions {
  readonly reporter: RunReporter;
  /** Aborting ends the run early (the result has what was recorded so far). */
  readonly signal?: AbortSignal;
  /** Echo the peers' log lines. */
  readonly echo?: boolean;
}

/** A host's running peer and its config file. */
interface PeerHandle {
  readonly proc: Proc;
  readonly conf: string;
  readonly keys: HostKeys;
  spec: HostSpec;
}

/** State shared by the parts of a run. */
interface Run {
  readonly lab: Lab;
  readonly s: Scenario;
  readonly plan: TopologyPlan;
  readonly net: Network;
  readonly client: PeerHandle;
  readonly server: PeerHandle;
  readonly conditions: Map<string, { up: boolean; rate: string | null; loss: number }>;
  readonly warnings: string[];
  readonly reporter: RunReporter;
  /** Aborted when the caller aborts, or when the run fails (ending the timeline). */
  readonly signal: AbortSignal;
  readonly stop: () => void;
  /** True when the caller aborted the run. */
  readonly interrupted: () => boolean;
  natGeneration: number;
}

/** Runs `s` in `lab` (which the caller cleans up) and returns what it observed. */
export async function runScenario(lab: Lab, s: Scenario, options: RunOptions): Promise<LabResult> {
  const inner = new AbortController();
  const outer = options.signal;
  if (outer?.aborted) inner.abort();
  outer?.addEventListener("abort", () => inner.abort(), { once: true });
  const signal = inner.signal;
  const { reporter } = options;
  const plan = planTopology(s);
  reporter.note(
    `building namespaces ${lab.id}c and ${lab.id}s${
      s.router ? ` (router ${lab.id}r)` : ""
    }, ${s.paths.length} path(s) ...`,
  );
  const net = await buildNetwork(lab, s, plan);
  const [client, server] = await startPeers(lab, s, plan, net, options.echo === true);
  reporter.note(`both peers up (client mode ${s.client.mode}, server mode ${s.server.mode})`);
  const run: Run = {
    lab,
    s,
    plan,
    net,
    client,
    server,
    conditions: new Map(s.paths.map((p) => [p.name, { up: true, rate: p.rate, loss: p.loss }])),
    warnings: [],
    reporter,
    signal,
    stop: () => inner.abort(),
    interrupted: () => outer?.aborted === true,
    natGeneration: 0,
  };
  await warmUp(run);
  await prepareEvents(run);
  return await measure(run);
}

/**
 * Does ahead of the timeline what would otherwise delay an event: the first `iptables` call in a
 * namespace (it took over 3 s once on a freshly booted machine, and the loss event at 7 s of a
 * test scenario came at 10 s), and installing `conntrack` for a NAT rebind.
 */
async function prepareEvents(run: Run): Promise<void> {
  const kinds = new Set(run.s.timeline.map((e) => e.kind));
  if (kinds.has("loss")) {
    await ensureCommand("iptables", "iptables");
    for (const ns of [run.net.client, run.net.far]) {
      await run.lab.exec(ns, ["iptables", "-w", "10", "-t", "filter", "-L", "-n"]);
    }
  }
  if (kinds.has("rebind")) await ensureCommand("conntrack", "conntrack");
}

async function startPeers(
  lab: Lab,
  s: Scenario,
  plan: TopologyPlan,
  net: Network,
  echo: boolean,
): Promise<[PeerHandle, PeerHandle]> {
  // genkey runs on the host first, which also fills Deno's module cache: inside the
  // namespaces there is no route to any registry.
  const clientKeys = await genKeyPair();
  const serverKeys = await genKeyPair();
  const dir = await lab.tempDir();
  const confs: string[] = [];
  for (const role of ["client", "server"] as const) {
    const spec = role === "client" ? s.client : s.server;
    const [own, peer] = role === "client" ? [clientKeys, serverKeys] : [serverKeys, clientKeys];
    // Both files are named after the interface: a directory each.
    await Deno.mkdir(`${dir}/${role}`, { mode: 0o700 });
    const text = hostConfig(s, plan, role, spec, own, peer);
    confs.push(await writeConfig(`${dir}/${role}`, plan.iface, text));
  }
  const [clientProc, serverProc] = await Promise.all([
    startPeer(lab, net.client, confs[0], { echo }),
    startPeer(lab, net.server, confs[1], { echo }),
  ]);
  return [
    { proc: clientProc, conf: confs[0], keys: clientKeys, spec: s.client },
    { proc: serverProc, conf: confs[1], keys: serverKeys, spec: s.server },
  ];
}

function warn(run: Run, text: string): void {
  run.warnings.push(text);
  run.reporter.warning(text);
}

/** The status of a host's interface, or null (with a warning) when it cannot be read. */
async function peerStatus(run: Run, peer: PeerHandle, quiet = false): Promise<PeerStatus | null> {
  try {
    const r = await request(run.plan.iface, "GET", "/status", controlDirFor(peer.conf), 2_000);
    if (r.status !== 200) throw new Error(`status ${r.status}: ${r.body.trim()}`);
    return JSON.parse(r.body).peers?.[0] ?? null;
  } catch (e) {
    if (!run.signal.aborted && !quiet) {
      warn(run, `could not read a status: ${(e as Error).message}`);
    }
    return null;
  }
}

/** Waits until a ping crosses the tunnel and every client path is active (10 s at most each). */
async function warmUp(run: Run): Promise<void> {
  await ensureCommand("ping", "iputils-ping");
  const t0 = performance.now();
  let answered = false;
  for (let i = 0; i < 10 && !answered && !run.signal.aborted; i++) {
    const r = await run.lab.exec(run.net.client, [
      "ping",
      "-n",
      "-c",
      "1",
      "-W",
      "1",
      run.plan.serverTunnelIp,
    ], { timeoutMs: 5_000 });
    answered = r.success;
  }
  if (run.signal.aborted) return;
  if (!answered) {
    throw new Error(
      "no ping reply through the tunnel within 10 tries; last log lines:\n" +
        `client:\n${run.client.proc.tail(8)}\nserver:\n${run.server.proc.tail(8)}`,
    );
  }
  const deadline = performance.now() + 10_000;
  let states: string[] = [];
  while (performance.now() < deadline && !run.signal.aborted) {
    const st = await peerStatus(run, run.client, true);
    const paths = clientPathSamples(null, st, 1, run.plan, run.conditions);
    states = Object.entries(paths).map(([name, p]) => `${name} ${p.state ?? "-"}`);
    if (Object.values(paths).every((p) => p.state === "active" || p.state === "standby")) break;
    await sleep(200, run.signal);
  }
  if (run.signal.aborted) return;
  const ms = Math.round(performance.now() - t0);
  run.reporter.note(`tunnel up after ${ms} ms: ${states.join(", ")}`);
}

async function measure(run: Run): Promise<LabResult> {
  const { s, plan, net, lab, signal } = run;
  if (signal.aborted) return finalResult(run, Date.now(), [], [], null, null, null);
  // Timed before the TCP flow starts, so that the flow does not disturb the timing.
  const interval = s.traffic.ping === null
    ? null
    : await calibratePingInterval(lab, net.client, s.traffic.ping.hz);
  let tcp: TcpFlow | null = null;
  if (s.traffic.tcp !== null && !signal.aborted) {
    const rate = s.traffic.tcp.rate === null ? null : rateBits(s.traffic.tcp.rate) / 1e6;
    tcp = await startTcp(
      lab,
      {
        clientNs: net.client,
        serverNs: net.server,
        address: plan.serverTunnelIp,
        port: 5201,
      },
      s.duration + 1,
      rate,
    );
  }
  const ping = interval === null
    ? null
    : await startPing(lab, net.client, plan.serverTunnelIp, interval, s.duration + 5);
  if (ping !== null) {
    run.reporter.note(`ping -i ${interval} (the closest to ${s.traffic.ping!.hz} Hz here)`);
  }
  const t0 = Date.now();
  run.reporter.start(s);
  const events: EventRecord[] = [];
  const timeline = runTimeline(run, t0, events);
  let samples: Sample[];
  try {
    samples = await sampleEverySecond(run, t0, ping, tcp);
  } catch (e) {
    run.stop();
    await timeline;
    throw e;
  }
  await timeline;
  if (ping !== null) await stopPing(ping);
  const outcome = tcp === null ? null : await finishTcp(tcp, 15_000);
  return finalResult(run, t0, samples, events, ping, tcp, outcome);
}

/** Carries out the timeline's events at their times (until the run is aborted). */
async function runTimeline(run: Run, t0: number, out: EventRecord[]): Promise<void> {
  for (const e of run.s.timeline) {
    await sleep(t0 + e.at * 1000 - Date.now(), run.signal);
    if (run.signal.aborted) return;
    const start = Date.now();
    let detail = "";
    let error: string | null = null;
    try {
      detail = await applyEvent(run, e);
    } catch (err) {
      error = (err as Error).message.split("\n")[0];
      warn(run, `event at ${e.at} s (${e.label}) failed: ${error}`);
    }
    const record: EventRecord = {
      at: e.at,
      t: (start - t0) / 1000,
      "took_ms": Date.now() - start,
      kind: e.kind,
      label: e.label,
      detail,
      error,
      outage: null,
      "tcp_before_mbps": null,
      "tcp_after_mbps": null,
    };
    out.push(record);
    run.reporter.event(record);
  }
}

/** Does what an event says; returns what was done, in words. */
async function applyEvent(run: Run, e: ScenarioEvent): Promise<string> {
  const { lab, net } = run;
  switch (e.kind) {
    case "down":
    case "up":
      for (const p of e.paths) {
        await setPathLink(lab, net, p, e.kind === "up");
        run.conditions.get(p)!.up = e.kind === "up";
      }
      return `ip link set ${e.paths.join(", ")} ${e.kind} (client end)`;
    case "rate":
      for (const [p, rate] of Object.entries(e.rates)) {
        await setPathRate(lab, net, p, rate);
        run.conditions.get(p)!.rate = rate;
      }
      return `tbf ${
        Object.entries(e.rates).map(([p, r]) => `${p} ${r ?? "removed"}`).join(", ")
      } (both ends)`;
    case "loss":
      for (const [p, loss] of Object.entries(e.losses)) {
        await setPathLoss(lab, net, p, loss);
        run.conditions.get(p)!.loss = loss;
      }
      return `iptables random drop ${
        Object.entries(e.losses).map(([p, l]) => `${p} ${l}%`).join(", ")
      } (each direction)`;
    case "rebind":
      run.natGeneration = await rebind(net, run.natGeneration);
      return `new UDP port range ${20_000 + run.natGeneration * 100}-${
        20_099 + run.natGeneration * 100
      }, conntrack -F in ${net.router}`;
    case "reload":
      return await reload(run, e);
  }
}

async function reload(run: Run, e: ScenarioEvent & { kind: "reload" }): Promise<string> {
  const peer = e.host === "client" ? run.client : run.server;
  const other = e.host === "client" ? run.server : run.client;
  if (e.mode !== null) {
    peer.spec = { ...peer.spec, mode: e.mode, redundancy: e.redundancy };
    const dir = peer.conf.slice(0, peer.conf.lastIndexOf("/"));
    await writeConfig(
      dir,
      run.plan.iface,
      hostConfig(run.s, run.plan, e.host, peer.spec, peer.keys, other.keys),
    );
  }
  if (e.via === "command") {
    const r = await centipede(["reload", peer.conf], {
      env: { [CONTROL_DIR_ENV]: controlDirFor(peer.conf) },
      timeoutMs: 30_000,
    });
    if (!r.success) throw new Error(`centipede reload: ${(r.stderr || r.stdout).trim()}`);
    return `centipede reload: ${r.stdout.trim()}`;
  }
  const line = await peer.proc.lineAfter(() => peer.proc.kill("SIGHUP"), /reload/, 10_000);
  if (/failed/.test(line)) throw new Error(line);
  return `SIGHUP: ${line.replace(/^.*?(reload)/, "$1")}`;
}

/** Samples every second until the duration is over or the run is aborted. */
async function sampleEverySecond(
  run: Run,
  t0: number,
  ping: PingFlow | null,
  tcp: TcpFlow | null,
): Promise<Sample[]> {
  const samples: Sample[] = [];
  // The last status read of each host and when; a failed read keeps the one before.
  let [prevClient, clientAt] = [await peerStatus(run, run.client), Date.now()];
  let [prevServer, serverAt] = [await peerStatus(run, run.server), Date.now()];
  for (let k = 1; k <= run.s.duration; k++) {
    await sleep(t0 + k * 1000 - Date.now(), run.signal);
    if (run.signal.aborted) break;
    checkPeers(run);
    const [client, server] = await Promise.all([
      peerStatus(run, run.client),
      peerStatus(run, run.server),
    ]);
    const now = Date.now();
    const paths: Record<string, PathSample> = clientPathSamples(
      prevClient,
      client,
      (now - clientAt) / 1000,
      run.plan,
      run.conditions,
    );
    const sample: Sample = {
      t: k,
      ping: null,
      "tcp_mbps": null,
      paths,
      "server_paths": serverPathSamples(prevServer, server, (now - serverAt) / 1000),
    };
    if (client !== null) [prevClient, clientAt] = [client, now];
    if (server !== null) [prevServer, serverAt] = [server, now];
    await sleep(t0 + k * 1000 + ROW_DELAY_MS - Date.now(), run.signal);
    const from = t0 + (k - 1) * 1000;
    const to = t0 + k * 1000;
    if (ping !== null) {
      const count = estimateSentCount(ping.replies, Date.now(), ping.startAt, ping.intervalMs);
      const sendTimes = estimateSendTimes(ping.replies, count, ping.startAt, ping.intervalMs);
      sample.ping = pingWindow(sendTimes, firstReplies(ping.replies), from, to);
    }
    if (tcp !== null) sample.tcp_mbps = tcpMbps(tcp.progress, from, to);
    samples.push(sample);
    run.reporter.row(sample);
  }
  return samples;
}

/** Throws when a peer died (unless the run is being aborted: Ctrl-C reaches the peers too). */
function checkPeers(run: Run): void {
  for (const [role, peer] of [["client", run.client], ["server", run.server]] as const) {
    if (peer.proc.exited && !run.signal.aborted) {
      throw new Error(
        `the ${role} peer exited with code ${peer.proc.code}:\n${peer.proc.tail(10)}`,
      );
    }
  }
}

function finalResult(
  run: Run,
  t0: number,
  samples: Sample[],
  events: EventRecord[],
  ping: PingFlow | null,
  tcp: TcpFlow | null,
  outcome: TcpOutcome | null,
): LabResult {
  const seconds = samples.length;
  const end = t0 + seconds * 1000;
  let pingTotals: PingTotals | null = null;
  if (ping !== null) {
    const count = pingCount(ping);
    const sendTimes = estimateSendTimes(ping.replies, count, ping.startAt, ping.intervalMs);
    const answered = firstReplies(ping.replies);
    for (const sample of samples) {
      sample.ping = pingWindow(
        sendTimes,
        answered,
        t0 + (sample.t - 1) * 1000,
        t0 + sample.t * 1000,
      );
    }
    const all = pingWindow(sendTimes, answered, -Infinity, end);
    pingTotals = {
      ...all,
      duplicates: ping.replies.filter((r) => r.dup).length,
    };
    for (const e of events) {
      e.outage = outageAfter(t0 + e.t * 1000, ping.replies, sendTimes, t0, end, OUTAGE_WINDOW_MS);
    }
  }
  if (tcp !== null) {
    for (const sample of samples) {
      sample.tcp_mbps = tcpMbps(tcp.progress, t0 + (sample.t - 1) * 1000, t0 + sample.t * 1000);
    }
    for (const e of events) {
      e.tcp_before_mbps = meanTcp(samples, e.at - OUTAGE_WINDOW_MS / 1000, e.at);
      e.tcp_after_mbps = meanTcp(samples, e.at, e.at + OUTAGE_WINDOW_MS / 1000);
    }
  }
  const tcpTotals: TcpTotals | null = outcome === null ? null : {
    bytes: outcome.sink?.bytes ?? 0,
    mbps: outcome.sink?.mbps ?? 0,
    intact: outcome.sink !== null && outcome.source !== null &&
      outcome.sink.sha256 === outcome.source.sha256 && outcome.sink.bytes === outcome.source.bytes,
    error: outcome.error,
  };
  if (outcome?.error) run.warnings.push(`TCP: ${outcome.error}`);
  return {
    schema: RESULT_SCHEMA,
    scenario: run.s,
    "started_at": new Date(t0).toISOString(),
    seconds,
    interrupted: run.interrupted(),
    namespaces: { client: run.net.client, server: run.net.server, router: run.net.router },
    paths: Object.fromEntries(
      run.plan.paths.map((p) => [p.name, { "client_ip": p.clientIp, "far_ip": p.farIp }]),
    ),
    samples,
    events,
    ping: pingTotals,
    tcp: tcpTotals,
    warnings: run.warnings,
  };
}

/** Requests ping sent: from its statistics when it printed them, else the highest answered. */
function pingCount(ping: PingFlow): number {
  try {
    return parsePing(ping.proc.stdout).transmitted;
  } catch {
    return estimateSentCount(ping.replies, Date.now(), ping.startAt, ping.intervalMs);
  }
}
