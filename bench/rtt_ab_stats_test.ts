/**
 * Unit tests of `bench/rtt_ab_stats.ts` and of the per-reply ping parser it is fed by.
 * @module
 */
import assert from "node:assert/strict";
import { parsePingTimes } from "./compare_parse.ts";
import { type AbRound, overheadOf, renderAb, roundRatio, summarizeAb } from "./rtt_ab_stats.ts";

const PING_LINES = `PING 10.214.0.2 (10.214.0.2) 56(84) bytes of data.
64 bytes from 10.214.0.2: icmp_seq=1 ttl=64 time=0.412 ms
64 bytes from 10.214.0.2: icmp_seq=2 ttl=64 time=0.25 ms
64 bytes from 10.214.0.2: icmp_seq=4 ttl=64 time=1.03 ms

--- 10.214.0.2 ping statistics ---
4 packets transmitted, 3 received, 25% packet loss, time 31ms
rtt min/avg/max/mdev = 0.250/0.564/1.030/0.336 ms
`;

Deno.test("parsePingTimes: one RTT per reply line, none from the summary", () => {
  assert.deepEqual(parsePingTimes(PING_LINES), [0.412, 0.25, 1.03]);
  assert.deepEqual(parsePingTimes("ping: connect: Network is unreachable\n"), []);
});

/** A round whose overheads (tunnel minus veth, exactly) are `a` and `b` ms. */
function round(half: 1 | 2, a: number, b: number): AbRound {
  const veth = [0.05, 0.06, 0.07];
  return {
    half,
    a: { tunnelMs: veth.map((v) => v + a), vethMs: veth },
    b: { tunnelMs: veth.map((v) => v + b), vethMs: veth },
  };
}

Deno.test("overheadOf and roundRatio: medians and means, null without replies", () => {
  const turn = { tunnelMs: [0.3, 0.2, 1.0], vethMs: [0.05, 0.1, 0.06] };
  const o = overheadOf(turn)!;
  assert.ok(Math.abs(o.median - (0.3 - 0.06)) < 1e-12);
  assert.ok(Math.abs(o.mean - (0.5 - 0.07)) < 1e-12);
  assert.equal(overheadOf({ tunnelMs: [], vethMs: [0.05] }), null);
  const r = roundRatio(round(1, 0.2, 0.1))!;
  assert.ok(Math.abs(r.median - 0.5) < 1e-9 && Math.abs(r.mean - 0.5) < 1e-9);
  assert.equal(roundRatio(round(1, 0, 0.1)), null, "no ratio over a zero overhead");
});

Deno.test("summarizeAb: each half's median ratio, and their geometric mean as the effect", () => {
  // Half 1: B in the slower slot (1.0, 1.1, 1.2 -> 1.1); half 2: B in the faster (0.9).
  const rounds = [
    round(1, 0.2, 0.2),
    round(1, 0.2, 0.22),
    round(1, 0.2, 0.24),
    round(2, 0.2, 0.18),
    round(2, 0.2, 0.18),
  ];
  const s = summarizeAb(rounds);
  assert.equal(s.halves[0].rounds, 3);
  assert.equal(s.halves[1].rounds, 2);
  assert.ok(Math.abs(s.halves[0].ratio! - 1.1) < 1e-9);
  assert.ok(Math.abs(s.halves[1].ratio! - 0.9) < 1e-9);
  assert.ok(Math.abs(s.halves[0].overheadBMs! - 0.22) < 1e-9);
  assert.ok(Math.abs(s.effect! - Math.sqrt(1.1 * 0.9)) < 1e-9);
  assert.equal(s.halves[0].ratioInterval, null, "no interval from 3 rounds");
  const many = Array.from({ length: 16 }, (_, i) => round(1, 0.2, 0.2 + i * 0.001));
  assert.ok(summarizeAb(many).halves[0].ratioInterval !== null);
  assert.equal(summarizeAb(many).effect, null, "no effect without a second half");
});

Deno.test("renderAb: both builds, a row per half and the effect", () => {
  const s = summarizeAb([round(1, 0.2, 0.2), round(2, 0.2, 0.18)]);
  const md = renderAb(s, { a: "main at abc1234", b: "other at def5678", pingsPerTurn: 200 });
  assert.match(md, /- A: main at abc1234\n- B: other at def5678/);
  assert.match(md, /\| 1 \(A first, B second\) \| 1 \| 0\.200 \| 0\.200 \| 1\.000× \|/);
  assert.match(md, /\| 2 \(B first, A second\) \| 1 \| 0\.200 \| 0\.180 \| 0\.900× \|/);
  assert.match(md, /\*\*Effect of B: 0\.949×\*\*/);
});
