import assert from "node:assert/strict";
import { fixtureResult } from "./_result_fixture.ts";
import {
  escapeXml,
  groupMarkers,
  niceScale,
  renderChart,
  resultChart,
  timeStep,
} from "./svg_chart.ts";

/**
 * A strict little XML check: every tag is well formed with quoted attributes, tags nest and close
 * in order, and text and attribute values contain no raw `<` or unescaped `&`.
 */
function assertWellFormed(xml: string): void {
  const stack: string[] = [];
  const token =
    /<(\/?)([A-Za-z][\w:-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>|<|&(?!(?:lt|gt|amp|quot|apos|#\d+);)/g;
  let m: RegExpExecArray | null;
  let last = 0;
  while ((m = token.exec(xml)) !== null) {
    if (m[2] === undefined) {
      const context = xml.slice(Math.max(0, m.index - 40), m.index + 40);
      throw new Error(`stray ${m[0]} at ${m.index}: ${context}`);
    }
    last = m.index;
    const [, closing, name, , selfClosing] = m;
    if (closing) {
      assert.equal(stack.pop(), name, `</${name}> at ${m.index} closes the wrong element`);
    } else if (!selfClosing) {
      stack.push(name);
    }
  }
  assert.deepEqual(stack, [], `unclosed elements (last tag at ${last})`);
}

Deno.test("svg: the chart of a run is well-formed, with a polyline per series and the events", () => {
  const r = fixtureResult();
  const spec = resultChart(r);
  const svg = renderChart(spec);
  assertWellFormed(svg);
  assert.ok(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"'));
  assert.ok(svg.trimEnd().endsWith("</svg>"));
  assert.deepEqual(spec.panels.map((p) => p.title), ["Throughput", "Round-trip time", "Ping"]);
  const names = spec.panels.flatMap((p) => p.series.map((s) => s.name));
  assert.deepEqual(names, [
    "wifi sent",
    "cell sent",
    "TCP received",
    "wifi rtt",
    "cell rtt",
    "ping rtt",
    "ping lost",
  ]);
  for (const name of names) {
    assert.ok(svg.includes(`<polyline class="series" data-series="${name}" points="`), name);
  }
  // Null values break a line: the TCP and ping RTT series have no value in second 3.
  const tcp = svg.match(/data-series="TCP received"/g) ?? [];
  assert.equal(tcp.length, 2);
  // Events: 2 and 2.2 s share a marker; 4 s has its own. Labels are escaped.
  const events = [...svg.matchAll(/<g class="event" data-t="([\d.]+)">/g)].map((x) => Number(x[1]));
  assert.deepEqual(events, [2.01, 4.01]);
  assert.ok(svg.includes("Wi-Fi &lt;lost&gt; &amp; gone + cell loss 1%"));
  assert.ok(svg.includes(">wifi up</text>"));
  assert.ok(svg.includes("A &lt;test&gt; &amp; its &quot;chart&quot;"));
  // Every polyline stays inside the drawing.
  for (const m of svg.matchAll(/points="([^"]*)"/g)) {
    for (const pair of m[1].split(" ")) {
      const [x, y] = pair.split(",").map(Number);
      assert.ok(x >= 0 && x <= 960 && y >= 0, `point ${pair}`);
    }
  }
});

Deno.test("svg: an empty run still draws", () => {
  const r = { ...fixtureResult(), samples: [], events: [], seconds: 0 };
  const svg = renderChart(resultChart(r));
  assertWellFormed(svg);
  assert.ok(!svg.includes("<polyline"));
});

Deno.test("svg: helpers", () => {
  assert.equal(escapeXml(`<a & "b" 'c'>`), "&lt;a &amp; &quot;b&quot; &apos;c&apos;&gt;");
  assert.deepEqual(niceScale(0), { max: 1, step: 0.2 });
  assert.deepEqual(niceScale(3.7), { max: 5, step: 1 });
  assert.deepEqual(niceScale(38), { max: 50, step: 10 });
  assert.deepEqual(niceScale(120), { max: 200, step: 50 });
  assert.deepEqual(niceScale(0.2), { max: 0.2, step: 0.05 });
  assert.equal(timeStep(10), 1);
  assert.equal(timeStep(30), 5);
  assert.equal(timeStep(600), 60);
  assert.deepEqual(
    groupMarkers([{ t: 3, label: "b" }, { t: 1, label: "a" }, { t: 3.4, label: "c" }]),
    [
      { t: 1, label: "a" },
      { t: 3, label: "b + c" },
    ],
  );
});
