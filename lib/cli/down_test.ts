import { strict as assert } from "node:assert";
import { capture, exists, fixtureStatus } from "../control/_fixture.ts";
import { type ControlServer, serveControl } from "../control/server.ts";
import { down, reload, resetTimestamp, targetInterface } from "./down.ts";

Deno.test("down: by name and by config path; waits until the socket is gone", async () => {
  const dir = await Deno.makeTempDir();
  try {
    for (const target of ["wg0", "/etc/centipede/wg0.conf"]) {
      let server: ControlServer | undefined = undefined;
      let tornDown = false;
      server = await serveControl({
        name: "wg0",
        dir,
        status: () => fixtureStatus(),
        // Like `up`: teardown takes a while, the control socket goes last.
        onShutdown: () =>
          void setTimeout(async () => {
            tornDown = true;
            await server!.close();
          }, 150),
        onReload: () => Promise.resolve(""),
      });
      const io = capture();
      assert.equal(await down(target, { dir, ...io.sinks }), 0, target);
      assert.ok(tornDown, "returned only after the teardown");
      assert.equal(await exists(`${dir}/wg0.sock`), false);
      assert.deepEqual(io.err, []);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("down: errors", async () => {
  const dir = await Deno.makeTempDir();
  const server = await serveControl({
    name: "stuck",
    dir,
    status: () => fixtureStatus(),
    onShutdown: () => {}, // never goes down
    onReload: () => Promise.resolve(""),
  });
  try {
    const stuck = capture();
    assert.equal(await down("stuck", { dir, timeoutMs: 200, ...stuck.sinks }), 1);
    assert.deepEqual(stuck.err, ["interface stuck did not stop within 0.2 s"]);

    const missing = capture();
    assert.equal(await down("wg0", { dir, ...missing.sinks }), 1);
    assert.deepEqual(missing.err, [`interface wg0 is not running (no ${dir}/wg0.sock)`]);

    const bad = capture();
    assert.equal(await down("a/b.txt", { dir, ...bad.sinks }), 1);
    assert.match(bad.err[0], /must be named after a valid interface name/);
  } finally {
    await server.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("reload: prints the summary, or the error with exit 1", async () => {
  const dir = await Deno.makeTempDir();
  let fail = false;
  const server = await serveControl({
    name: "wg0",
    dir,
    status: () => fixtureStatus(),
    onShutdown: () => {},
    onReload: () =>
      fail
        ? Promise.reject(new Error("wg0.conf:3: PublicKey: not a valid key"))
        : Promise.resolve("reloaded wg0.conf: 2 peer(s)"),
  });
  try {
    const ok = capture();
    assert.equal(await reload("wg0", { dir, ...ok.sinks }), 0);
    assert.deepEqual(ok.out, ["reloaded wg0.conf: 2 peer(s)"]);
    fail = true;
    const bad = capture();
    assert.equal(await reload("./wg0.conf", { dir, ...bad.sinks }), 1);
    assert.deepEqual(bad.err, [
      "interface wg0: reload failed: wg0.conf:3: PublicKey: not a valid key",
    ]);
    const missing = capture();
    assert.equal(await reload("wg7", { dir, ...missing.sinks }), 1);
    assert.deepEqual(missing.err, [`interface wg7 is not running (no ${dir}/wg7.sock)`]);
  } finally {
    await server.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("reset-timestamp: sends the peer's key, prints the answer or the reason", async () => {
  const dir = await Deno.makeTempDir();
  const key = "HIgo9xNzJMWLKASShiTqIybxZ0U3wGLiUeJ1PKf8ykw=";
  const server = await serveControl({
    name: "wg0",
    dir,
    status: () => fixtureStatus(),
    onShutdown: () => {},
    onReload: () => Promise.resolve(""),
    onResetTimestamp: (peer) => {
      if (peer !== key) throw new Error(`no peer ${peer} on this interface`);
      return "peer HIgo9xNz: its next initiation will be answered whatever its timestamp";
    },
  });
  try {
    const ok = capture();
    assert.equal(await resetTimestamp("wg0", key, { dir, ...ok.sinks }), 0);
    assert.deepEqual(ok.out, [
      "peer HIgo9xNz: its next initiation will be answered whatever its timestamp",
    ]);
    const bad = capture();
    assert.equal(await resetTimestamp("wg0", "a+b/c=", { dir, ...bad.sinks }), 1);
    assert.deepEqual(bad.err, [
      "interface wg0: reset-timestamp failed: no peer a+b/c= on this interface",
    ]);
  } finally {
    await server.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("targetInterface", () => {
  assert.equal(targetInterface("wg0"), "wg0");
  assert.equal(targetInterface("wg0.conf"), "wg0");
  assert.equal(targetInterface("/etc/centipede/home.conf"), "home");
  assert.throws(() => targetInterface(".."), /neither an interface name/);
  assert.throws(() => targetInterface("much-too-long-interface"), /neither an interface name/);
  assert.throws(() => targetInterface("/etc/x"), /valid interface name/);
});
