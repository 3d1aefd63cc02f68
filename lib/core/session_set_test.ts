import { strict as assert } from "node:assert";
import { REJECT_AFTER_TIME_MS } from "./constants.ts";
import { testSession } from "./_fixture.ts";
import { SessionSet } from "./session_set.ts";

const session = testSession;

Deno.test("SessionSet: install shifts current to previous and retires the older one", () => {
  const retired: number[] = [];
  const set = new SessionSet((s) => void retired.push(s.localIndex));
  set.install(session(1, 0));
  set.install(session(2, 10));
  set.install(session(3, 20));
  assert.equal(set.current?.localIndex, 3);
  assert.equal(set.previous?.localIndex, 2);
  assert.deepEqual(retired, [1]);
});

Deno.test("SessionSet: a confirmed next becomes current; a second next replaces the first", () => {
  const retired: number[] = [];
  const set = new SessionSet((s) => void retired.push(s.localIndex));
  set.install(session(1, 0));
  set.setNext(session(2, 5, false));
  set.setNext(session(3, 6, false));
  assert.deepEqual(retired, [2]);
  const confirmed = set.confirmNext();
  assert.equal(confirmed.localIndex, 3);
  assert.equal(confirmed.confirmed, true);
  assert.equal(set.current, confirmed);
  assert.equal(set.previous?.localIndex, 1);
  assert.equal(set.next, undefined);
});

Deno.test("SessionSet: expire retires sessions older than REJECT_AFTER_TIME_MS only", () => {
  const retired: number[] = [];
  const set = new SessionSet((s) => void retired.push(s.localIndex));
  set.install(session(1, 0));
  set.install(session(2, 100_000));
  set.expire(REJECT_AFTER_TIME_MS);
  assert.deepEqual(retired, [1]);
  assert.equal(set.previous, undefined);
  assert.equal(set.current?.localIndex, 2);
  set.clear();
  assert.deepEqual(retired, [1, 2]);
  assert.equal(set.current, undefined);
});
