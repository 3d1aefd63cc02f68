import assert from "node:assert/strict";
import { ratiosOf } from "./paired_pool.ts";

Deno.test("paired_pool: the per-round ratios of a compare.json, none without paired rounds", () => {
  const rounds = [
    { vethMs: 0.04, wireguardGoMs: 0.44, centipedeMs: 0.24 }, // 0.5
    { vethMs: 0.04, wireguardGoMs: null, centipedeMs: 0.24 }, // no ratio
    { vethMs: 0.04, wireguardGoMs: 0.24, centipedeMs: 0.14 }, // 0.5
  ];
  const ratios = ratiosOf({ paired: { rounds } });
  assert.equal(ratios.length, 2);
  assert.ok(ratios.every((r) => Math.abs(r - 0.5) < 1e-9));
  assert.deepEqual(ratiosOf({ paired: null }), []);
  assert.deepEqual(ratiosOf({}), []);
});
