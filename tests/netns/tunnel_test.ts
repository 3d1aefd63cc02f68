/**
 * The VPN on the real kernel: two network namespaces A and B joined by two veth paths, the real
 * `main.ts genkey`, `pubkey` and `up` in each namespace, and real traffic through the TUN
 * interfaces (ping, TCP). Root only: without root every test here fails loudly.
 *
 * Topology (see `setupTwoPathTunnel` in lab.ts):
 *
 * ```
 *   ns A                                   ns B
 *   cpt0 10.77.0.1/24                      cpt0 10.77.0.2/24
 *   p1   10.201.1.1/24 <--- path 1 --->    p1   10.201.1.2/24
 *   p2   10.201.2.1/24 <--- path 2 --->    p2   10.201.2.2/24
 * ```
 *
 * Measured figures are printed as `FIGURE ...` lines (`deno test` shows a test's output).
 * @module
 */

import assert from "node:assert/strict";
import {
  centipedeArgv,
  controlDirFor,
  ensureCommand,
  Lab,
  parsePing,
  type PingSummary,
  REPO_ROOT,
  requireRoot,
  setupTwoPathTunnel,
  startPeer,
  type TwoPathTunnel,
} from "./lab.ts";
import {
  assertTransferIntact,
  startTransfer,
  tcpTransfer,
  transferFigures,
} from "./_tcp_transfer.ts";

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function figure(text: string): void {
  console.log(`FIGURE ${text}`);
}

function pingFigures(s: PingSummary): string {
  const rtt = s.rtt === null
    ? "rtt n/a"
    : `rtt min/avg/max ${s.rtt.min}/${s.rtt.avg}/${s.rtt.max} ms`;
  return `${s.transmitted} sent, ${s.received} received, ${s.lossPercent}% loss, ` +
    `${s.duplicates} duplicates, ${rtt}`;
}

/** icmp_seq numbers in 1..count that got no reply, as compact ranges ("12-14, 80"). */
function missingSeqs(stdout: string, count: number): string {
  const seen = new Set<number>();
  for (const m of stdout.matchAll(/icmp_seq=(\d+) /g)) seen.add(Number(m[1]));
  const ranges: string[] = [];
  for (let i = 1; i <= count; i++) {
    if (seen.has(i)) continue;
    let j = i;
    while (j + 1 <= count && !seen.has(j + 1)) j++;
    ranges.push(i === j ? `${i}` : `${i}-${j}`);
    i = j;
  }
  return ranges.join(", ") || "none";
}

/** `ping` from A to B's tunnel address: -c COUNT -i 0.01, plus `extra` options. */
function pingArgv(t: TwoPathTunnel, count: number, extra: string[] = []): string[] {
  return ["ping", "-n", "-i", "0.01", "-c", String(count), ...extra, t.tunB];
}

/** Waits until one ping through the tunnel is answered (the handshake); returns ms taken. */
async function firstReply(lab: Lab, t: TwoPathTunnel): Promise<number> {
  const t0 = performance.now();
  for (let i = 0; i < 10; i++) {
    const r = await lab.exec(t.a, ["ping", "-n", "-c", "1", "-W", "2", t.tunB], {
      timeoutMs: 10_000,
    });
    if (r.success) {
      if (i > 0) console.log(`note: the first ${i} ping(s) through a fresh tunnel got no reply`);
      return Math.round(performance.now() - t0);
    }
  }
  throw new Error(`no ping reply through the tunnel within 10 tries (${t.tunA} -> ${t.tunB})`);
}

async function assertNoInterface(lab: Lab, ns: string, iface: string): Promise<void> {
  const r = await lab.exec(ns, ["ip", "link", "show", iface]);
  assert.ok(!r.success, `interface ${iface} still exists in ${ns} after shutdown:\n${r.stdout}`);
}

/** The files left in the control directory of the peer started with `conf`. */
function controlFiles(conf: string): string[] {
  try {
    return [...Deno.readDirSync(controlDirFor(conf))].map((e) => e.name);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return [];
    throw e;
  }
}

/** UDP RcvbufErrors and SndbufErrors of a namespace (from /proc/net/snmp). */
async function udpErrors(lab: Lab, ns: string): Promise<{ rcvbuf: number; sndbuf: number }> {
  const snmp = (await lab.mustExec(ns, ["cat", "/proc/net/snmp"])).stdout.split("\n");
  const [head, values] = snmp.filter((l) => l.startsWith("Udp:")).map((l) => l.split(/\s+/));
  return {
    rcvbuf: Number(values[head.indexOf("RcvbufErrors")]),
    sndbuf: Number(values[head.indexOf("SndbufErrors")]),
  };
}

