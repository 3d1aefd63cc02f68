/**
 * Live reload on the real kernel: a 100 Hz ping through the tunnel loses nothing across five
 * reloads of A's file (SIGHUP and `centipede reload`), one of them a broken file that must change
 * nothing, and the session survives them all (no new handshake). Root only.
 * @module
 */
import assert from "node:assert/strict";
import type { InterfaceStatus } from "../../lib/control/status.ts";
import {
  centipedeArgv,
  ensureCommand,
  Lab,
  parsePing,
  REPO_ROOT,
  requireRoot,
  setupTwoPathTunnel,
  type TwoPathTunnel,
} from "./lab.ts";

/** The CLI in A's namespace, and A's status as `show --json` prints it. */
function controlOf(lab: Lab, t: TwoPathTunnel) {
  const cli = (...args: string[]) =>
    lab.exec(t.a, centipedeArgv(...args), { cwd: REPO_ROOT, env: t.envA, timeoutMs: 30_000 });
  const status = async () =>
    JSON.parse((await cli("show", "--json", t.iface)).stdout) as InterfaceStatus;
  return { cli, status };
}

/**
 * The standard two-path tunnel with its control helpers, its status and the client's config
 * text; with `warm`, a first ping has gone through it (so a session exists) before the status.
 */
async function runningTunnel(lab: Lab, options: { warm: boolean }) {
  const t = await setupTwoPathTunnel(lab);
  const { cli, status } = controlOf(lab, t);
  if (options.warm) {
    const warm = await lab.exec(t.a, ["ping", "-n", "-c", "5", "-i", "0.05", t.tunB]);
    assert.equal(warm.code, 0, warm.stderr);
  }
  const before = await status();
  const original = await Deno.readTextFile(t.confA);
  return { t, cli, status, before, original };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

Deno.test("reload: five reloads, one broken, under a 100 Hz ping: no loss, same session", async () => {
  requireRoot();
  await ensureCommand("ping", "iputils-ping");
  await using lab = await Lab.create();
  const { t, cli, status, before, original } = await runningTunnel(lab, { warm: true });

  const ping = lab.exec(t.a, ["ping", "-n", "-q", "-c", "450", "-i", "0.01", t.tunB], {
    timeoutMs: 30_000,
  });
  const edits: [string, string, "hup" | "cli"][] = [
    ["unchanged", original, "hup"],
    ["keepalive", original.replace(/PersistentKeepalive = \d+/, "PersistentKeepalive = 7"), "cli"],
    ["broken", original + "\nThisIsNotAKey = 1\n", "hup"],
    ["failover mode", original.replace("[Peer]", "[Peer]\nMode = failover"), "cli"],
    ["back to the original", original, "hup"],
  ];
  const outcomes: string[] = [];
  for (const [what, text, how] of edits) {
    await sleep(1_000);
    await Deno.writeTextFile(t.confA, text);
    if (how === "hup") {
      Deno.kill(t.peerA.pid, "SIGHUP");
      await sleep(200);
      outcomes.push(`${what}: SIGHUP`);
    } else {
      const r = await cli("reload", t.iface);
      outcomes.push(`${what}: exit ${r.code} ${(r.stdout + r.stderr).trim()}`);
    }
  }
  const result = await ping;
  const summary = parsePing(result.stdout);
  console.log(`FIGURE reloads: ${outcomes.join(" | ")}`);
  console.log(
    `FIGURE ping across 5 reloads: ${summary.transmitted} sent, ${summary.received} received, ` +
      `${summary.duplicates} duplicates`,
  );
  assert.equal(summary.received, summary.transmitted, "no ping lost across the reloads");
  assert.equal(summary.duplicates, 0);
  const log = t.peerA.stderrLines.join("\n");
  assert.equal(log.match(/reload failed, nothing changed/g)?.length, 1, log);
  assert.match(log, /unknown key "ThisIsNotAKey"|ThisIsNotAKey/);
  assert.equal(log.match(/reloaded .*: 1 peer/g)?.length, 4, log);
  const after = await status();
  assert.equal(after.peers[0].mode, "duplicate", "the last reload restored duplicate mode");
  assert.equal(
    after.peers[0].handshakes_completed,
    before.peers[0].handshakes_completed,
    "no new handshake: the session stayed",
  );
});

Deno.test("syncconf: a file's peers are applied to a running interface; a bad one changes nothing", async () => {
  requireRoot();
  await ensureCommand("ping", "iputils-ping");
  await using lab = await Lab.create();
  const { t, cli, status, before, original } = await runningTunnel(lab, { warm: false });
  const other = (await cli("genkey")).stdout.trim();
  const otherPublic = (await lab.exec(null, centipedeArgv("pubkey"), { stdin: other })).stdout
    .trim();
  const added = `${original}\n[Peer]\nPublicKey = ${otherPublic}\nAllowedIPs = 10.77.0.9/32\n`;
  const file = `${t.confA}.sync`;
  await Deno.writeTextFile(file, added, { mode: 0o600 });
  const ping = lab.exec(t.a, ["ping", "-n", "-q", "-c", "200", "-i", "0.01", t.tunB], {
    timeoutMs: 30_000,
  });
  const ok = await cli("syncconf", t.iface, file);
  await Deno.writeTextFile(file, `${added}\nNoSuchKey = 1\n`, { mode: 0o600 });
  const bad = await cli("syncconf", t.iface, file);
  const summary = parsePing((await ping).stdout);
  console.log(
    `FIGURE syncconf: ${ok.stdout.trim()} | bad file: exit ${bad.code} ${bad.stderr.trim()}`,
  );
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, /: 2 peer\(s\)/);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /NoSuchKey/);
  const after = await status();
  assert.deepEqual(
    after.peers.map((p) => p.public_key).sort(),
    [
      t.keysB.publicKey,
      otherPublic,
    ].sort(),
  );
  assert.equal(
    after.peers.find((p) => p.public_key === t.keysB.publicKey)!.handshakes_completed,
    before.peers[0].handshakes_completed,
    "the session that stayed was kept",
  );
  assert.equal(summary.received, summary.transmitted, "no ping lost during syncconf");
});

