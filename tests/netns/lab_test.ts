/**
 * Self-test of the network-namespace lab (tests/netns/lab.ts) on the real kernel, independent of
 * the VPN. Root only: without root every test fails loudly.
 * @module
 */

import assert from "node:assert/strict";
import { ensureCommand, Lab, listNamespaces, parsePing, requireRoot } from "./lab.ts";
import { expectedSha256, parseTransfer, PatternStream, transferArgv } from "./_tcp_transfer.ts";

async function twoNamespaces(lab: Lab) {
  const a = await lab.addNamespace("a");
  const b = await lab.addNamespace("b");
  const path = await lab.addVeth(a, b, {
    devA: "p1",
    devB: "p1",
    addrA: "10.201.1.1/24",
    addrB: "10.201.1.2/24",
  });
  return { a, b, path };
}

Deno.test("lab: namespaces, veth, ping, link down/up, loss, and cleanup", async () => {
  requireRoot();
  await ensureCommand("ping", "iputils-ping");
  let names: readonly string[] = [];
  {
    await using lab = await Lab.create();
    const { a, b } = await twoNamespaces(lab);
    names = lab.namespaces;
    assert.deepEqual(names.length, 2);
    for (const n of names) assert.match(n, /^cp[0-9a-f]{4}[ab]$/);
    assert((await listNamespaces()).includes(a));

    // lo is up in each namespace.
    const lo = await lab.mustExec(b, ["ping", "-n", "-c", "1", "-W", "1", "127.0.0.1"]);
    assert.deepEqual(parsePing(lo.stdout).received, 1);

    // Across the path.
    const ok = await lab.mustExec(a, [
      "ping",
      "-n",
      "-c",
      "5",
      "-i",
      "0.05",
      "-W",
      "1",
      "10.201.1.2",
    ]);
    const s = parsePing(ok.stdout);
    assert.deepEqual([s.transmitted, s.received, s.duplicates], [5, 5, 0]);
    assert(s.rtt !== null && s.rtt.avg < 50, `rtt ${s.rtt?.avg}`);

    // Link down on A's side: ping fails; up again: it works.
    await lab.linkDown(a, "p1");
    const down = await lab.exec(a, ["ping", "-n", "-c", "2", "-i", "0.2", "-W", "1", "10.201.1.2"]);
    assert(!down.success, `ping over a down link succeeded:\n${down.stdout}`);
    await lab.linkUp(a, "p1");
    const up = await lab.exec(a, ["ping", "-n", "-c", "3", "-i", "0.2", "-W", "2", "10.201.1.2"]);
    assert(up.success, `ping after link up failed:\n${up.stdout}${up.stderr}`);

    // Random loss of 50 % on A's egress, then removed.
    await lab.setLoss(a, "p1", 0.5);
    const lossy = await lab.exec(a, [
      "ping",
      "-n",
      "-c",
      "60",
      "-i",
      "0.01",
      "-W",
      "1",
      "10.201.1.2",
    ]);
    const l = parsePing(lossy.stdout);
    console.log(`lab: 50 % iptables loss -> ${l.lossPercent} % ping loss`);
    assert(l.lossPercent >= 15 && l.lossPercent <= 85, `loss ${l.lossPercent} %`);
    // Per wire packet also for offloaded bursts: A's end cuts them, B's end drops.
    const details = async () => (await lab.mustExec(a, ["ip", "-d", "link", "show", "p1"])).stdout;
    assert.match(await details(), /gso_max_segs 1 /);
    await lab.clearLoss(a, "p1");
    assert.match(await details(), /gso_max_segs 65535 /);
    const clean = await lab.mustExec(a, [
      "ping",
      "-n",
      "-c",
      "20",
      "-i",
      "0.01",
      "-W",
      "1",
      "10.201.1.2",
    ]);
    assert.deepEqual(parsePing(clean.stdout).received, 20);
  }
  // `await using` has run the cleanup: no namespace of the lab is left.
  const left = await listNamespaces();
  for (const n of names) assert(!left.includes(n), `namespace ${n} survived cleanup`);
});

Deno.test("lab: tbf rate limit holds TCP near 20 Mbit/s", async () => {
  requireRoot();
  await using lab = await Lab.create();
  const { a, b } = await twoNamespaces(lab);
  await lab.rateLimit(a, "p1");
  assert.match(await lab.qdisc(a, "p1"), /tbf .*rate 20Mbit/);

  const sink = lab.spawn(b, transferArgv("sink", { listen: "10.201.1.2:5201", timeout: 30 }));
  await sink.waitForLine(/listening on/, 20_000);
  const bytes = 4_000_000;
  const src = await lab.mustExec(
    a,
    transferArgv("source", { connect: "10.201.1.2:5201", bytes, seed: 3, timeout: 30 }),
    { timeoutMs: 40_000 },
  );
  await sink.wait(10_000);
  const got = parseTransfer(sink.stdout);
  const sent = parseTransfer(src.stdout);
  assert.deepEqual(got.bytes, bytes);
  assert.deepEqual(got.sha256, sent.sha256);
  assert.deepEqual(got.sha256, expectedSha256(3, bytes));
  console.log(`lab: tbf 20mbit -> TCP ${got.mbps} Mbit/s (${bytes} bytes in ${got.seconds} s)`);
  assert(got.mbps > 10 && got.mbps < 23, `rate ${got.mbps} Mbit/s outside 10..23`);

  await lab.clearRateLimit(a, "p1");
  assert(!/tbf/.test(await lab.qdisc(a, "p1")), "tbf still there after clearRateLimit");
});