Deno.test("tunnel: two paths between two namespaces (ICMP, TCP, path failure, SIGTERM)", async (t) => {
  requireRoot("tests/netns/tunnel_test.ts");
  await ensureCommand("ping", "iputils-ping");
  await using lab = await Lab.create();
  const tun = await setupTwoPathTunnel(lab);
  figure(`startup: both peers ready ${tun.startupMs} ms after spawn`);
  figure(`first reply through a fresh tunnel after ${await firstReply(lab, tun)} ms`);

  await t.step("a. ICMP: ping -c 50 -i 0.01 gets 50/50 replies, no duplicates", async () => {
    const r = await lab.exec(tun.a, pingArgv(tun, 50, ["-W", "1"]), { timeoutMs: 30_000 });
    const s = parsePing(r.stdout);
    figure(`ping x50 @100 Hz: ${pingFigures(s)}`);
    assert.equal(s.transmitted, 50);
    assert.equal(s.received, 50, `lost icmp_seq ${missingSeqs(r.stdout, 50)}:\n${r.stdout}`);
    assert.equal(s.duplicates, 0, `duplicate replies:\n${r.stdout}`);
  });

  await t.step("b. TCP: 20 MB A -> B, length and sha256 match", async () => {
    const bytes = 20_000_000;
    const r = await tcpTransfer(lab, tun, { port: 5201, bytes, seed: 20 });
    figure(`TCP 20 MB A->B: ${transferFigures(r)}`);
    assert.equal(r.sink.bytes, bytes);
    assertTransferIntact(r);
  });

  // A 100 Hz ping and a steady TCP stream while path 1, then path 2, is cut on A's side. The
  // stream is paced (20 Mbit/s, below the tunnel's capacity) so that what is measured is the
  // cost of a dying path, not congestion loss; step c2 measures a saturating stream.
  await t.step("c. one path down mid-stream: no ping loss, no duplicates, TCP intact", async () => {
    const [p1, p2] = tun.paths;
    // 300 pings (~3 s); no -W so that late replies count until ping's own linger time.
    const ping = lab.spawn(tun.a, pingArgv(tun, 300), { name: "ping" });
    const transfer = startTransfer(lab, tun, {
      port: 5202,
      bytes: 100_000_000,
      seed: 33,
      duration: 3.5,
      rateMbps: 20,
      timeoutS: 60,
    });
    const events: string[] = [];
    const t0 = performance.now();
    const mark = (what: string) => events.push(`${Math.round(performance.now() - t0)} ms ${what}`);
    try {
      await sleep(1000);
      await lab.linkDown(tun.a, p1.devA);
      mark("path 1 down");
      await sleep(800);
      await lab.linkUp(tun.a, p1.devA);
      mark("path 1 up");
      await sleep(500);
      await lab.linkDown(tun.a, p2.devA);
      mark("path 2 down");
      await sleep(800);
    } finally {
      await lab.linkUp(tun.a, p1.devA);
      await lab.linkUp(tun.a, p2.devA);
      mark("path 2 up");
    }
    const status = await ping.wait(30_000);
    const settled = await transfer;
    if (!settled.ok) throw settled.e;
    const r = settled.v;
    const s = parsePing(ping.stdout);
    console.log(`events: ${events.join(", ")}`);
    figure(`ping x300 @100 Hz, path 1 then path 2 cut: ${pingFigures(s)}`);
    figure(`TCP paced to 20 Mbit/s during the cuts: ${transferFigures(r)}`);
    assert.equal(s.transmitted, 300);
    assert.equal(
      s.received,
      300,
      `lost ${300 - s.received} of 300 pings while cutting paths (events: ${events.join(", ")}); ` +
        `missing icmp_seq: ${missingSeqs(ping.stdout, 300)}`,
    );
    assert.equal(s.duplicates, 0, "duplicate ping replies");
    assert.ok(status.success, `ping exited with ${status.code}`);
    assertTransferIntact(r);
  });

  // Figures only for ping loss: a saturating TCP flow through a CPU-bound userspace tunnel
  // overflows the receiving peer's UDP socket buffers, so pings can be lost with no path cut at
  // all. Duplicates and data integrity are still asserted.
  await t.step(
    "c2. ICMP beside a saturating TCP flow (no path cut): figures; no duplicates, TCP intact",
    async () => {
      const before = await udpErrors(lab, tun.b);
      const ping = lab.spawn(tun.a, pingArgv(tun, 300), { name: "ping" });
      const transfer = startTransfer(lab, tun, {
        port: 5203,
        bytes: 500_000_000,
        seed: 44,
        duration: 3.5,
        timeoutS: 60,
      });
      const status = await ping.wait(30_000);
      const settled = await transfer;
      if (!settled.ok) throw settled.e;
      const after = await udpErrors(lab, tun.b);
      const s = parsePing(ping.stdout);
      figure(`ping x300 @100 Hz beside a saturating TCP flow: ${pingFigures(s)}`);
      figure(`saturating TCP A->B: ${transferFigures(settled.v)}`);
      figure(
        `UDP RcvbufErrors in B during it: ${after.rcvbuf - before.rcvbuf}; lost icmp_seq: ` +
          missingSeqs(ping.stdout, 300),
      );
      assert.equal(s.transmitted, 300);
      assert.equal(s.duplicates, 0, "duplicate ping replies");
      assert.ok(status.success || s.received > 0, `ping exited with ${status.code}`);
      assertTransferIntact(settled.v);
    },
  );

  await t.step("d. SIGTERM: both peers exit 0 and remove their interface", async () => {
    const [sa, sb] = await Promise.all([tun.peerA.stop(10_000), tun.peerB.stop(10_000)]);
    assert.equal(
      sa.code,
      0,
      `peer A exited with ${sa.code} (signal ${sa.signal}):\n${tun.peerA.tail()}`,
    );
    assert.equal(
      sb.code,
      0,
      `peer B exited with ${sb.code} (signal ${sb.signal}):\n${tun.peerB.tail()}`,
    );
    await assertNoInterface(lab, tun.a, tun.iface);
    await assertNoInterface(lab, tun.b, tun.iface);
    assert.deepEqual(controlFiles(tun.confA), [], "peer A left its control socket behind");
    assert.deepEqual(controlFiles(tun.confB), [], "peer B left its control socket behind");
  });
});

