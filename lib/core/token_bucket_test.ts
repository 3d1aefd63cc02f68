import { strict as assert } from "node:assert";
import { TokenBucket } from "./token_bucket.ts";

Deno.test("TokenBucket allows the burst at once, then the rate", () => {
  const bucket = new TokenBucket(10, 3);
  const at0 = [0, 0, 0, 0].map(() => bucket.take(0));
  assert.deepEqual(at0, [true, true, true, false]);
  assert.equal(bucket.take(50), false, "half a token after 50 ms");
  assert.equal(bucket.take(100), true, "one token after 100 ms");
  let granted = 0;
  for (let t = 100; t <= 10_100; t++) if (bucket.take(t)) granted++;
  assert.ok(granted >= 99 && granted <= 103, `granted ${granted} in 10 s at 10/s`);
});
