import assert from "node:assert/strict";
import { errno, libc } from "./libc.ts";

const EBADF = 9;
const EINVAL = 22;

Deno.test("errno reads this thread's errno after each failing call", () => {
  const lib = libc();
  assert.equal(lib.read(-1, 0n, 0n), -1);
  assert.equal(errno(), EBADF);
  assert.equal(lib.eventfd(0, -1), -1); // no such flags
  assert.equal(errno(), EINVAL);
  assert.equal(lib.write(-1, 0n, 0n), -1);
  assert.equal(errno(), EBADF);
});