// The contract: once `interface NAME is up` is printed, SIGTERM and SIGINT end the peer cleanly.
// A supervisor (systemd, a test) may signal it the moment that line appears.
Deno.test("tunnel: SIGTERM/SIGINT right after the ready line: exit 0, nothing left behind", async () => {
  requireRoot("tests/netns/tunnel_test.ts");
  await using lab = await Lab.create();
  const tun = await setupTwoPathTunnel(lab);
  await Promise.all([tun.peerA.stop(10_000), tun.peerB.stop(10_000)]);
  const failures: string[] = [];
  const rounds = 8;
  for (let i = 0; i < rounds; i++) {
    const signal = i % 2 === 0 ? "SIGTERM" : "SIGINT";
    const peer = await startPeer(lab, tun.a, tun.confA);
    const status = await peer.stop(10_000, signal);
    const linkLeft = await lab.linkExists(tun.a, tun.iface);
    const files = controlFiles(tun.confA);
    if (status.code !== 0 || linkLeft || files.length > 0) {
      failures.push(
        `round ${i} (${signal}): exit code ${status.code} (signal ${status.signal}), ` +
          `interface left: ${linkLeft}, control files left: ${files.join(" ") || "none"}; ` +
          `last stderr line: ${peer.stderrLines.at(-1) ?? ""}`,
      );
    }
    // Clear what a failed round left so the next round starts clean.
    if (linkLeft) await lab.mustExec(tun.a, ["ip", "link", "del", tun.iface]);
    for (const f of files) await Deno.remove(`${controlDirFor(tun.confA)}/${f}`);
  }
  figure(`signal right after ready: ${rounds - failures.length}/${rounds} clean shutdowns`);
  assert.deepEqual(failures, [], `unclean shutdowns:\n${failures.join("\n")}`);
});

Deno.test("tunnel: a second `up` of the same name fails with exit code 1 while the first runs", async () => {
  requireRoot("tests/netns/tunnel_test.ts");
  await ensureCommand("ping", "iputils-ping");
  await using lab = await Lab.create();
  const tun = await setupTwoPathTunnel(lab);
  await firstReply(lab, tun);

  // Same namespace, same config, same control directory as the running peer A.
  const second = await lab.exec(tun.a, centipedeArgv("up", tun.confA), {
    cwd: REPO_ROOT,
    env: tun.envA,
    timeoutMs: 30_000,
  });
  console.log(`second up: exit code ${second.code}, stderr: ${second.stderr.trim()}`);
  assert.ok(!second.timedOut, "a second `up` of a running interface did not exit within 30 s");
  assert.equal(second.code, 1, `expected exit code 1, got ${second.code}:\n${second.stderr}`);
  const message = second.stderr.trim();
  assert.ok(message.length > 0, "no error message on stderr");
  assert.ok(!/^\s+at /m.test(message), `a stack trace instead of a clear message:\n${message}`);
  assert.ok(
    message.includes(tun.iface) || /in use|exists|busy|already/i.test(message),
    `the message names neither the interface nor the conflict:\n${message}`,
  );

  // The first instance is untouched: interface still there, traffic still flows.
  assert.equal(
    tun.peerA.code,
    null,
    `the first peer died: code ${tun.peerA.code}\n${tun.peerA.tail()}`,
  );
  const link = await lab.exec(tun.a, ["ip", "link", "show", tun.iface]);
  assert.ok(link.success, `the failed second up removed ${tun.iface}:\n${link.stderr}`);
  const r = await lab.exec(tun.a, pingArgv(tun, 10, ["-W", "1"]));
  const s = parsePing(r.stdout);
  assert.equal(s.received, 10, `after the second up: ${pingFigures(s)}`);

  const [sa, sb] = await Promise.all([tun.peerA.stop(10_000), tun.peerB.stop(10_000)]);
  assert.equal(sa.code, 0, `peer A exited with ${sa.code}:\n${tun.peerA.tail()}`);
  assert.equal(sb.code, 0, `peer B exited with ${sb.code}:\n${tun.peerB.tail()}`);
  await assertNoInterface(lab, tun.a, tun.iface);
  await assertNoInterface(lab, tun.b, tun.iface);
});
