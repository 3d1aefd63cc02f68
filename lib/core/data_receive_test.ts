import { strict as assert } from "node:assert";
import { testSession } from "./_fixture.ts";
import { AllowedIps } from "./allowed_ips.ts";
import {
  DATA_HEADER_BYTES,
  FLAG_SEQUENCED,
  REJECT_AFTER_MESSAGES,
  REJECT_AFTER_TIME_MS,
  REPLAY_WINDOW_PACKETS,
} from "./constants.ts";
import { admitInner, checkCounter, deliverInner, DROPPED, DUPLICATE } from "./data_receive.ts";
import { newDropCounters } from "./drops.ts";
import { writeDataHeader } from "./wire.ts";

const session = (now = 0) => testSession(2, now);

/** A data message around an IPv4 packet from `src` (20-byte header, `extra` bytes after it). */
function message(counter: number, src: number[], flags = 0, extra = 8): Uint8Array {
  const buf = new Uint8Array(DATA_HEADER_BYTES + 20 + extra + 16);
  writeDataHeader(buf, 2, counter, flags);
  const ip = DATA_HEADER_BYTES;
  buf[ip] = 0x45;
  buf[ip + 3] = 20 + extra; // total length
  buf.set(src, ip + 12);
  buf.set([10, 0, 0, 1], ip + 16);
  return buf;
}

Deno.test("checkCounter: fresh, duplicate, too old, too large, expired session", () => {
  const s = session(0);
  const drops = newDropCounters();
  assert.equal(checkCounter(message(7, [10, 0, 0, 2]), s, 10, drops), 7);
  s.replay.accept(7);
  assert.equal(checkCounter(message(7, [10, 0, 0, 2]), s, 10, drops), DUPLICATE);
  s.replay.accept(REPLAY_WINDOW_PACKETS + 100);
  assert.equal(checkCounter(message(8, [10, 0, 0, 2]), s, 10, drops), DROPPED);
  assert.equal(drops.tooOld, 1);
  const huge = message(0, [10, 0, 0, 2]);
  writeDataHeader(huge, 2, REJECT_AFTER_MESSAGES, 0);
  assert.equal(checkCounter(huge, s, 10, drops), DROPPED);
  assert.equal(drops.counterTooLarge, 1);
  const fresh = REPLAY_WINDOW_PACKETS + 101;
  assert.equal(
    checkCounter(message(fresh, [10, 0, 0, 2]), s, REJECT_AFTER_TIME_MS, drops),
    DROPPED,
  );
  assert.equal(drops.sessionExpired, 1);
  assert.equal(drops.duplicate, 0, "duplicates are the caller's to count");
});

Deno.test("admitInner: the owner's source passes with its declared length; others are dropped", () => {
  const s = session();
  const drops = newDropCounters();
  const allowed = new AllowedIps<string>();
  allowed.insert(new Uint8Array([10, 0, 0, 2]), 32, "peer");
  const delivered: number[] = [];
  const deliver = (p: Uint8Array) => void delivered.push(p.length);
  const ok = message(0, [10, 0, 0, 2], 0, 12);
  assert.equal(admitInner(ok, 20 + 12, "peer", allowed, drops, s, 0, 0, deliver), 32);
  const foreign = message(1, [10, 0, 0, 9]);
  assert.equal(admitInner(foreign, 28, "peer", allowed, drops, s, 1, 0, deliver), -1);
  assert.equal(drops.sourceNotAllowed, 1);
  const notIp = message(2, [10, 0, 0, 2]);
  notIp[DATA_HEADER_BYTES] = 0x15;
  assert.equal(admitInner(notIp, 28, "peer", allowed, drops, s, 2, 0, deliver), -1);
  assert.equal(drops.badInnerPacket, 1);
  assert.deepEqual(delivered, [], "nothing delivered by the checks");
});

Deno.test("deliverInner: unsequenced at once; sequenced in counter order; dropped ones not waited for", () => {
  const s = session();
  const out: number[] = [];
  const output = {
    transmit: () => {},
    deliver: (buf: Uint8Array, at: number) => void out.push(buf[at + 19]), // last byte of dst
  };
  const deliver = (p: Uint8Array) => void out.push(p[19]);
  const allowed = new AllowedIps<string>();
  allowed.insert(new Uint8Array([10, 0, 0, 0]), 24, "peer");
  const drops = newDropCounters();
  // As on the way in: each counter is accepted by the replay window before these steps.
  const packet = (counter: number, flags: number) => {
    s.replay.accept(counter);
    const m = message(counter, [10, 0, 0, 2], flags);
    m[DATA_HEADER_BYTES + 19] = 100 + counter; // tells the packets apart
    return m;
  };
  deliverInner(packet(0, 0), 28, s, 0, 0, output, deliver);
  assert.deepEqual(out, [100]);
  // Striped: 3 arrives before 1 and 2; 2 turns out to come from a foreign source.
  deliverInner(packet(3, FLAG_SEQUENCED), 28, s, 3, 0, output, deliver);
  assert.deepEqual(out, [100], "3 waits for 1 and 2");
  deliverInner(packet(1, FLAG_SEQUENCED), 28, s, 1, 0, output, deliver);
  assert.deepEqual(out, [100, 101]);
  const foreign = message(2, [10, 9, 9, 9], FLAG_SEQUENCED);
  s.replay.accept(2);
  assert.equal(admitInner(foreign, 28, "peer", allowed, drops, s, 2, 0, deliver), -1);
  assert.deepEqual(out, [100, 101, 103], "the held packet goes once 2 is known to be dropped");
});
