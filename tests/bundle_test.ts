/**
 * Shipping: `deno task bundle` makes one JS file that runs with a plain `deno run` and answers
 * `genkey`, `pubkey` and `--help` like the checkout does, and a second one beside it for the data
 * plane workers (`up --workers=N`), which loads as a Worker and answers the engine's messages.
 */
import { strict as assert } from "node:assert";

const ROOT = new URL("..", import.meta.url).pathname;

async function run(args: string[], stdin?: string): Promise<{ code: number; out: string }> {
  const child = new Deno.Command(Deno.execPath(), {
    args,
    cwd: ROOT,
    stdin: stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (stdin !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(stdin));
    await writer.close();
  }
  const output = await child.output();
  const text = new TextDecoder().decode(output.stdout) + new TextDecoder().decode(output.stderr);
  return { code: output.code, out: text };
}

Deno.test("bundle: one JS file runs genkey, pubkey and --help", async () => {
  const dir = await Deno.makeTempDir({ prefix: "centipede-bundle-" });
  try {
    const file = `${dir}/centipede.js`;
    const bundled = await run(["bundle", "--platform=deno", "-o", file, "main.ts"]);
    assert.equal(bundled.code, 0, bundled.out);
    const help = await run(["run", file, "--help"]);
    assert.equal(help.code, 0, help.out);
    assert.match(help.out, /^centipede \d+\.\d+\.\d+: a multipath VPN/);
    const key = await run(["run", file, "genkey"]);
    assert.equal(key.code, 0, key.out);
    assert.match(key.out.trim(), /^[A-Za-z0-9+/]{43}=$/);
    const fromBundle = await run(["run", file, "pubkey"], key.out);
    const fromCheckout = await run(["run", "-A", "main.ts", "pubkey"], key.out);
    assert.equal(fromBundle.code, 0, fromBundle.out);
    assert.equal(fromBundle.out, fromCheckout.out, "same public key as the checkout");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("bundle: the worker file beside it loads as a Worker and answers a stop", async () => {
  const dir = await Deno.makeTempDir({ prefix: "centipede-bundle-" });
  try {
    const file = `${dir}/lane_worker.js`;
    const bundled = await run([
      "bundle",
      "--platform=deno",
      "-o",
      file,
      "lib/engine/lane_worker.ts",
    ]);
    assert.equal(bundled.code, 0, bundled.out);
    const worker = new Worker(new URL(`file://${file}`), { type: "module" });
    try {
      const reply = await new Promise<unknown>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error("no reply in 10 s")), 10_000);
        worker.onmessage = (event) => (clearTimeout(timer), resolve(event.data));
        worker.onerror = (event) => (clearTimeout(timer), reject(new Error(event.message)));
        worker.postMessage({ t: "stop" });
      });
      assert.deepEqual(reply, { t: "stopped" });
    } finally {
      worker.terminate();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
