import assert from "node:assert/strict";
import { HookError, ipLink, runHook } from "./ip_link.ts";

Deno.test("exists is true for lo and false for a missing interface", async () => {
  assert.equal(await ipLink.exists("lo"), true);
  assert.equal(await ipLink.exists("cpffi-none0"), false);
});

Deno.test("runHook replaces every %i and runs the command with bash", async () => {
  const dir = await Deno.makeTempDir({ prefix: "cpffi-hook-" });
  try {
    await runHook(`echo "%i and %i" > ${dir}/out; [[ -s ${dir}/out ]]`, "wg7");
    assert.equal(await Deno.readTextFile(`${dir}/out`), "wg7 and wg7\n");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a failing hook throws a HookError with its exit code", async () => {
  await assert.rejects(runHook("echo failing %i >&2; exit 3", "wg7"), (error) => {
    assert.ok(error instanceof HookError);
    assert.equal(error.code, 3);
    assert.equal(error.command, "echo failing wg7 >&2; exit 3");
    assert.match(error.message, /exit code 3/);
    return true;
  });
});
