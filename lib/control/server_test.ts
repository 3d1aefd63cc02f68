import { strict as assert } from "node:assert";
import { listInterfaces, NotRunningError, request } from "./client.ts";
import { exists, fixtureStatus } from "./_fixture.ts";
import { METRICS_CONTENT_TYPE, prometheusText } from "./metrics.ts";
import { socketPath } from "./paths.ts";
import { type ControlOptions, serveControl } from "./server.ts";

function options(dir: string, overrides: Partial<ControlOptions> = {}): ControlOptions {
  return {
    name: "wg0",
    dir,
    status: () => fixtureStatus(),
    onShutdown: () => {},
    onReload: () => Promise.resolve("reloaded wg0.conf: 1 peer(s)"),
    ...overrides,
  };
}

/** A raw HTTP/1.1 exchange on the socket, to see headers and keep the connection open. */
async function raw(path: string, text: string): Promise<{ conn: Deno.UnixConn; head: string }> {
  const conn = await Deno.connect({ transport: "unix", path });
  await conn.write(new TextEncoder().encode(text));
  const buf = new Uint8Array(65536);
  const n = await conn.read(buf);
  return { conn, head: new TextDecoder().decode(buf.subarray(0, n ?? 0)) };
}

/** Asserts what interface wg0's socket in `dir` answers to `method path`. */
async function assertAnswer(
  dir: string,
  method: string,
  path: string,
  status: number,
  body: string,
) {
  assert.deepEqual(await request("wg0", method, path, dir), { status, body });
}

