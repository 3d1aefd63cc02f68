/**
 * Bytes from the network never throw: truncated, oversized, random and bit-flipped datagrams are
 * dropped, each counted under one reason, nothing is sent in reply, and the tunnel keeps working.
 */
import { strict as assert } from "node:assert";
import { DROP_REASONS } from "../lib/core/drops.ts";
import type { Device } from "../lib/core/device.ts";
import { ipv4Packet, packetId, SeededRng } from "./_packets.ts";
import { Sim } from "./_sim.ts";

function totalDrops(device: Device): number {
  return DROP_REASONS.reduce((n, r) => n + device.drops[r], 0);
}

/** Feeds `datagram` to B as if it came from A's first address; returns what B sent back. */
function inject(sim: Sim, datagram: Uint8Array, from = sim.a.addresses[0]): number {
  const before = sim.wire.length;
  const delivered = sim.b.delivered.length;
  const buf = new Uint8Array(Math.max(datagram.length, 1));
  buf.set(datagram);
  sim.b.device.handleDatagram(buf, datagram.length, 0, from, sim.now);
  assert.equal(sim.b.delivered.length, delivered, "nothing delivered");
  return sim.wire.length - before;
}

function established(): { sim: Sim; captured: Uint8Array[] } {
  const sim = new Sim([{ delayMs: 3 }, { delayMs: 5 }], { seed: 31 });
  sim.a.device.start(sim.now);
  sim.run(2_000);
  for (let i = 0; i < 20; i++) {
    sim.send("a", ipv4Packet("10.77.0.1", "10.77.0.2", i));
    sim.run(5);
  }
  sim.run(100);
  // Everything captured here was delivered already (links take 3-5 ms): replays, not races.
  const captured = sim.wire.filter((w) => w.from === "a" && w.at < sim.now - 50).map((w) =>
    w.bytes
  );
  return { sim, captured };
}

Deno.test("fuzz: random, truncated, oversized and bit-flipped datagrams are dropped and counted", () => {
  const { sim, captured } = established();
  const rng = new SeededRng(99);
  const inputs: Uint8Array[] = [];
  for (let i = 0; i < 300; i++) {
    const random = new Uint8Array(rng.next() % 1600);
    rng.fill(random);
    inputs.push(random);
  }
  for (const type of [1, 2, 4]) {
    for (const length of [0, 1, 3, 4, 15, 16, 31, 32, 131, 132, 133, 159, 160, 161]) {
      const b = new Uint8Array(length);
      rng.fill(b);
      if (length > 0) b[0] = type;
      inputs.push(b);
    }
  }
  inputs.push(new Uint8Array(65_535).fill(4));
  for (const original of captured.slice(-30)) {
    for (let k = 0; k < 10; k++) {
      const flipped = original.slice();
      const bit = rng.next() % (flipped.length * 8);
      flipped[bit >> 3] ^= 1 << (bit & 7);
      inputs.push(flipped);
      inputs.push(original.subarray(0, rng.next() % original.length));
    }
  }
  const before = totalDrops(sim.b.device);
  let replies = 0;
  for (const input of inputs) replies += inject(sim, input);
  assert.equal(totalDrops(sim.b.device) - before, inputs.length, "one drop counted per input");
  assert.equal(replies, 0, "no datagram sent in reply to junk");
  // The tunnel still works.
  for (let i = 100; i < 110; i++) {
    sim.send("a", ipv4Packet("10.77.0.1", "10.77.0.2", i));
    sim.run(5);
  }
  sim.run(100);
  const ids = sim.b.delivered.map(packetId);
  for (let i = 100; i < 110; i++) assert.ok(ids.includes(i), `packet ${i} after fuzzing`);
});

Deno.test("fuzz: a replayed data packet from a spoofed address creates no path and no reply", () => {
  const { sim, captured } = established();
  const spoofed = { hostname: "192.0.2.66", port: 4444 };
  const pathsBefore = sim.b.device.peers[0].paths.length;
  let replies = 0;
  for (const datagram of captured) replies += inject(sim, datagram, spoofed);
  assert.equal(replies, 0);
  assert.equal(sim.b.device.peers[0].paths.length, pathsBefore, "no new path");
  assert.ok(!sim.b.device.peers[0].paths.some((p) => p.remote.hostname === spoofed.hostname));
});

Deno.test("fuzz: a raced fresh packet from a spoofed address never validates; replies bounded", () => {
  const { sim } = established();
  const spoofed = { hostname: "192.0.2.66", port: 4444 };
  // The attacker copies A's next packet off the wire and delivers it before the genuine copy.
  const start = sim.wire.length;
  sim.send("a", ipv4Packet("10.77.0.1", "10.77.0.2", 777));
  const raced = sim.wire.slice(start).find((w) => w.from === "a")!.bytes;
  const received = raced.length;
  sim.b.device.handleDatagram(raced.slice(), raced.length, 0, spoofed, sim.now);
  sim.run(3_000);
  const path = sim.b.device.peers[0].paths.find((p) => p.remote.hostname === spoofed.hostname);
  assert.ok(path, "a candidate path exists");
  assert.notEqual(path.state, "active", "never validated: no probe ack can come back from it");
  assert.ok(path.bytesSent <= 3 * received, `sent ${path.bytesSent} for ${received} received`);
  assert.ok(sim.b.delivered.map(packetId).includes(777), "the packet itself is delivered once");
});

Deno.test("fuzz: a forged huge counter with a bad tag does not move the replay window", () => {
  const { sim, captured } = established();
  const data = captured.filter((d) => d[0] === 4 && d.length > 40).at(-1)!;
  const forged = data.slice();
  forged.set([0xff, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00], 8);
  assert.equal(inject(sim, forged), 0);
  const session = sim.b.device.peers[0].currentSession!;
  assert.ok(session.replay.top < 1_000, `window top ${session.replay.top}`);
  sim.send("a", ipv4Packet("10.77.0.1", "10.77.0.2", 500));
  sim.run(50);
  assert.ok(sim.b.delivered.map(packetId).includes(500), "genuine traffic still accepted");
});
