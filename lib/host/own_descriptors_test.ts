import assert from "node:assert/strict";
import { ownDescriptors } from "./own_descriptors.ts";

Deno.test("ownDescriptors: lists a file this process opened, and drops it once closed", async () => {
  const path = await Deno.makeTempFile();
  const file = Deno.openSync(path);
  try {
    const mine = ownDescriptors().filter((d) => d.target === path);
    assert.equal(mine.length, 1, "the open file, once");
    assert.ok(mine[0].fd > 2, `a descriptor of its own, got ${mine[0].fd}`);
  } finally {
    file.close();
  }
  assert.equal(ownDescriptors().some((d) => d.target === path), false, "closed: gone");
  await Deno.remove(path);
});
