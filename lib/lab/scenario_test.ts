import assert from "node:assert/strict";
import { parseScenario, type Scenario, ScenarioError } from "./scenario.ts";

const MINIMAL = `
duration: 5
paths:
  - name: wifi
`;

const FULL = `
name: everything
description: all the keys
duration: 30
hosts:
  client: { mode: Adaptive, redundancy: 1, keepalive: 5 }
  server: { mode: failover }
  router: { nat: true }
paths:
  - name: wifi
    rate: 40mbit
    loss: 2.5
  - name: cell
    rate: 10Mbps
    loss: 5%
    backup: true
    priority: 3
traffic:
  ping: { hz: 50 }
  tcp: { rate: 4mbit }
timeline:
  - { at: 20, up: [wifi, cell] }
  - { at: 6, loss: { wifi: 15 }, label: fades }
  - { at: 6, rate: { cell: none } }
  - { at: 10, down: wifi }
  - { at: 12, nat: rebind }
  - { at: 14, reload: server }
  - { at: 16, reload: { host: client, via: command, mode: duplicate, redundancy: 2 } }
`;

Deno.test("scenario: a minimal file gets the defaults", () => {
  const s = parseScenario(MINIMAL, "dir/minimal.yaml");
  const expected: Scenario = {
    name: "minimal",
    description: "",
    duration: 5,
    client: { mode: "duplicate", redundancy: null, keepalive: 25 },
    server: { mode: "duplicate", redundancy: null, keepalive: null },
    router: null,
    paths: [{ name: "wifi", rate: null, loss: 0, backup: false, priority: 0 }],
    traffic: { ping: { hz: 100 }, tcp: null },
    timeline: [],
  };
  assert.deepEqual(s, expected);
});

Deno.test("scenario: every key, normalized and the timeline sorted", () => {
  const s = parseScenario(FULL, "full.yaml");
  assert.equal(s.name, "everything");
  assert.deepEqual(s.client, { mode: "adaptive", redundancy: 1, keepalive: 5 });
  assert.deepEqual(s.server, { mode: "failover", redundancy: null, keepalive: null });
  assert.deepEqual(s.router, { nat: true });
  assert.deepEqual(s.paths, [
    { name: "wifi", rate: "40mbit", loss: 2.5, backup: false, priority: 0 },
    { name: "cell", rate: "10mbit", loss: 5, backup: true, priority: 3 },
  ]);
  assert.deepEqual(s.traffic, { ping: { hz: 50 }, tcp: { rate: "4mbit" } });
  assert.deepEqual(s.timeline.map((e) => [e.at, e.kind, e.label]), [
    [6, "loss", "fades"],
    [6, "rate", "cell unlimited"],
    [10, "down", "wifi down"],
    [12, "rebind", "NAT rebind"],
    [14, "reload", "reload server"],
    [16, "reload", "reload client (duplicate)"],
    [20, "up", "wifi, cell up"],
  ]);
  assert.deepEqual(s.timeline[1], {
    kind: "rate",
    rates: { cell: null },
    at: 6,
    label: "cell unlimited",
  });
  assert.deepEqual(s.timeline[4], {
    kind: "reload",
    host: "server",
    via: "sighup",
    mode: null,
    redundancy: null,
    at: 14,
    label: "reload server",
  });
  assert.deepEqual(s.timeline[5], {
    kind: "reload",
    host: "client",
    via: "command",
    mode: "duplicate",
    redundancy: 2,
    at: 16,
    label: "reload client (duplicate)",
  });
});

Deno.test("scenario: the server inherits the client's mode; traffic switches", () => {
  const s = parseScenario(
    `duration: 5
hosts: { client: { mode: adaptive, redundancy: 2 } }
paths: [{ name: a }]
traffic: { ping: false, tcp: true }`,
    "x.yaml",
  );
  assert.deepEqual(s.server, { mode: "adaptive", redundancy: 2, keepalive: null });
  assert.deepEqual(s.traffic, { ping: null, tcp: { rate: null } });
});

Deno.test("scenario: the examples in examples/lab parse", async () => {
  const dir = new URL("../../examples/lab/", import.meta.url);
  let count = 0;
  for await (const entry of Deno.readDir(dir)) {
    if (!entry.name.endsWith(".yaml")) continue;
    const s = parseScenario(await Deno.readTextFile(new URL(entry.name, dir)), entry.name);
    assert.ok(s.duration >= 20 && s.duration <= 40, `${entry.name}: ${s.duration} s`);
    assert.ok(s.timeline.length > 0, entry.name);
    count++;
  }
  assert.ok(count >= 3, `only ${count} examples`);
});

