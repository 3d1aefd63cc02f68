import { strict as assert } from "node:assert";
import { resetTimestamp } from "../lib/cli/reset_timestamp.ts";
import { encodeKey } from "../lib/config/base64_key.ts";
import { publicKeyOf } from "../lib/core/crypto.ts";
import { ipv4Packet, packetId } from "./_packets.ts";
import { Sim } from "./_sim.ts";

const HOUR_MS = 3_600_000;
const KEY_OF_A = encodeKey(publicKeyOf(new Uint8Array(32).fill(1)));

/** Sends packet `id` from A to B and runs the simulation for `ms`. */
function send(sim: Sim, id: number, ms: number): void {
  sim.send("a", ipv4Packet("10.77.0.1", "10.77.0.2", id));
  sim.run(ms);
}

Deno.test("sim: a peer whose clock ran ahead and went back is refused until reset-timestamp", () => {
  const log: string[] = [];
  const sim = new Sim([{ delayMs: 5 }], { seed: 31, log: (line) => log.push(line) });
  sim.restart("a", { clockAheadMs: 3 * HOUR_MS });
  sim.a.device.start(sim.now);
  send(sim, 1, 1_000);
  assert.deepEqual(sim.b.delivered.map(packetId), [1]);
  const aAtB = sim.b.device.peers[0];
  const bAtA = sim.a.device.peers[0];
  assert.ok(Math.abs(aAtB.clockOffsetMs! - 3 * HOUR_MS) < 100, `${aAtB.clockOffsetMs}`);
  assert.ok(Math.abs(bAtA.clockOffsetMs! + 3 * HOUR_MS) < 100, `${bAtA.clockOffsetMs}`);
  assert.ok(aAtB.timestampAheadMs(sim.now) > 3 * HOUR_MS - 2_000);
  assert.equal(bAtA.timestampAheadMs(sim.now), 0, "A answered no initiation of B's");
  assert.deepEqual(log.filter((line) => line.includes("clock")), [
    "b: peer A: its clock is 10800 s ahead of ours; the newest initiation answered from it is" +
    " 10800 s ahead of our clock: until ours gets there, older ones are refused (or until" +
    " `centipede reset-timestamp`)",
    "a: peer B: its clock is 10800 s behind ours",
  ]);

  // A's clock is set right, then A restarts, and its NAT maps it to a new port: its initiations
  // carry older timestamps, and B's own initiations go to the old port.
  sim.restart("a", { port: 40_000 });
  const stale = sim.b.device.drops.staleTimestamp;
  send(sim, 2, 10_000);
  assert.deepEqual(sim.b.delivered.map(packetId), [1], "A is locked out");
  assert.ok(sim.b.device.drops.staleTimestamp >= stale + 3, "its initiations are refused");

  assert.equal(
    resetTimestamp(sim.b.device, KEY_OF_A),
    "peer A: its next initiation will be answered whatever its timestamp",
  );
  sim.run(6_000); // A retransmits every 5 s
  assert.deepEqual(sim.b.delivered.map(packetId), [1, 2], "the staged packet got through");
  assert.ok(
    aAtB.paths.some((p) => p.remote.port === 40_000 && p.state === "active"),
    "B learned A's new port from its initiation",
  );
  assert.equal(aAtB.timestampAheadMs(sim.now), 0);
  assert.ok(Math.abs(aAtB.clockOffsetMs!) < 100, `${aAtB.clockOffsetMs}`);
});

Deno.test("sim: reset-timestamp names what is wrong with its argument", () => {
  const sim = new Sim([{ delayMs: 5 }]);
  assert.throws(
    () => resetTimestamp(sim.b.device, "wg0"),
    /^Error: "wg0" is not a base64 public key \(44 characters\)$/,
  );
  const stranger = encodeKey(publicKeyOf(new Uint8Array(32).fill(9)));
  assert.throws(
    () => resetTimestamp(sim.b.device, stranger),
    new RegExp(`^Error: no peer ${stranger.replace(/[+/]/g, "\\$&")} on this interface$`),
  );
});

Deno.test("sim: a step of a running peer's clock shows at its next handshake, never going back", () => {
  const sim = new Sim([{ delayMs: 5 }], { seed: 37 });
  sim.a.device.start(sim.now);
  send(sim, 1, 1_000);
  const aAtB = sim.b.device.peers[0];
  assert.ok(Math.abs(aAtB.clockOffsetMs!) < 100, `${aAtB.clockOffsetMs}`);

  // NTP steps A's clock an hour ahead: the engine hands the device the new wall clock.
  sim.a.device.setWallClock(1.7e12 + HOUR_MS);
  sim.a.device.peers[0].initiate(sim.now);
  send(sim, 2, 1_000);
  assert.ok(Math.abs(aAtB.clockOffsetMs! - HOUR_MS) < 100, `${aAtB.clockOffsetMs}`);

  // Then two hours back: A's timestamps stay above the last one it sent, so B still answers.
  sim.a.device.setWallClock(1.7e12 - HOUR_MS);
  const stale = sim.b.device.drops.staleTimestamp;
  const completed = aAtB.counters.handshakesCompleted;
  sim.a.device.peers[0].initiate(sim.now);
  send(sim, 3, 1_000);
  assert.equal(sim.b.device.drops.staleTimestamp, stale, "not refused");
  assert.equal(aAtB.counters.handshakesCompleted, completed + 1);
  assert.deepEqual(sim.b.delivered.map(packetId), [1, 2, 3]);
});
