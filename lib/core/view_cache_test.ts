import assert from "node:assert/strict";
import { ViewCache } from "./view_cache.ts";

Deno.test("ViewCache returns the same view for the same place and a new one elsewhere", () => {
  const cache = new ViewCache();
  const buf = new Uint8Array([0, 1, 2, 3, 4, 5, 6, 7]);
  const first = cache.view(buf, 2, 3);
  assert.deepEqual([...first], [2, 3, 4]);
  assert.equal(cache.view(buf, 2, 3), first, "reused");
  const other = cache.view(buf, 2, 4);
  assert.notEqual(other, first);
  assert.deepEqual([...other], [2, 3, 4, 5]);
  assert.deepEqual([...cache.view(buf, 0, 2)], [0, 1]);
  const sub = buf.subarray(4);
  assert.deepEqual([...cache.view(sub, 1, 2)], [5, 6], "offsets are relative to the view given");
});
