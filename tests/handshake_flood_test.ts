/**
 * Handshake floods cannot starve the device: junk fails the mac1 check without any signature
 * verification, and forged initiations that pass mac1 (the attacker knows both public keys) are
 * verified at most PEER_VERIFICATIONS_PER_SECOND times per second. The real peer still connects.
 */
import { strict as assert } from "node:assert";
import { PEER_VERIFICATION_BURST, PEER_VERIFICATIONS_PER_SECOND } from "../lib/core/constants.ts";
import { publicKeyOf } from "../lib/core/crypto.ts";
import { createInitiation, identity } from "../lib/core/handshake.ts";
import { SeededRng } from "./_packets.ts";
import { Sim } from "./_sim.ts";

Deno.test("flood: junk initiations are dropped before any signature check", () => {
  const sim = new Sim([{ delayMs: 2 }], { seed: 81 });
  const rng = new SeededRng(5);
  for (let i = 0; i < 2_000; i++) {
    const junk = new Uint8Array(160);
    rng.fill(junk);
    junk.set([1, 0, 0, 0]);
    sim.b.device.handleDatagram(junk, 160, 0, sim.a.addresses[0], sim.now);
  }
  assert.equal(sim.b.device.drops.badHandshake, 2_000, "all failed mac1");
  assert.equal(sim.b.device.drops.badSignature, 0, "no signature was checked");
});

Deno.test("flood: forged initiations with a valid mac1 get a bounded number of checks", () => {
  const sim = new Sim([{ delayMs: 2 }], { seed: 83 });
  const victimKey = sim.b.device.publicKey;
  const spoofedIdentity = {
    ...identity(new Uint8Array(32).fill(66), publicKeyOf(new Uint8Array(32).fill(66))),
    publicKey: publicKeyOf(new Uint8Array(32).fill(1)), // A's key, which B knows
  };
  const seconds = 2;
  let timestampUs = 2e15;
  for (let ms = 0; ms < seconds * 1_000; ms++) {
    for (let k = 0; k < 5; k++) {
      const forged = createInitiation(spoofedIdentity, {
        senderIndex: ms * 5 + k,
        timestampUs: timestampUs++,
        ephemeralPrivate: new Uint8Array(32).fill(7),
        peerKey: victimKey,
      });
      sim.b.device.handleDatagram(forged, forged.length, 0, sim.a.addresses[0], sim.now);
    }
    sim.run(1);
  }
  const checks = sim.b.device.drops.badSignature;
  const bound = PEER_VERIFICATION_BURST + PEER_VERIFICATIONS_PER_SECOND * seconds + 1;
  assert.ok(checks <= bound, `${checks} signature checks for 10000 forgeries (bound ${bound})`);
  assert.ok(sim.b.device.drops.handshakeFlood >= 10_000 - bound, "the rest were rationed");
  // The flood stops; the real peer connects.
  sim.run(1_000);
  sim.a.device.start(sim.now);
  sim.run(3_000);
  assert.ok(sim.a.device.peers[0].currentSession, "A still gets a session");
});