Deno.test("control: every route over the socket, mode 0600, socket removed on close", async () => {
  const dir = await Deno.makeTempDir();
  let shutdowns = 0;
  let reloads = 0;
  const resets: string[] = [];
  const server = await serveControl(options(dir, {
    onShutdown: () => void shutdowns++,
    onReload: () => Promise.resolve(`reload ${++reloads}`),
    onResetTimestamp: (peer) => {
      if (peer !== "K=") throw new Error(`no peer ${peer} on this interface`);
      resets.push(peer);
      return "forgotten";
    },
  }));
  try {
    assert.equal(server.path, `${dir}/wg0.sock`);
    const info = await Deno.lstat(server.path);
    assert.ok(info.isSocket);
    assert.equal(info.mode! & 0o777, 0o600);

    const status = await request("wg0", "GET", "/status", dir);
    assert.equal(status.status, 200);
    assert.deepEqual(JSON.parse(status.body), fixtureStatus());

    const metrics = await request("wg0", "GET", "/metrics", dir);
    assert.equal(metrics.status, 200);
    assert.equal(metrics.body, prometheusText(fixtureStatus()));
    const { conn, head } = await raw(server.path, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
    conn.close();
    assert.match(head, /^HTTP\/1\.1 200 /);
    assert.ok(head.toLowerCase().includes(`content-type: ${METRICS_CONTENT_TYPE}`));

    await assertAnswer(dir, "POST", "/reload", 200, "reload 1\n");
    assert.equal(reloads, 1);

    await assertAnswer(dir, "POST", "/reset-timestamp?peer=K%3D", 200, "forgotten\n");
    await assertAnswer(
      dir,
      "POST",
      "/reset-timestamp?peer=X",
      400,
      "no peer X on this interface\n",
    );
    assert.deepEqual(resets, ["K="]);

    for (
      const [method, path] of [
        ["GET", "/nope"],
        ["POST", "/status"],
        ["GET", "/shutdown"],
        ["GET", "/reset-timestamp"],
      ]
    ) {
      const r = await request("wg0", method, path, dir);
      assert.equal(r.status, 404, `${method} ${path}`);
      assert.equal(r.body, `not found: ${method} ${path}\n`);
    }
    assert.equal(shutdowns, 0);
    assert.equal(reloads, 1, "GET does not reload");

    const bye = await request("wg0", "POST", "/shutdown", dir);
    assert.deepEqual(bye, { status: 200, body: "shutting down wg0\n" });
    await new Promise((resolve) => setTimeout(resolve, 10));
    assert.equal(shutdowns, 1, "onShutdown ran after the response");
    await request("wg0", "POST", "/shutdown", dir);
    await new Promise((resolve) => setTimeout(resolve, 10));
    assert.equal(shutdowns, 1, "onShutdown runs once");
  } finally {
    await server.close();
  }
  assert.equal(await exists(server.path), false, "socket removed");
  await server.close(); // idempotent
  await assert.rejects(request("wg0", "GET", "/status", dir), NotRunningError);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("control: reload failure is a 500 with the message; status errors are 500", async () => {
  const dir = await Deno.makeTempDir();
  const server = await serveControl(options(dir, {
    onReload: () => Promise.reject(new Error("wg0.conf line 3: bad key")),
    status: () => {
      throw new Error("no device yet");
    },
  }));
  try {
    await assertAnswer(dir, "POST", "/reload", 500, "wg0.conf line 3: bad key\n");
    await assertAnswer(dir, "GET", "/status", 500, "internal error: no device yet\n");
    assert.equal((await request("wg0", "GET", "/metrics", dir)).status, 500);
  } finally {
    await server.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("control: creates a missing directory with mode 0700", async () => {
  const base = await Deno.makeTempDir();
  const dir = `${base}/run/centipede`;
  const server = await serveControl(options(dir));
  try {
    assert.equal((await Deno.stat(dir)).mode! & 0o777, 0o700);
    assert.equal((await request("wg0", "GET", "/status", dir)).status, 200);
  } finally {
    await server.close();
    await Deno.remove(base, { recursive: true });
  }
});

Deno.test("control: refuses a live socket, replaces a stale one, never touches a file", async () => {
  const dir = await Deno.makeTempDir();
  const first = await serveControl(options(dir));
  try {
    await assert.rejects(serveControl(options(dir)), /interface wg0 is already running/);
    assert.equal((await request("wg0", "GET", "/status", dir)).status, 200, "first still serves");
  } finally {
    await first.close();
  }

  // A stale socket: a process bound it and exited without closing it (as on a crash). (Closing
  // a Deno listener removes the file, so it takes a process that dies.)
  const path = socketPath("wg1", dir);
  const bind = `Deno.listen({ transport: "unix", path: ${JSON.stringify(path)} }); Deno.exit(0);`;
  await new Deno.Command(Deno.execPath(), { args: ["eval", bind] }).output();
  assert.ok((await Deno.lstat(path)).isSocket, "stale socket present");
  await assert.rejects(request("wg1", "GET", "/status", dir), /wg1 is not running \(stale socket/);
  const second = await serveControl(options(dir, { name: "wg1" }));
  try {
    assert.equal((await request("wg1", "GET", "/status", dir)).status, 200);
  } finally {
    await second.close();
  }

  await Deno.writeTextFile(socketPath("wg2", dir), "not a socket");
  await assert.rejects(serveControl(options(dir, { name: "wg2" })), /is not a socket/);
  assert.equal(await Deno.readTextFile(socketPath("wg2", dir)), "not a socket");
  await Deno.remove(dir, { recursive: true });
});

Deno.test("control: listInterfaces lists sockets only; missing names are NotRunningError", async () => {
  const dir = await Deno.makeTempDir();
  assert.deepEqual(await listInterfaces(`${dir}/missing`), []);
  const servers = [
    await serveControl(options(dir, { name: "wg1" })),
    await serveControl(options(dir, { name: "home" })),
  ];
  await Deno.writeTextFile(`${dir}/fake.sock`, "");
  await Deno.writeTextFile(`${dir}/notes.txt`, "");
  try {
    assert.deepEqual(await listInterfaces(dir), ["home", "wg1"]);
    const error = await request("wg9", "GET", "/status", dir).catch((e) => e);
    assert.ok(error instanceof NotRunningError);
    assert.equal(error.message, `interface wg9 is not running (no ${dir}/wg9.sock)`);
    await assert.rejects(request("fake", "GET", "/status", dir), NotRunningError);
    await assert.rejects(request("../x", "GET", "/status", dir), TypeError);
  } finally {
    for (const s of servers) await s.close();
  }
  assert.deepEqual(await listInterfaces(dir), []);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("control: close does not wait for an idle keep-alive connection", async () => {
  const dir = await Deno.makeTempDir();
  const server = await serveControl(options(dir));
  const { conn, head } = await raw(server.path, "GET /status HTTP/1.1\r\nHost: x\r\n\r\n");
  assert.match(head, /^HTTP\/1\.1 200 /);
  const started = performance.now();
  await server.close();
  assert.ok(performance.now() - started < 2_000, "closed promptly");
  conn.close();
  await Deno.remove(dir, { recursive: true });
});
