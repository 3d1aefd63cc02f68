/**
 * The session state data plane workers share, used from real worker threads at once: two
 * threads opening copies of the same packets accept each counter once, and two threads sealing
 * packets of one session never use a counter twice.
 */
import { strict as assert } from "node:assert";
import { ReplayWindow } from "./replay.ts";
import { SharedCounter } from "./shared_counter.ts";
import { SeededRng } from "../../tests/_packets.ts";

/** Runs `tasks` in one worker each, all at once; resolves with what each reported. */
async function inWorkers(tasks: readonly object[]): Promise<Float64Array[]> {
  const gate = new SharedArrayBuffer(4);
  const workers = tasks.map(() =>
    new Worker(new URL("./_shared_state_worker.ts", import.meta.url), { type: "module" })
  );
  try {
    return await Promise.all(
      workers.map((worker, i) =>
        new Promise<Float64Array>((resolve, reject) => {
          worker.onmessage = (event) => resolve(event.data);
          worker.onerror = (event) => reject(new Error(event.message));
          worker.postMessage({ ...tasks[i], gate, workers: tasks.length });
        })
      ),
    );
  } finally {
    for (const worker of workers) worker.terminate();
  }
}

/** 0..count-1, each block of 64 shuffled (reordering within the window as multipath does). */
function nearlyInOrder(count: number, rng: SeededRng): Float64Array {
  const counters = Float64Array.from({ length: count }, (_, i) => i);
  for (let block = 0; block < count; block += 64) {
    for (let i = Math.min(block + 63, count - 1); i > block; i--) {
      const j = block + rng.int(i - block + 1);
      [counters[i], counters[j]] = [counters[j], counters[i]];
    }
  }
  return counters;
}

Deno.test("a shared replay window accepts each counter once when two threads open every copy", async () => {
  const count = 300_000;
  const window = new ReplayWindow();
  const rng = new SeededRng(7);
  const [a, b] = await inWorkers([
    { kind: "replay", memory: window.memory, counters: nearlyInOrder(count, rng) },
    { kind: "replay", memory: window.memory, counters: nearlyInOrder(count, rng) },
  ]);
  assert.equal(a.length + b.length, count, "every counter accepted exactly once in all");
  const seen = new Uint8Array(count);
  for (const c of [...a, ...b]) seen[c]++;
  assert.ok(seen.every((n) => n === 1), "no counter accepted twice, none lost");
  assert.equal(window.top, count - 1);
});

Deno.test("a shared send counter hands every number out once across two threads", async () => {
  const takes = 200_000;
  const counter = new SharedCounter();
  const [a, b] = await inWorkers([
    { kind: "counter", memory: counter.memory, takes },
    { kind: "counter", memory: counter.memory, takes },
  ]);
  const seen = new Uint8Array(2 * takes);
  for (const n of [...a, ...b]) seen[n]++;
  assert.ok(seen.every((n) => n === 1), "0 .. 2*takes-1, each once");
  assert.equal(counter.value, 2 * takes);
});
