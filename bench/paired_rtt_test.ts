import assert from "node:assert/strict";
import { renderPaired, roundRatio, summarizePaired } from "./paired_rtt.ts";

Deno.test("paired: the ratio is of overheads above the veth, per round", () => {
  const near = (x: number | null, y: number) => x !== null && Math.abs(x - y) < 1e-9;
  assert.ok(near(roundRatio({ vethMs: 0.05, wireguardGoMs: 0.25, centipedeMs: 0.15 }), 0.5));
  assert.equal(roundRatio({ vethMs: 0.05, wireguardGoMs: null, centipedeMs: 0.15 }), null);
  assert.equal(roundRatio({ vethMs: null, wireguardGoMs: 0.2, centipedeMs: 0.15 }), null);
  // wireguard-go no slower than the veth: no ratio rather than a division by zero or a sign flip
  assert.equal(roundRatio({ vethMs: 0.05, wireguardGoMs: 0.05, centipedeMs: 0.15 }), null);
  assert.equal(roundRatio({ vethMs: 0.06, wireguardGoMs: 0.05, centipedeMs: 0.15 }), null);
});

Deno.test("paired: medians over rounds, ratio per round rather than of medians", () => {
  const s = summarizePaired([
    { vethMs: 0.04, wireguardGoMs: 0.24, centipedeMs: 0.14 }, // 0.5
    { vethMs: 0.04, wireguardGoMs: 0.44, centipedeMs: 0.44 }, // 1.0
    { vethMs: 0.04, wireguardGoMs: 0.14, centipedeMs: 0.09 }, // 0.5
    { vethMs: 0.04, wireguardGoMs: null, centipedeMs: 0.3 }, // no ratio
  ]);
  assert.equal(s.rounds, 4);
  assert.equal(s.overheadRatio?.n, 3);
  assert.ok(Math.abs(s.overheadRatio!.median - 0.5) < 1e-9);
  assert.ok(Math.abs(s.overheadRatio!.max - 1) < 1e-9);
  assert.equal(s.wireguardGoMs?.n, 3);
  assert.ok(Math.abs(s.centipedeOverheadMs!.median - 0.18) < 1e-9);
  const md = renderPaired(s, 100);
  assert.match(md, /Paired ping at rest \(4 rounds\)/);
  assert.match(
    md,
    /\| overhead centipede \/ wireguard-go, per round \| \| \| 0\.500× \(0\.500–1\.00×\) \|/,
  );
  assert.match(
    md,
    /\| ping RTT at rest \(ms\) \| 0\.040 \(0\.040–0\.040\) \| 0\.240 \(0\.140–0\.440\) n=3 \|/,
  );
});

Deno.test("paired: a confidence interval for the median ratio from 6 rounds on", () => {
  const round = (ratio: number) => ({
    vethMs: 0.04,
    wireguardGoMs: 0.44,
    centipedeMs: 0.04 + 0.4 * ratio,
  });
  const four = summarizePaired([0.5, 0.4, 0.6, 0.45].map(round));
  assert.equal(four.overheadRatioInterval, null);
  assert.match(renderPaired(four, 100), /median of that ratio, confidence interval \| \| \| — \|/);
  // ten rounds: the 2nd smallest and 2nd largest ratio, at 97.8 % (1 - 2 * 11/1024)
  const ten = summarizePaired(
    [0.61, 0.42, 0.5, 0.47, 0.55, 0.38, 0.52, 0.49, 0.58, 0.9].map(round),
  );
  const ci = ten.overheadRatioInterval!;
  assert.ok(Math.abs(ci.low - 0.42) < 1e-9 && Math.abs(ci.high - 0.61) < 1e-9);
  assert.match(
    renderPaired(ten, 100),
    /\| median of that ratio, confidence interval \| \| \| 0\.420–0\.610× \(97\.8 %\) \|/,
  );
});

Deno.test("paired: no rounds renders dashes, not NaN", () => {
  const md = renderPaired(summarizePaired([]), 100);
  assert.doesNotMatch(md, /NaN|undefined/);
  assert.match(md, /per round \| \| \| — \|/);
});
