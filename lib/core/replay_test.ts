import { strict as assert } from "node:assert";
import { REPLAY_WINDOW_PACKETS } from "./constants.ts";
import { Replay, ReplayWindow } from "./replay.ts";

Deno.test("ReplayWindow accepts each counter once, in any order inside the window", () => {
  const w = new ReplayWindow();
  const order = [0, 5, 3, 1, 2, 4, 100, 99, 6];
  for (const c of order) assert.equal(w.accept(c), true, `first ${c}`);
  for (const c of order) assert.equal(w.check(c), Replay.Duplicate, `again ${c}`);
  for (const c of order) assert.equal(w.accept(c), false);
  assert.equal(w.top, 100);
});

Deno.test("ReplayWindow rejects counters that fell behind the window", () => {
  const w = new ReplayWindow();
  w.accept(0);
  w.accept(REPLAY_WINDOW_PACKETS);
  assert.equal(w.check(0), Replay.TooOld);
  assert.equal(w.check(1), Replay.Fresh);
  assert.equal(w.accept(1), true);
  assert.equal(w.check(REPLAY_WINDOW_PACKETS - 1), Replay.Fresh);
});

Deno.test("ReplayWindow table: numbered cases (counter, expected accept) in sequence", () => {
  const cases: [number, boolean][] = [
    [0, true],
    [1, true],
    [1, false],
    [9, true],
    [8, true],
    [7, true],
    [7, false],
    [REPLAY_WINDOW_PACKETS + 10, true],
    [10, false],
    [11, true],
    [9, false],
    [2 ** 40, true],
    [2 ** 40 - 1, true],
    [2 ** 40 - REPLAY_WINDOW_PACKETS, false],
    [2 ** 40 - REPLAY_WINDOW_PACKETS + 1, true],
    [2 ** 40, false],
  ];
  const w = new ReplayWindow();
  cases.forEach(([counter, expected], i) => {
    assert.equal(w.accept(counter), expected, `case ${i}: counter ${counter}`);
  });
});

Deno.test("ReplayWindow: a jump clears stale bits so old slots are fresh again", () => {
  const w = new ReplayWindow();
  for (let c = 0; c < 1000; c++) w.accept(c);
  const jump = 1000 + REPLAY_WINDOW_PACKETS - 500;
  w.accept(jump);
  // Counters 1000..jump-1 share ring slots with 0..999 but were never seen.
  for (let c = 1000; c < 1100; c++) assert.equal(w.check(c), Replay.Fresh, `counter ${c}`);
  assert.equal(w.check(999), Replay.Duplicate);
  assert.equal(w.check(499), Replay.TooOld);
});

Deno.test("ReplayWindow matches a reference set under random reordering", () => {
  let seed = 42;
  const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const w = new ReplayWindow();
  const seen = new Set<number>();
  let top = -1;
  for (let i = 0; i < 20_000; i++) {
    const base = Math.max(0, top + Math.floor(rand() * 40) - 30);
    const c = rand() < 0.05 ? Math.max(0, top - REPLAY_WINDOW_PACKETS - 5) : base;
    const tooOld = top - c >= REPLAY_WINDOW_PACKETS;
    const expected = !tooOld && !seen.has(c);
    assert.equal(w.accept(c), expected, `step ${i} counter ${c} top ${top}`);
    if (expected) {
      seen.add(c);
      top = Math.max(top, c);
    }
  }
});

Deno.test("ReplayWindow bounds cross-path lag: copies later than the window are dropped, once", () => {
  // Two paths carry every counter; the slow one lags `lag` counters behind the fast one. The fast
  // path loses every 10th packet, which the slow copy must fill while it is inside the window.
  for (const lag of [100, REPLAY_WINDOW_PACKETS - 1, REPLAY_WINDOW_PACKETS + 500]) {
    const w = new ReplayWindow();
    const seen = new Set<number>();
    let delivered = 0;
    let late = 0;
    const total = REPLAY_WINDOW_PACKETS + 2_000;
    const arrive = (c: number) => {
      const verdict = w.check(c);
      if (verdict === Replay.Fresh && w.accept(c)) {
        assert.ok(!seen.has(c), `counter ${c} delivered twice`);
        seen.add(c);
        delivered++;
      }
      if (verdict === Replay.TooOld) late++;
    };
    for (let t = 0; t < total + lag; t++) {
      if (t < total && t % 10 !== 0) arrive(t); // fast path, with losses
      if (t >= lag) arrive(t - lag); // slow path
    }
    if (lag < REPLAY_WINDOW_PACKETS) {
      assert.equal(delivered, total, `lag ${lag}: every packet exactly once`);
      assert.equal(late, 0);
    } else {
      // Beyond the window most slow copies arrive too old: the fast path's losses before the
      // last window stay lost, and nothing is ever delivered twice.
      assert.ok(delivered < total, `lag ${lag}: ${delivered} of ${total}`);
      // Every counter more than a window behind the newest is refused: the first 2000 here.
      assert.equal(late, total - REPLAY_WINDOW_PACKETS, "late copies counted as too old");
    }
  }
});
