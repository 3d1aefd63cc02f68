/**
 * `centipede lab` end to end on the real kernel: a 10 s duplicate-mode scenario with a path cut
 * and restored, run as a separate process (`main.ts lab --json --svg`). Checks the result JSON
 * (the cut costs no ping, the table has every second and both paths), the SVG, the terminal
 * output, and that no namespace is left behind. Root only: without root it fails loudly.
 * @module
 */
import assert from "node:assert/strict";
import type { LabResult } from "../../lib/lab/runner.ts";
import { centipedeArgv, listNamespaces, REPO_ROOT, requireRoot, run } from "./lab.ts";

const SCENARIO = `
name: cut
duration: 10
hosts:
  client: { mode: duplicate }
paths:
  - { name: wifi, rate: 20mbit }
  - { name: cell, rate: 20mbit }
traffic:
  ping: { hz: 100 }
  tcp: { rate: 2mbit }
timeline:
  - { at: 3, down: wifi, label: "Wi-Fi cut" }
  - { at: 6, up: wifi }
  - { at: 7, loss: { cell: 1 } }
`;

Deno.test("lab: `centipede lab` runs a scenario, writes JSON and SVG, leaves nothing behind", async () => {
  requireRoot("tests/netns/lab_scenario_test.ts");
  const dir = await Deno.makeTempDir({ prefix: "centipede-lab-test-" });
  try {
    const yaml = `${dir}/cut.yaml`;
    await Deno.writeTextFile(yaml, SCENARIO);
    const [json, svg] = [`${dir}/out/cut.json`, `${dir}/out/cut.svg`];
    await Deno.mkdir(`${dir}/out`);
    const r = await run(centipedeArgv("lab", "--json", json, "--svg", svg, yaml), {
      cwd: REPO_ROOT,
      timeoutMs: 120_000,
    });
    console.log(r.stdout);
    assert.equal(r.code, 0, `centipede lab exited with ${r.code}:\n${r.stderr}`);
    assert.match(r.stdout, /^ +t \| sent recv lost +rtt ms \| Mbit\/s \| state/m);
    assert.match(r.stdout, /^ +>> 3\.\d s {2}Wi-Fi cut: ip link set wifi down/m);
    assert.match(r.stdout, /^summary of cut: 10 s, client mode duplicate/m);
    assert.match(r.stdout, /^cleaned up: namespaces cp[0-9a-f]{4}\* deleted/m);

    const result = JSON.parse(await Deno.readTextFile(json)) as LabResult;
    assert.equal(result.schema, 1);
    assert.equal(result.interrupted, false);
    assert.deepEqual(result.samples.map((s) => s.t), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    for (const s of result.samples) {
      assert.deepEqual(Object.keys(s.paths), ["wifi", "cell"]);
      assert.ok(s.ping !== null && s.ping.sent > 50, `second ${s.t}: ${JSON.stringify(s.ping)}`);
      assert.ok(s.tcp_mbps !== null && s.tcp_mbps > 1, `second ${s.t}: TCP ${s.tcp_mbps}`);
    }
    assert.equal(result.samples[4].paths.wifi.link, "down");
    assert.ok(["down", "validating"].includes(result.samples[4].paths.wifi.state!));
    assert.equal(result.samples[4].paths.cell.state, "active");
    assert.equal(result.samples[9].paths.cell.loss_set, 1);

    assert.deepEqual(result.events.map((e) => [e.at, e.kind, e.error]), [
      [3, "down", null],
      [6, "up", null],
      [7, "loss", null],
    ]);
    const cut = result.events[0];
    assert.ok(cut.outage !== null);
    console.log(`FIGURE path cut in duplicate mode: ${JSON.stringify(cut.outage)}`);
    // Duplicate mode: every packet also went over cell, so the cut costs (about) nothing.
    assert.ok(cut.outage.sent > 300, `only ${cut.outage.sent} pings in the 5 s after the cut`);
    assert.ok(cut.outage.lost <= 2, `the cut lost ${cut.outage.lost} pings`);
    assert.ok(cut.outage.longest_gap_ms < 500, `a ${cut.outage.longest_gap_ms} ms gap`);
    assert.ok(cut.tcp_before_mbps !== null && cut.tcp_after_mbps !== null);
    assert.ok(result.ping !== null && result.ping.sent > 800 && result.ping.lost <= 10);
    assert.ok(result.tcp !== null && result.tcp.intact, JSON.stringify(result.tcp));

    const chart = await Deno.readTextFile(svg);
    assert.ok(chart.startsWith("<svg xmlns="));
    assert.ok(chart.includes('<polyline class="series" data-series="wifi sent"'));
    assert.ok(chart.includes(">Wi-Fi cut</text>"));

    const left = await listNamespaces();
    const ours = Object.values(result.namespaces).filter((n): n is string => n !== null);
    assert.equal(ours.length, 2);
    for (const ns of ours) assert.ok(!left.includes(ns), `namespace ${ns} left behind`);
    const id = ours[0].slice(0, -1);
    assert.deepEqual(left.filter((n) => n.startsWith(id)), []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("lab: a bad scenario is refused before anything is built (exit 1, field named)", async () => {
  requireRoot("tests/netns/lab_scenario_test.ts");
  const dir = await Deno.makeTempDir({ prefix: "centipede-lab-test-" });
  try {
    await Deno.writeTextFile(`${dir}/bad.yaml`, SCENARIO.replace("down: wifi", "down: wfi"));
    const r = await run(centipedeArgv("lab", `${dir}/bad.yaml`), { cwd: REPO_ROOT });
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      /bad\.yaml:13: timeline\[0\]\.down: unknown path "wfi" \(the paths are wifi, cell\)/,
    );
    assert.equal(r.stdout, "");
    const usage = await run(centipedeArgv("lab"), { cwd: REPO_ROOT });
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /lab takes one scenario file/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