/** A base that is valid; each case replaces one line or appends some. */
const BASE = `duration: 10
hosts:
  client: { mode: duplicate }
paths:
  - name: wifi
  - name: cell
timeline:
  - { at: 2, down: wifi }
`;

/** [what, YAML text, expected field, reason pattern, expected line (0 = not checked)]. */
const BAD: [string, string, string, RegExp, number][] = [
  ["unknown top key", BASE + "durtion: 4\n", "durtion", /unknown key; did you mean duration\?/, 9],
  ["missing duration", "paths: [{ name: a }]\n", "duration", /is required/, 0],
  [
    "duration 0",
    BASE.replace("duration: 10", "duration: 0"),
    "duration",
    /from 1 to 600, got 0/,
    1,
  ],
  ["duration text", BASE.replace("duration: 10", "duration: 10s"), "duration", /got "10s"/, 1],
  [
    "unknown host key",
    BASE.replace("{ mode: duplicate }", "{ mdoe: duplicate }"),
    "hosts.client.mdoe",
    /did you mean mode\?/,
    3,
  ],
  [
    "bad mode",
    BASE.replace("mode: duplicate", "mode: fastest"),
    "hosts.client.mode",
    /"fastest" is not duplicate, failover, aggregate or adaptive/,
    3,
  ],
  [
    "redundancy with failover",
    BASE.replace("mode: duplicate", "mode: failover, redundancy: 1"),
    "hosts.client.redundancy",
    /applies to mode duplicate or adaptive/,
    3,
  ],
  [
    "unknown host",
    BASE.replace("  client:", "  clinet:"),
    "hosts.clinet",
    /did you mean client\?/,
    3,
  ],
  [
    "router nat not boolean",
    BASE.replace("hosts:\n", "hosts:\n  router: { nat: yes please }\n"),
    "hosts.router.nat",
    /expected true or false/,
    3,
  ],
  ["no paths", "duration: 5\npaths: []\n", "paths", /1 to 8 paths, got 0/, 2],
  ["paths not a list", "duration: 5\npaths: wifi\n", "paths", /expected a list/, 2],
  [
    "path without name",
    BASE.replace("- name: cell", "- rate: 1mbit"),
    "paths[1].name",
    /is required/,
    6,
  ],
  [
    "bad path name",
    BASE.replace("name: cell", "name: Cell-1"),
    "paths[1].name",
    /"Cell-1" is not a path name/,
    6,
  ],
  [
    "reserved path name",
    BASE.replace("name: cell", "name: wan"),
    "paths[1].name",
    /not lo or wan/,
    6,
  ],
  [
    "path twice",
    BASE.replace("name: cell", "name: wifi"),
    "paths[1].name",
    /path wifi is listed twice/,
    6,
  ],
  [
    "bad rate",
    BASE.replace("- name: cell", "- { name: cell, rate: 20 }"),
    "paths[1].rate",
    /expected a rate .* got 20/,
    6,
  ],
  [
    "rate too low",
    BASE.replace("- name: cell", "- { name: cell, rate: 1kbit }"),
    "paths[1].rate",
    /from 8kbit to 10gbit/,
    6,
  ],
  [
    "loss too high",
    BASE.replace("- name: cell", "- { name: cell, loss: 150 }"),
    "paths[1].loss",
    /0 to 100 .* got 150/,
    6,
  ],
  [
    "backup not boolean",
    BASE.replace("- name: cell", "- { name: cell, backup: 1 }"),
    "paths[1].backup",
    /true or false/,
    6,
  ],
  [
    "priority out of range",
    BASE.replace("- name: cell", "- { name: cell, priority: 256 }"),
    "paths[1].priority",
    /0 to 255/,
    6,
  ],
  [
    "unknown path key",
    BASE.replace("- name: cell", "- { name: cell, lose: 3 }"),
    "paths[1].lose",
    /did you mean loss\?/,
    6,
  ],
  [
    "every path backup",
    BASE.replace("- name: wifi", "- { name: wifi, backup: true }").replace(
      "- name: cell",
      "- { name: cell, backup: true }",
    ),
    "paths",
    /every path is backup/,
    4,
  ],
  ["no traffic", BASE + "traffic: { ping: false }\n", "traffic", /needs ping, tcp or both/, 9],
  ["ping too fast", BASE + "traffic: { ping: { hz: 1000 } }\n", "traffic.ping.hz", /1 to 200/, 9],
  [
    "bad tcp rate",
    BASE + "traffic: { tcp: { rate: fast } }\n",
    "traffic.tcp.rate",
    /got "fast"/,
    9,
  ],
  ["event at the end", BASE.replace("at: 2", "at: 10"), "timeline[0].at", /not before the end/, 8],
  ["event without at", BASE.replace("at: 2, ", ""), "timeline[0].at", /is required/, 8],
  [
    "event without action",
    BASE.replace(", down: wifi", ""),
    "timeline[0]",
    /needs one of down, up, rate, loss, nat or reload/,
    8,
  ],
  [
    "two actions",
    BASE.replace("down: wifi", "down: wifi, up: cell"),
    "timeline[0]",
    /one action per event, got down and up/,
    8,
  ],
  [
    "unknown event key",
    BASE.replace("down: wifi", "dwn: wifi"),
    "timeline[0].dwn",
    /did you mean down\?/,
    8,
  ],
  [
    "unknown path in down",
    BASE.replace("down: wifi", "down: wfi"),
    "timeline[0].down",
    /unknown path "wfi" \(the paths are wifi, cell\); did you mean wifi\?/,
    8,
  ],
  [
    "unknown path in a list",
    BASE.replace("down: wifi", "up: [wifi, lte]"),
    "timeline[0].up[1]",
    /unknown path "lte"/,
    8,
  ],
  [
    "unknown path in rate",
    BASE.replace("down: wifi", "rate: { wfi: 1mbit }"),
    "timeline[0].rate.wfi",
    /did you mean wifi\?/,
    8,
  ],
  [
    "bad loss in event",
    BASE.replace("down: wifi", "loss: { wifi: -1 }"),
    "timeline[0].loss.wifi",
    /0 to 100/,
    8,
  ],
  [
    "rebind without NAT",
    BASE.replace("down: wifi", "nat: rebind"),
    "timeline[0].nat",
    /needs a NAT router/,
    8,
  ],
  [
    "nat but not rebind",
    BASE.replace("down: wifi", "nat: reboot"),
    "timeline[0].nat",
    /expected rebind/,
    8,
  ],
  [
    "reload of a bad host",
    BASE.replace("down: wifi", "reload: both"),
    "timeline[0].reload",
    /"both" is not client or server/,
    8,
  ],
  [
    "reload via",
    BASE.replace("down: wifi", "reload: { host: client, via: signal }"),
    "timeline[0].reload.via",
    /not sighup or command/,
    8,
  ],
  [
    "reload redundancy alone",
    BASE.replace("down: wifi", "reload: { host: client, redundancy: 1 }"),
    "timeline[0].reload.redundancy",
    /goes with mode/,
    8,
  ],
  [
    "timeline not a list",
    BASE.replace(/timeline:\n.*\n/, "timeline: { at: 1 }\n"),
    "timeline",
    /expected a list/,
    7,
  ],
  ["not a mapping", "- just\n- a list\n", "", /expected a mapping/, 0],
];

