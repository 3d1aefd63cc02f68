import assert from "node:assert/strict";
import { fixtureResult } from "./_result_fixture.ts";
import {
  eventLine,
  eventSummary,
  fmt,
  resultJson,
  summaryLines,
  tableHeader,
  tableRow,
} from "./report.ts";

Deno.test("report: header and rows line up, column separators in the same places", () => {
  const r = fixtureResult();
  const [top, bottom] = tableHeader(r.scenario);
  assert.match(top, /\| ping +\| {2}TCP +\| wifi +\| cell \(backup\)$/);
  assert.match(
    bottom,
    /^ {3}t \| sent recv lost {4}rtt ms \| Mbit\/s \| state +rtt Mbit\/s first {2}dup \|/,
  );
  const bars = (line: string) => [...line].flatMap((c, i) => (c === "|" ? [i] : []));
  for (const sample of r.samples) {
    const row = tableRow(r.scenario, sample);
    assert.deepEqual(bars(row), bars(bottom), row);
    assert.deepEqual(bars(top), bars(bottom), top);
  }
  const row1 = tableRow(r.scenario, r.samples[0]);
  assert.match(
    row1,
    /^ {2}1s \| {2}100 {2}100 {4}0 {6}0\.50 \| {4}4\.0 \| active +0\.4 +2\.3 +50% +3 \| active/,
  );
  // Second 3: no RTT, no TCP figure, wifi down by the lab (the star).
  const row3 = tableRow(r.scenario, r.samples[2]);
  assert.match(row3, /^ {2}3s \| {2}100 {3}98 {4}2 {9}- \| {6}- \| down\* +0\.4 +0\.0 +- +3 \|/);
});

Deno.test("report: event lines and the summary", () => {
  const r = fixtureResult();
  assert.equal(eventLine(r.events[0]), "  >> 2.0 s  Wi-Fi <lost> & gone: did down");
  assert.equal(
    eventLine(r.events[1]),
    "  >> 2.2 s  cell loss 1%: FAILED: iptables: permission denied",
  );
  assert.match(
    eventSummary(r.events[0]),
    /^ {2}2\.0 s {2}Wi-Fi <lost> & gone +outage +10 ms, 0\/500 pings lost; TCP 4\.0 -> 4\.0 Mbit\/s$/,
  );
  assert.match(eventSummary(r.events[1]), /FAILED: iptables: permission denied$/);
  assert.doesNotMatch(eventSummary(r.events[2]), /TCP/);
  const summary = summaryLines(r).join("\n");
  assert.match(
    summary,
    /^summary of fixture: 5 s, client mode adaptive, server mode adaptive, 2 path\(s\)\n/,
  );
  assert.match(
    summary,
    /ping: 500 sent, 498 answered, 2 lost \(0\.40%\), 0 duplicate replies, rtt avg 1\.23 ms/,
  );
  assert.match(summary, /TCP: 2\.5 MB received, 4\.0 Mbit\/s mean, data intact \(sha256\)/);
  assert.match(summary, /warning: event at 2\.2 s/);
  const interrupted = summaryLines({
    ...r,
    interrupted: true,
    tcp: { ...r.tcp!, intact: false, error: "sink died" },
  });
  assert.match(interrupted[0], /5 s \(interrupted\)/);
  assert.match(interrupted.join("\n"), /NOT intact: sink died/);
});

Deno.test("report: the JSON has everything, numbers rounded to 3 decimals", () => {
  const r = fixtureResult();
  const text = resultJson(r);
  assert.ok(text.endsWith("}\n"));
  const back = JSON.parse(text);
  assert.equal(back.schema, 1);
  assert.equal(back.samples.length, 5);
  assert.equal(back.events.length, 3);
  assert.equal(back.ping.rtt_avg_ms, 1.235);
  assert.equal(back.events[0].tcp_after_mbps, 3.988);
  assert.deepEqual(back.events[0].outage, { longest_gap_ms: 9.5, sent: 500, lost: 0 });
  assert.equal(back.scenario.paths[1].backup, true);
  assert.equal(back.samples[2].paths.wifi.link, "down");
});

Deno.test("report: fmt", () => {
  assert.equal(fmt(null), "-");
  assert.equal(fmt(undefined), "-");
  assert.equal(fmt(NaN), "-");
  assert.equal(fmt(1.26), "1.3");
  assert.equal(fmt(1.256, 2), "1.26");
});