Deno.test("lab: NAT router masquerades, conntrack flush empties its table", async () => {
  requireRoot();
  await using lab = await Lab.create();
  const client = await lab.addNamespace("c");
  const server = await lab.addNamespace("s");
  const nat = await lab.addNatRouter({ clientNs: client, serverNs: server });

  const sink = lab.spawn(
    server,
    transferArgv("sink", { listen: `${nat.serverIp}:5300`, timeout: 30 }),
  );
  await sink.waitForLine(/listening on/, 20_000);
  await lab.mustExec(
    client,
    transferArgv("source", { connect: `${nat.serverIp}:5300`, bytes: 1000, timeout: 20 }),
    { timeoutMs: 30_000 },
  );
  await sink.wait(10_000);
  const got = parseTransfer(sink.stdout);
  // The server saw the router's public address, not the client's private one.
  assert.match(got.remote ?? "", new RegExp(`^${nat.publicIp.replaceAll(".", "\\.")}:`));

  const entries = await lab.conntrackEntries(nat.ns);
  assert(
    entries.some((e) => e.includes(nat.clientIp)),
    `no conntrack entry:\n${entries.join("\n")}`,
  );
  await lab.flushConntrack(nat.ns);
  assert.deepEqual(await lab.conntrackEntries(nat.ns), []);
});

Deno.test("lab: cleanup ends processes by PID and deletes namespaces when the body throws", async () => {
  requireRoot();
  let names: readonly string[] = [];
  let pid = 0;
  let sleeper: ReturnType<Lab["spawn"]> | null = null;
  await assert.rejects(async () => {
    await using lab = await Lab.create();
    const ns = await lab.addNamespace("x");
    names = lab.namespaces;
    sleeper = lab.spawn(ns, ["sleep", "300"]);
    pid = sleeper.pid;
    throw new Error("boom");
  }, /boom/);
  assert(sleeper !== null);
  const s = sleeper as ReturnType<Lab["spawn"]>;
  assert(s.exited, `sleep (pid ${pid}) still running after cleanup`);
  assert.deepEqual(s.status?.signal, "SIGTERM");
  const left = await listNamespaces();
  for (const n of names) assert(!left.includes(n), `namespace ${n} survived cleanup`);
});

Deno.test("lab: stop() sends SIGTERM and returns the exit status; waitForLine sees old lines", async () => {
  requireRoot();
  await using lab = await Lab.create();
  const ns = await lab.addNamespace("y");
  const p = lab.spawn(ns, [
    "sh",
    "-c",
    "trap 'echo bye >&2; exit 0' TERM; echo ready >&2; while :; do sleep 0.05; done",
  ]);
  await p.waitForLine(/^ready$/, 5_000);
  await p.waitForLine(/^ready$/, 5_000); // already printed: resolves at once
  const status = await p.stop(5_000);
  assert.deepEqual(status.code, 0);
  assert.match(p.stderr, /bye/);
  await assert.rejects(() => p.waitForLine(/never/, 1_000), /already exited/);
});

// Pure helpers: no root needed.

Deno.test("lab: parsePing reads counts, duplicates, errors and rtt", () => {
  const out = [
    "64 bytes from 10.77.0.2: icmp_seq=1 ttl=64 time=0.41 ms",
    "64 bytes from 10.77.0.2: icmp_seq=1 ttl=64 time=0.52 ms (DUP!)",
    "",
    "--- 10.77.0.2 ping statistics ---",
    "50 packets transmitted, 48 received, +3 duplicates, +1 errors, 4% packet loss, time 612ms",
    "rtt min/avg/max/mdev = 0.204/0.611/2.978/0.377 ms",
  ].join("\n");
  const s = parsePing(out);
  assert.deepEqual(
    [s.transmitted, s.received, s.duplicates, s.errors, s.lossPercent],
    [50, 48, 3, 1, 4],
  );
  assert.deepEqual(s.rtt, { min: 0.204, avg: 0.611, max: 2.978, mdev: 0.377 });
  const none = parsePing("3 packets transmitted, 0 received, 100% packet loss, time 2040ms\n");
  assert.deepEqual([none.received, none.duplicates, none.rtt], [0, 0, null]);
  assert.throws(() => parsePing("ping: connect: Network is unreachable"), /no ping statistics/);
});

Deno.test("lab: the transfer pattern does not depend on how it is cut into chunks", () => {
  const whole = new PatternStream(9).fill(new Uint8Array(1001));
  const parts = new PatternStream(9);
  const pieces: Uint8Array[] = [];
  for (const n of [1, 2, 3, 5, 7, 13, 970]) pieces.push(parts.fill(new Uint8Array(n)));
  assert.deepEqual(new Uint8Array(pieces.flatMap((p) => [...p])), whole);
  assert.notDeepEqual(new PatternStream(10).fill(new Uint8Array(16)), whole.subarray(0, 16));
  assert.equal(
    expectedSha256(9, 0),
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
  );
});