Deno.test("scenario: every bad field is named in the error, with its line", async (t) => {
  for (const [what, text, field, reason, line] of BAD) {
    await t.step(what, () => {
      let error: unknown;
      try {
        parseScenario(text, "bad.yaml");
      } catch (e) {
        error = e;
      }
      assert.ok(error instanceof ScenarioError, `${what}: no ScenarioError (${error})`);
      assert.equal(error.field, field, `${what}: ${error.message}`);
      assert.match(error.reason, reason, `${what}: ${error.message}`);
      if (line > 0) assert.equal(error.line, line, `${what}: ${error.message}`);
      const prefix = `bad.yaml${error.line > 0 ? `:${error.line}` : ""}: ${
        field === "" ? "" : `${field}: `
      }`;
      assert.ok(error.message.startsWith(prefix), error.message);
    });
  }
});

Deno.test("scenario: YAML syntax errors and repeated keys give the line", () => {
  for (
    const [text, line] of [["duration: 5\npaths: [\n", 3], [
      "duration: 5\nduration: 6\n",
      2,
    ]] as const
  ) {
    let error: unknown;
    try {
      parseScenario(text, "syntax.yaml");
    } catch (e) {
      error = e;
    }
    assert.ok(error instanceof ScenarioError);
    assert.equal(error.field, "");
    assert.match(error.message, /^syntax\.yaml:\d+: YAML: /);
    assert.equal(error.line, line, error.message);
  }
});
