/**
 * TUN end to end. Needs root: it creates a network namespace `cpffi-<random>`, runs
 * `_tun_linux_check.ts` inside it in a child Deno (so this process's namespace is untouched),
 * and deletes the namespace afterwards.
 * @module
 */

import assert from "node:assert/strict";

const CHECK_SCRIPT = new URL("./_tun_linux_check.ts", import.meta.url).pathname;
const OFFLOAD_SCRIPT = new URL("./_tun_offload_check.ts", import.meta.url).pathname;
const REPO_ROOT = new URL("../", import.meta.url).pathname;
const CHILD_TIMEOUT_MS = 60_000;
const decoder = new TextDecoder();

/** Runs `ip ARGS`; throws with its stderr when it fails. */
async function ip(...args: string[]): Promise<void> {
  const output = await new Deno.Command("ip", { args, stdin: "null" }).output();
  if (!output.success) {
    throw new Error(`ip ${args.join(" ")} failed: ${decoder.decode(output.stderr)}`);
  }
}

/** A namespace name that no other run uses: `cpffi-` and 8 random hex digits. */
function namespaceName(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(4));
  return "cpffi-" + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Runs a check script in `ns`; kills it (by its PID) if it outlives the timeout. */
async function runCheckIn(ns: string, script: string): Promise<Deno.CommandOutput> {
  const child = new Deno.Command("ip", {
    args: ["netns", "exec", ns, Deno.execPath(), "run", "-A", "--unstable-net", script],
    cwd: REPO_ROOT,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const timer = setTimeout(() => child.kill("SIGKILL"), CHILD_TIMEOUT_MS);
  try {
    return await child.output();
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Runs `script` in a fresh namespace (as root) and checks that it exits 0 and prints `passed`;
 * returns its last line. The namespace is deleted afterwards.
 */
async function checkInFreshNamespace(script: string, passed: RegExp): Promise<string> {
  if (Deno.uid() !== 0) {
    throw new Error(
      "ROOT REQUIRED: ffi/tun_linux_test.ts creates a network namespace and a TUN device. " +
        "Run it as root (e.g. `sudo deno test -A ffi/tun_linux_test.ts`).",
    );
  }
  const ns = namespaceName();
  await ip("netns", "add", ns);
  try {
    await ip("-n", ns, "link", "set", "dev", "lo", "up");
    const output = await runCheckIn(ns, script);
    const log = decoder.decode(output.stdout) + decoder.decode(output.stderr);
    assert.equal(output.code, 0, `${script} inside ${ns} failed:\n${log}`);
    assert.match(log, passed);
    return log.trim().split("\n").at(-1) ?? "";
  } finally {
    await ip("netns", "del", ns);
  }
}

Deno.test("TUN: open, configure, read, write and close in a fresh network namespace", async () => {
  await checkInFreshNamespace(CHECK_SCRIPT, /tun checks passed/);
});

Deno.test("TUN offloads: the kernel's TCP super-packets are cut, joined ones are taken", async () => {
  console.log(await checkInFreshNamespace(OFFLOAD_SCRIPT, /tun offload checks passed/));
});
