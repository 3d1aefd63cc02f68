import assert from "node:assert/strict";
import { V8_FLAGS_ARG } from "./v8_flags.ts";

Deno.test("v8 flags: the centipede and compile tasks pass the flags the lab and bench use", async () => {
  const config = JSON.parse(
    await Deno.readTextFile(new URL("../../deno.json", import.meta.url)),
  ) as { tasks: Record<string, string> };
  for (const task of ["centipede", "compile"]) {
    const words = config.tasks[task].split(/\s+/);
    assert.ok(words.includes(V8_FLAGS_ARG), `task ${task} lacks ${V8_FLAGS_ARG}`);
    assert.ok(
      words.indexOf(V8_FLAGS_ARG) < words.indexOf("main.ts"),
      `${task}: flag after main.ts`,
    );
  }
});
