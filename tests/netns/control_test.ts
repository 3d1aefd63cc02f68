/**
 * The control socket on the real kernel: `show`, `show --json`, `reload`, `reset-timestamp` and
 * `down` run as separate processes against `up` in a namespace (docs/CONTROL.md). Root only.
 * @module
 */
import assert from "node:assert/strict";
import type { InterfaceStatus } from "../../lib/control/status.ts";
import {
  centipedeArgv,
  controlDirFor,
  ensureCommand,
  Lab,
  REPO_ROOT,
  requireRoot,
  setupTwoPathTunnel,
} from "./lab.ts";

Deno.test("control: show, show --json, reload, reset-timestamp and down against a running tunnel", async () => {
  requireRoot();
  await ensureCommand("ping", "iputils-ping");
  await using lab = await Lab.create();
  const t = await setupTwoPathTunnel(lab);
  const env = { CENTIPEDE_CONTROL_DIR: controlDirFor(t.confA) };
  const cli = (...args: string[]) =>
    lab.exec(t.a, centipedeArgv(...args), { cwd: REPO_ROOT, env, timeoutMs: 30_000 });
  const ping = await lab.exec(t.a, ["ping", "-n", "-c", "20", "-i", "0.05", t.tunB]);
  assert.equal(ping.code, 0, ping.stderr);

  const human = await cli("show");
  assert.equal(human.code, 0, human.stderr);
  assert.match(human.stdout, new RegExp(`^interface: ${t.iface}\n`));
  assert.ok(human.stdout.includes(`peer: ${t.keysB.publicKey}\n`));
  assert.match(human.stdout, /10\.201\.1\.1:51820 -> 10\.201\.1\.2:51820 +active /);
  // The suite runs on the data plane CENTIPEDE_WORKERS names (the test task runs it twice).
  const workers = Number(Deno.env.get("CENTIPEDE_WORKERS") ?? "0");
  const loop = workers > 0 ? `loop=workers(${workers})` : "loop=batched";
  assert.ok(human.stdout.includes(loop), `expected ${loop} in:\n${human.stdout}`);

  const json = await cli("show", "--json", t.iface);
  assert.equal(json.code, 0, json.stderr);
  const status = JSON.parse(json.stdout) as InterfaceStatus;
  assert.equal(status.interface, t.iface);
  assert.equal(status.public_key, t.keysA.publicKey);
  const peer = status.peers[0];
  assert.equal(peer.public_key, t.keysB.publicKey);
  assert.ok(peer.packets_received >= 20);
  const direct = peer.paths.filter((p) =>
    (p.local_address === "10.201.1.1:51820" && p.remote === "10.201.1.2:51820") ||
    (p.local_address === "10.201.2.1:51820" && p.remote === "10.201.2.2:51820")
  );
  assert.equal(direct.length, 2);
  assert.ok(direct.every((p) => p.state === "active" && p.rtt_ms !== null));
  // One machine, one clock: the offset is the network delay at most.
  assert.ok(Math.abs(peer.clock_offset_seconds!) < 1, `${peer.clock_offset_seconds}`);

  const reset = await cli("reset-timestamp", t.iface, t.keysB.publicKey);
  assert.equal(reset.code, 0, reset.stderr);
  assert.match(
    reset.stdout,
    /^peer \S+: its next initiation will be answered whatever its timestamp/,
  );
  const stranger = await cli("reset-timestamp", t.iface, t.keysA.publicKey);
  assert.equal(stranger.code, 1);
  assert.equal(
    stranger.stderr.trim().split("\n").at(-1), // after any line of deno's own
    `interface ${t.iface}: reset-timestamp failed: no peer ${t.keysA.publicKey} on this interface`,
  );
  const still = await lab.exec(t.a, ["ping", "-n", "-c", "5", "-i", "0.05", t.tunB]);
  assert.equal(still.code, 0, `the session is kept: ${still.stdout}`);

  const reload = await cli("reload", t.confA);
  assert.equal(reload.code, 0, reload.stderr);
  assert.match(reload.stdout, /^reloaded .*cpt0\.conf: 1 peer\(s\)/);

  const down = await cli("down", t.iface);
  assert.equal(down.code, 0, down.stderr);
  assert.equal(await lab.linkExists(t.a, t.iface), false, "interface removed before down returned");
  const exit = await t.peerA.wait(10_000);
  assert.equal(exit.code, 0);

  const after = await cli("show", t.iface);
  assert.equal(after.code, 1);
  assert.match(
    after.stderr,
    new RegExp(`interface ${t.iface} is not running \\(no .*/run/cpt0\\.sock\\)`),
  );
});
