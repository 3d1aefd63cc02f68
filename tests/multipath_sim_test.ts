import { strict as assert } from "node:assert";
import { ipv4Packet, packetId } from "./_packets.ts";
import { Sim } from "./_sim.ts";

/** Sends `count` packets A->B, one every `intervalMs`, running the sim in between. */
function stream(sim: Sim, count: number, intervalMs: number, onTick?: (i: number) => void) {
  for (let i = 0; i < count; i++) {
    onTick?.(i);
    sim.send("a", ipv4Packet("10.77.0.1", "10.77.0.2", i));
    sim.run(intervalMs);
  }
  sim.run(2_000);
}

function assertExactlyOnce(delivered: Uint8Array[], count: number, from = 0) {
  const ids = delivered.map(packetId).filter((id) => id >= from && id < count);
  const unique = new Set(ids);
  assert.equal(ids.length, unique.size, "no packet delivered twice");
  for (let i = from; i < count; i++) assert.ok(unique.has(i), `packet ${i} delivered`);
}

Deno.test("sim: handshake over two paths, then both paths become active", () => {
  const sim = new Sim([{ delayMs: 5 }, { delayMs: 20 }]);
  sim.a.device.start(sim.now);
  sim.run(3_000);
  const states = (side: typeof sim.a) =>
    side.device.peers[0].paths.map((p) => `${p.local}->${p.remote.hostname}:${p.state}`).sort();
  assert.ok(sim.a.device.peers[0].currentSession && sim.b.device.peers[0].currentSession);
  // A has both endpoints configured on both local ends: the cross pairs never validate.
  assert.deepEqual(states(sim.a), [
    "0->10.0.0.2:active",
    "0->10.0.1.2:down",
    "1->10.0.0.2:down",
    "1->10.0.1.2:active",
  ]);
  // B has no endpoint: it learned the two paths A's traffic came over.
  assert.deepEqual(states(sim.b), ["0->10.0.0.1:active", "1->10.0.1.1:active"]);
  const active = sim.a.device.peers[0].paths.filter((p) => p.state === "active");
  const rtts = active.map((p) => Math.round(p.srttMs)).sort((x, y) => x - y);
  assert.deepEqual(rtts, [10, 40]);
});

Deno.test("sim: loss, duplication and reordering on three paths: every packet exactly once", () => {
  const sim = new Sim([
    { delayMs: 5, jitterMs: 10, loss: 0.2, duplicate: 0.1 },
    { delayMs: 30, jitterMs: 30, loss: 0.3, duplicate: 0.2 },
    { delayMs: 12, jitterMs: 5, loss: 0.25 },
  ], { seed: 3 });
  sim.a.device.start(sim.now);
  sim.run(2_000);
  const count = 2_000;
  stream(sim, count, 2);
  // Loss is independent per path: a packet is lost only when all three copies are (0.015).
  const ids = new Set(sim.b.delivered.map(packetId));
  assert.equal(sim.b.delivered.length, ids.size, "never delivered twice");
  assert.ok(ids.size >= count * 0.97, `delivered ${ids.size} of ${count}`);
  assert.ok(sim.b.device.drops.duplicate > count, "copies were recognised as duplicates");
});

Deno.test("sim: one path dies mid-stream: no packet lost while another path lives", () => {
  const sim = new Sim([{ delayMs: 5, jitterMs: 3 }, { delayMs: 15, jitterMs: 3 }], { seed: 5 });
  sim.a.device.start(sim.now);
  sim.run(2_000);
  const count = 3_000;
  stream(sim, count, 1, (i) => {
    if (i === 1_000) sim.links[0].up = false;
    if (i === 2_000) sim.links[0].up = true;
  });
  assertExactlyOnce(sim.b.delivered, count);
  const active = sim.a.device.peers[0].paths.filter((p) => p.state === "active");
  assert.deepEqual(active.map((p) => p.local), [0, 1], "the restored path is active again");
});

