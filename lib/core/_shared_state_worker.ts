/**
 * Test helper (shared_state_test.ts): a worker that hammers a shared replay window or send
 * counter, starting when all workers of the test are ready, and reports what it got.
 * - `{ kind: "replay", memory, counters }` -> the counters `accept` returned true for;
 * - `{ kind: "counter", memory, takes }` -> the numbers `take` returned.
 * @module
 */
import { ReplayWindow } from "./replay.ts";
import { SharedCounter } from "./shared_counter.ts";

type Task =
  & { gate: SharedArrayBuffer; workers: number }
  & (
    | { kind: "replay"; memory: SharedArrayBuffer; counters: Float64Array }
    | { kind: "counter"; memory: SharedArrayBuffer; takes: number }
  );

const scope = self as unknown as {
  onmessage: ((event: MessageEvent<Task>) => void) | null;
  postMessage(message: Float64Array): void;
};

scope.onmessage = ({ data }) => {
  // Start together: each arrives at the gate and waits for the others.
  const gate = new Int32Array(data.gate);
  Atomics.add(gate, 0, 1);
  while (Atomics.load(gate, 0) < data.workers) Atomics.wait(gate, 0, Atomics.load(gate, 0), 1);
  if (data.kind === "replay") {
    const window = new ReplayWindow(data.memory);
    const accepted: number[] = [];
    for (const c of data.counters) if (window.accept(c)) accepted.push(c);
    return scope.postMessage(Float64Array.from(accepted));
  }
  const counter = new SharedCounter(data.memory);
  const taken = new Float64Array(data.takes);
  for (let i = 0; i < data.takes; i++) taken[i] = counter.take();
  scope.postMessage(taken);
};
