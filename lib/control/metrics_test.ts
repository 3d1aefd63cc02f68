import { strict as assert } from "node:assert";
import { DROP_REASONS } from "../core/drops.ts";
import { ipv4Packet } from "../../tests/_packets.ts";
import { Sim } from "../../tests/_sim.ts";
import { FIXTURE_PEER_KEY, fixtureStatus } from "./_fixture.ts";
import { escapeLabel, formatValue, prometheusText } from "./metrics.ts";
import { interfaceStatus } from "./status.ts";

const SAMPLE =
  /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\\n]|\\[\\"n])*",?)*\})? \S+$/;

/** Checks the text format's grammar; returns samples as "name{labels}" -> value. */
function parse(text: string): Map<string, string> {
  assert.ok(text.endsWith("\n"), "ends with a line feed");
  const samples = new Map<string, string>();
  const typed = new Map<string, string>();
  const helped = new Set<string>();
  let current = "";
  for (const line of text.slice(0, -1).split("\n")) {
    const comment = /^# (HELP|TYPE) (\S+) (.+)$/.exec(line);
    if (comment) {
      const [, what, name, rest] = comment;
      if (what === "HELP") {
        assert.ok(!helped.has(name), `one HELP for ${name}`);
        helped.add(name);
        current = name;
      } else {
        assert.equal(current, name, `TYPE after HELP for ${name}`);
        assert.ok(!typed.has(name), `one TYPE for ${name}`);
        assert.ok(rest === "counter" || rest === "gauge", `${name}: ${rest}`);
        if (rest === "counter") {
          assert.ok(name.endsWith("_total"), `counter ${name} ends in _total`);
        }
        typed.set(name, rest);
      }
      continue;
    }
    const m = SAMPLE.exec(line);
    assert.ok(m, `sample line: ${line}`);
    assert.equal(m[1], current, `sample ${line} is in its family's block`);
    assert.ok(typed.has(current), `TYPE before samples of ${current}`);
    const at = line.lastIndexOf(" ");
    const key = line.slice(0, at);
    assert.ok(!samples.has(key), `unique series ${key}`);
    samples.set(key, line.slice(at + 1));
  }
  return samples;
}

const PEER = `interface="wg0",peer="${FIXTURE_PEER_KEY}"`;
const PATH0 =
  `${PEER},path="0->198.51.100.7:51820",local="192.0.2.1:51820",remote="198.51.100.7:51820"`;
const PATH1 =
  `${PEER},path="1->[2001:db8::7]:51820",local="[2001:db8::1]:51820",remote="[2001:db8::7]:51820"`;

Deno.test("metrics: fixture values", () => {
  const s = parse(prometheusText(fixtureStatus()));
  const get = (key: string) => {
    assert.ok(s.has(key), `has ${key}`);
    return s.get(key);
  };
  assert.equal(
    get(
      `centipede_info{interface="wg0",public_key="xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg="}`,
    ),
    "1",
  );
  assert.equal(
    get(`centipede_backend_info{interface="wg0",component="aead",backend="noble"}`),
    "1",
  );
  assert.equal(get(`centipede_uptime_seconds{interface="wg0"}`), "3723.5");
  assert.equal(get(`centipede_drops_total{interface="wg0",reason="duplicate"}`), "1200");
  assert.equal(get(`centipede_drops_total{interface="wg0",reason="unknown_index"}`), "3");
  assert.equal(get(`centipede_drops_total{interface="wg0",reason="truncated"}`), "0");
  const drops = [...s.keys()].filter((k) => k.startsWith("centipede_drops_total{"));
  assert.equal(drops.length, DROP_REASONS.length);
  assert.equal(
    get(`centipede_socket_send_errors_total{interface="wg0",local="192.0.2.1:51820"}`),
    "2",
  );
  assert.ok(
    !s.has(`centipede_socket_send_errors_total{interface="wg0",local="[2001:db8::1]:51820"}`),
  );
  assert.equal(get(`centipede_peer_last_handshake_seconds{${PEER}}`), "42.25");
  assert.equal(get(`centipede_peer_handshakes_total{${PEER}}`), "3");
  assert.equal(get(`centipede_peer_clock_offset_seconds{${PEER}}`), "0.012");
  assert.equal(get(`centipede_peer_session_up{${PEER}}`), "1");
  assert.equal(get(`centipede_peer_packets_sent_total{${PEER}}`), "2000");
  assert.equal(get(`centipede_peer_packets_received_total{${PEER}}`), "1500");
  assert.equal(get(`centipede_peer_duplicates_dropped_total{${PEER}}`), "1200");
  assert.equal(get(`centipede_path_up{${PATH0}}`), "1");
  assert.equal(get(`centipede_path_up{${PATH1}}`), "0");
  assert.equal(get(`centipede_path_state{${PATH0},state="active"}`), "1");
  assert.equal(get(`centipede_path_state{${PATH0},state="down"}`), "0");
  assert.equal(get(`centipede_path_state{${PATH1},state="validating"}`), "1");
  assert.equal(get(`centipede_path_rtt_seconds{${PATH0}}`), "0.0125");
  assert.equal(get(`centipede_path_rttvar_seconds{${PATH0}}`), "0.00125");
  assert.ok(!s.has(`centipede_path_rtt_seconds{${PATH1}}`), "no RTT before a sample");
  assert.equal(get(`centipede_path_bytes_sent_total{${PATH0}}`), "2097152");
  assert.equal(get(`centipede_path_bytes_received_total{${PATH0}}`), "1048576");
  assert.equal(get(`centipede_path_packets_sent_total{${PATH0}}`), "2100");
  assert.equal(get(`centipede_path_packets_received_total{${PATH0}}`), "1200");
  assert.equal(get(`centipede_path_first_arrivals_total{${PATH1}}`), "300");
  assert.equal(get(`centipede_path_last_heard_seconds{${PATH0}}`), "0.5");
  assert.equal(get(`centipede_path_loss_ratio{${PATH0}}`), "0.015");
  assert.ok(!s.has(`centipede_path_loss_ratio{${PATH1}}`));
  assert.equal(get(`centipede_path_delivery_rate_bytes_per_second{${PATH0}}`), "1250000");
  assert.equal(get(`centipede_path_duplicates_total{${PATH1}}`), "950");
  assert.equal(get(`centipede_peer_info{${PEER},name="HIgo9xNz",mode="duplicate"}`), "1");
  const down = `path="0->203.0.113.9:4500"`;
  assert.ok(![...s.keys()].some((k) => k.includes(down) && k.includes("last_heard")));
});