Deno.test("sim: the path that carried everything dies; the other takes over with no loss", () => {
  const sim = new Sim([{ delayMs: 2 }, { delayMs: 40 }], { seed: 9 });
  sim.a.device.start(sim.now);
  sim.run(2_000);
  let downSeen = false;
  stream(sim, 5_000, 1, (i) => {
    if (i === 500) sim.links[0].up = false;
    if (i === 4_500) {
      downSeen = sim.a.device.peers[0].paths[0].state === "down";
    }
  });
  assertExactlyOnce(sim.b.delivered, 5_000);
  assert.ok(downSeen, "the dead path was declared down");
  const fast = sim.b.device.peers[0].paths.find((p) => p.local === 0)!;
  assert.ok(fast.firstArrivals > 400, "the fast path delivered first while it lived");
});

Deno.test("sim: a responder without endpoints learns the client's paths and answers", () => {
  const sim = new Sim([{ delayMs: 5 }, { delayMs: 9 }], { seed: 11 });
  sim.a.device.start(sim.now);
  sim.run(2_000);
  for (let i = 0; i < 100; i++) {
    sim.send("b", ipv4Packet("10.77.0.2", "10.77.0.1", i));
    sim.run(3);
  }
  sim.run(500);
  assertExactlyOnce(sim.a.delivered, 100);
  assert.equal(sim.b.device.peers[0].paths.length, 2, "learned both remote ends");
});

Deno.test("sim: rekey after REKEY_AFTER_TIME keeps the stream intact", () => {
  const sim = new Sim([{ delayMs: 5 }, { delayMs: 7 }], { seed: 13 });
  sim.a.device.start(sim.now);
  sim.run(1_000);
  const count = 400;
  stream(sim, count, 1_000); // 400 s of one packet per second: two rekeys at least
  assertExactlyOnce(sim.b.delivered, count);
  assert.ok(sim.a.device.peers[0].counters.handshakesCompleted >= 3, "rekeyed");
});

Deno.test("sim: handshake survives loss of the first initiations (retries)", () => {
  const sim = new Sim([{ delayMs: 5 }], { seed: 17 });
  sim.links[0].up = false;
  sim.a.device.start(sim.now);
  sim.run(2_500);
  sim.links[0].up = true;
  sim.run(6_000);
  assert.ok(sim.a.device.peers[0].currentSession, "session after retries");
});

Deno.test("sim: simultaneous initiation resolves to one session on both sides", () => {
  const sim = new Sim([{ delayMs: 10 }], { seed: 19, bHasEndpoints: true });
  sim.a.device.start(sim.now);
  sim.b.device.start(sim.now);
  sim.run(3_000);
  const a = sim.a.device.peers[0].currentSession!;
  const b = sim.b.device.peers[0].currentSession!;
  assert.equal(a.localIndex, b.remoteIndex);
  assert.equal(b.localIndex, a.remoteIndex);
  sim.send("a", ipv4Packet("10.77.0.1", "10.77.0.2", 1));
  sim.send("b", ipv4Packet("10.77.0.2", "10.77.0.1", 2));
  sim.run(100);
  assert.deepEqual(sim.b.delivered.map(packetId), [1]);
  assert.deepEqual(sim.a.delivered.map(packetId), [2]);
});

Deno.test("sim: a peer restart is noticed and a new handshake restores traffic", () => {
  const sim = new Sim([{ delayMs: 5 }], { seed: 23 });
  sim.a.device.start(sim.now);
  sim.run(1_000);
  // B forgets everything (process restart): its sessions vanish.
  sim.b.device.close();
  stream(sim, 100, 100);
  const ids = new Set(sim.b.delivered.map(packetId));
  assert.ok(ids.has(99), "traffic flows again after the restart");
  // Detection takes PATH_DOWN_AFTER_MS of silence plus one handshake round trip.
  assert.ok(ids.size >= 60, `only ${ids.size} of 100 delivered`);
});
