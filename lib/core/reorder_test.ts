import { strict as assert } from "node:assert";
import { ReorderBuffer } from "./reorder.ts";
import { ReplayWindow } from "./replay.ts";

function setup() {
  const window = new ReplayWindow();
  const buffer = new ReorderBuffer(window);
  buffer.waitMs = 20;
  const out: number[] = [];
  const deliver = (p: Uint8Array) => void out.push(p[0]);
  const arrive = (counter: number, now: number, sequenced = true, control = false) => {
    assert.ok(window.accept(counter));
    buffer.push(counter, control ? undefined : new Uint8Array([counter]), sequenced, now, deliver);
  };
  return { buffer, out, deliver, arrive };
}

Deno.test("ReorderBuffer releases striped packets in counter order", () => {
  const { out, arrive } = setup();
  for (const c of [0, 2, 1, 4, 3, 5]) arrive(c, 0);
  assert.deepEqual(out, [0, 1, 2, 3, 4, 5]);
});

Deno.test("ReorderBuffer skips a lost counter after waitMs, not before", () => {
  const { buffer, out, deliver, arrive } = setup();
  arrive(0, 0);
  arrive(2, 1);
  arrive(3, 2);
  assert.deepEqual(out, [0]);
  assert.equal(buffer.nextDeadline(), 21);
  buffer.handleTimeout(20, deliver);
  assert.deepEqual(out, [0]);
  buffer.handleTimeout(21, deliver);
  assert.deepEqual(out, [0, 2, 3]);
  assert.equal(buffer.skippedGaps, 1);
  arrive(1, 30); // the late packet is still delivered, once
  assert.deepEqual(out, [0, 2, 3, 1]);
});

Deno.test("ReorderBuffer steps over control frames and unsequenced packets", () => {
  const { out, arrive } = setup();
  arrive(0, 0);
  arrive(2, 0);
  arrive(1, 0, false, true); // a probe fills the gap
  arrive(4, 0);
  arrive(3, 0, false); // a duplicated (unsequenced) packet: delivered at once
  assert.deepEqual(out, [0, 2, 3, 4]);
});

Deno.test("ReorderBuffer holds at most MAX_REORDER_PACKETS, then skips the gap in order", () => {
  const window = new ReplayWindow();
  const buffer = new ReorderBuffer(window);
  buffer.waitMs = 50;
  const out: number[] = [];
  const deliver = (p: Uint8Array) => void out.push(p[0] | (p[1] << 8));
  for (const c of [0, ...Array.from({ length: 1500 }, (_, i) => i + 2)]) {
    window.accept(c);
    buffer.push(c, new Uint8Array([c & 0xff, c >> 8]), true, 0, deliver);
    assert.ok(buffer.size <= 1024, `held ${buffer.size}`);
  }
  // The gap at 1 was skipped when the buffer overflowed; everything after it then flowed.
  assert.equal(out.length, 1501);
  assert.equal(buffer.skippedGaps, 1);
  for (let i = 1; i < out.length; i++) assert.ok(out[i] > out[i - 1], "in order");
});