Deno.test("reload: removing and adding a Bind keeps the session and the ping", async () => {
  requireRoot();
  await ensureCommand("ping", "iputils-ping");
  await using lab = await Lab.create();
  const { t, cli, status, before, original } = await runningTunnel(lab, { warm: true });
  const bindLine = original.split("\n").find((l) => /^Bind\s*=/.test(l))!;
  const first = bindLine.split("=")[1].split(",")[0].trim();
  const ping = lab.exec(t.a, ["ping", "-n", "-q", "-c", "300", "-i", "0.01", t.tunB], {
    timeoutMs: 30_000,
  });
  await new Promise((resolve) => setTimeout(resolve, 1_000));
  await Deno.writeTextFile(t.confA, original.replace(bindLine, `Bind = ${first}`));
  const shrink = await cli("reload", t.iface);
  const during = await status();
  await new Promise((resolve) => setTimeout(resolve, 1_000));
  await Deno.writeTextFile(t.confA, original);
  const grow = await cli("reload", t.iface);
  const summary = parsePing((await ping).stdout);
  await new Promise((resolve) => setTimeout(resolve, 1_000));
  const after = await status();
  console.log(
    `FIGURE bind reloads: ${shrink.stdout.trim()} | ${grow.stdout.trim()} | ping ` +
      `${summary.transmitted} sent, ${summary.received} received`,
  );
  assert.equal(shrink.code, 0, shrink.stderr);
  assert.equal(grow.code, 0, grow.stderr);
  assert.deepEqual(during.listen.map((l) => l.address), [`${first}:51820`]);
  assert.equal(after.listen.length, 2);
  assert.equal(
    after.peers[0].paths.filter((p) => p.state === "active").length,
    2,
    "both direct paths active again",
  );
  assert.equal(
    after.peers[0].handshakes_completed,
    before.peers[0].handshakes_completed,
    "no new handshake: the session stayed",
  );
  assert.ok(summary.received >= summary.transmitted - 2, "at most a ping or two lost per rebind");
});