Deno.test("metrics: a peer without handshake has no last-handshake or clock sample", () => {
  const status = fixtureStatus();
  status.peers[0].latest_handshake_seconds_ago = null;
  status.peers[0].session_age_seconds = null;
  status.peers[0].clock_offset_seconds = null;
  const s = parse(prometheusText(status));
  assert.ok(![...s.keys()].some((k) => k.startsWith("centipede_peer_last_handshake_seconds")));
  assert.ok(![...s.keys()].some((k) => k.startsWith("centipede_peer_clock_offset_seconds")));
  assert.equal(s.get(`centipede_peer_session_up{${PEER}}`), "0");
});

Deno.test("metrics: no peers, no backends", () => {
  const status = fixtureStatus("x");
  status.peers = [];
  status.backends = {};
  const text = prometheusText(status);
  parse(text);
  assert.ok(!text.includes("centipede_path_"));
  assert.ok(!text.includes("centipede_backend_info"));
});

Deno.test("metrics: from a live simulated device", () => {
  const sim = new Sim([{ delayMs: 5 }, { delayMs: 20 }]);
  sim.a.device.start(sim.now);
  sim.run(3_000);
  for (let i = 0; i < 50; i++) {
    sim.send("a", ipv4Packet("10.77.0.1", "10.77.0.2", i));
    sim.run(3);
  }
  sim.run(100);
  const status = interfaceStatus({
    name: "sim",
    device: sim.b.device,
    listen: sim.b.addresses,
    backends: {},
    now: sim.now,
    startedAt: 0,
  });
  const s = parse(prometheusText(status));
  const ups = [...s.entries()].filter(([k]) => k.startsWith("centipede_path_up{"));
  assert.equal(ups.length, 2);
  assert.ok(ups.every(([, v]) => v === "1"));
  const firsts = [...s.entries()].filter(([k]) => k.startsWith("centipede_path_first_arrivals"));
  assert.equal(firsts.reduce((sum, [, v]) => sum + Number(v), 0), 50);
});

Deno.test("metrics: escaping and values", () => {
  assert.equal(escapeLabel('a"b\\c\nd'), 'a\\"b\\\\c\\nd');
  assert.equal(formatValue(1.5), "1.5");
  assert.equal(formatValue(1e21), "1e+21");
  assert.equal(formatValue(NaN), "NaN");
  assert.equal(formatValue(Infinity), "+Inf");
  assert.equal(formatValue(-Infinity), "-Inf");
  const status = fixtureStatus('we"ird\\');
  const text = prometheusText(status);
  assert.ok(text.includes(`interface="we\\"ird\\\\"`));
  parse(text);
});
