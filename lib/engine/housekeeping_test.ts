import { strict as assert } from "node:assert";
import { newDropCounters } from "../core/drops.ts";
import { Housekeeping, HOUSEKEEPING_INTERVAL_MS, wallMinusMonotonicMs } from "./housekeeping.ts";

Deno.test("housekeeping: hands the core the wall clock and logs each interval's drops", () => {
  const drops = newDropCounters();
  const clocks: number[] = [];
  const lines: string[] = [];
  let folds = 0;
  const chores = new Housekeeping(
    { drops, setWallClock: (offset) => void clocks.push(offset) },
    { info: (line) => void lines.push(line), debug() {} },
    () => void folds++,
  );
  drops.authFailed = 2; // before the first round: counted as of the start
  chores.start();
  chores.stop();
  chores.run(1.7e12);
  assert.deepEqual(clocks, [1.7e12]);
  assert.deepEqual(lines, [], "nothing dropped since the start");
  drops.authFailed += 3;
  drops.duplicate += 40; // the price of multipath, not logged
  drops.noRoute += 1;
  chores.run(1.7e12 + 5);
  assert.deepEqual(lines, [
    `dropped in the last ${HOUSEKEEPING_INTERVAL_MS / 1000} s: authFailed 3, noRoute 1`,
  ]);
  chores.run(1.7e12 + 5);
  assert.equal(lines.length, 1, "no new drops, no line");
  assert.equal(folds, 3, "the fold runs before every round");
  assert.deepEqual(clocks, [1.7e12, 1.7e12 + 5, 1.7e12 + 5]);
});

Deno.test("housekeeping: a core without a wall clock (a lane) is only logged", () => {
  const drops = newDropCounters();
  const lines: string[] = [];
  const chores = new Housekeeping({ drops }, { info: (l) => void lines.push(l), debug() {} });
  drops.tooOld = 1;
  chores.run(0);
  assert.equal(lines.length, 1);
});

Deno.test("housekeeping: wall minus monotonic is the epoch of the monotonic clock", () => {
  const offset = wallMinusMonotonicMs();
  assert.ok(Math.abs(offset + performance.now() - Date.now()) < 50);
  assert.ok(Math.abs(offset - performance.timeOrigin) < 1_000, "about when the process started");
});
