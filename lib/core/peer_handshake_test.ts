import assert from "node:assert/strict";
import { nobleAead } from "./aead_noble.ts";
import { AllowedIps } from "./allowed_ips.ts";
import { MAX_DATAGRAM_BYTES } from "./constants.ts";
import { publicKeyOf } from "./crypto.ts";
import { newDropCounters } from "./drops.ts";
import { identity, readInitiation, readResponse } from "./handshake.ts";
import { silentLogger } from "./logger.ts";
import { Peer } from "./peer.ts";
import type { PeerContext } from "./peer_context.ts";
import { PeerHandshake } from "./peer_handshake.ts";

/** One side: its context (deterministic randomness, indices from `firstIndex`) and its view of the other. */
interface Side {
  readonly ctx: PeerContext;
  readonly released: number[];
  /** Signature checks the device-wide budget was asked for. */
  verifications: number;
}

/** A side with its handshake state for the other side's peer. */
type Ready = Side & { readonly handshake: PeerHandshake };

function side(seed: number, firstIndex: number, epochOffsetMs = 0): Side {
  const privateKey = new Uint8Array(32).fill(seed);
  let nextIndex = firstIndex;
  let nextKey = seed * 16;
  const s: Side = {
    released: [],
    verifications: 0,
    ctx: {
      me: identity(privateKey, publicKeyOf(privateKey)),
      locals: [],
      backend: nobleAead,
      output: { transmit() {}, deliver() {} },
      drops: newDropCounters(),
      logger: silentLogger,
      epochOffsetMs,
      allowedIps: new AllowedIps<Peer>(),
      keepSessionKeys: false,
      scratch: new Uint8Array(MAX_DATAGRAM_BYTES),
      randomU32: () => 7,
      mayVerify: () => (s.verifications++, true),
      randomKey: () => new Uint8Array(32).fill(++nextKey),
      allocateIndex: () => nextIndex++,
      releaseIndex: (index) => void s.released.push(index),
      registerSession() {},
      unregisterSession() {},
    },
  };
  return s;
}

/**
 * Two sides that know each other: `a` (key byte 1, indices from 100), `b` (2, from 200), each
 * with its wall clock's offset from `now`.
 */
function pair(bEpochOffsetMs = 0, aEpochOffsetMs = 0): { a: Ready; b: Ready } {
  const a = side(1, 100, aEpochOffsetMs);
  const b = side(2, 200, bEpochOffsetMs);
  const peerOf = (s: Side, name: string) =>
    new Peer(s.ctx, {
      publicKey: s.ctx.me.publicKey,
      name,
      endpoints: [],
      persistentKeepaliveSeconds: 0,
    });
  return {
    a: Object.assign(a, { handshake: new PeerHandshake(a.ctx, peerOf(b, "b")) }),
    b: Object.assign(b, { handshake: new PeerHandshake(b.ctx, peerOf(a, "a")) }),
  };
}

Deno.test("peer handshake: an answered initiation gives both sides the same keys", () => {
  const { a, b } = pair();
  a.handshake.startAttempt(0);
  const msg = a.handshake.initiate(0, true)!;
  assert.ok(a.handshake.pending);
  const answered = b.handshake.answer(msg, readInitiation(msg, b.ctx.me)!, 1);
  assert.ok(answered, "answered");
  const [response, responder] = answered;
  const initiator = a.handshake.complete(response, readResponse(response, a.ctx.me)!, 2);
  assert.ok(initiator, "completed");
  assert.deepEqual(initiator.keys, responder.keys);
  assert.deepEqual([initiator.localIndex, initiator.remoteIndex], [100, 200]);
  assert.deepEqual([responder.localIndex, responder.remoteIndex], [200, 100]);
  assert.equal(initiator.sentAt, 0, "when the initiation left: the path's first RTT sample");
  assert.equal(a.handshake.pending, false);
  assert.equal(a.handshake.retryAt, Number.POSITIVE_INFINITY, "nothing left to retransmit");
  assert.deepEqual(a.released, [], "the index now belongs to the session");
});

Deno.test("peer handshake: a replayed initiation is dropped before its signature is checked", () => {
  const { a, b } = pair();
  const msg = a.handshake.initiate(0, true)!;
  const init = readInitiation(msg, b.ctx.me)!;
  assert.ok(b.handshake.answer(msg, init, 1));
  const checked = b.verifications;
  assert.equal(b.handshake.answer(msg, init, 1_000), undefined);
  assert.equal(b.ctx.drops.staleTimestamp, 1);
  assert.equal(b.verifications, checked, "no signature check spent on a replay");
});

Deno.test("peer handshake: clock offsets on both sides; forgetting the timestamp", () => {
  const epoch = 1.7e12;
  const { a, b } = pair(epoch, epoch + 7_000); // a's clock is 7 s ahead of b's
  assert.equal(b.handshake.clockOffsetMs, undefined);
  assert.equal(b.handshake.timestampAheadMs(0), 0, "nothing answered yet");
  const msg = a.handshake.initiate(0, true)!;
  const answered = b.handshake.answer(msg, readInitiation(msg, b.ctx.me)!, 3)!;
  assert.equal(b.handshake.clockOffsetMs, 7_000 - 3, "a's clock minus b's, delay included");
  assert.equal(b.handshake.timestampAheadMs(3), 6_997);
  assert.equal(b.handshake.timestampAheadMs(7_000), 0, "b's clock got there");
  a.handshake.complete(answered[0], readResponse(answered[0], a.ctx.me)!, 6);
  assert.equal(a.handshake.clockOffsetMs, -7_000 + 3 - 6, "b answered at 3, a read it at 6");

  // Forgetting: the same initiation, replayed, is answered once more (it cannot complete).
  b.handshake.forgetTimestamp();
  assert.equal(b.handshake.timestampAheadMs(3), 0);
  assert.ok(b.handshake.answer(msg, readInitiation(msg, b.ctx.me)!, 1_000));
  assert.equal(b.handshake.answer(msg, readInitiation(msg, b.ctx.me)!, 2_000), undefined);
  assert.equal(b.ctx.drops.staleTimestamp, 1);
});

Deno.test("peer handshake: a second initiation within the minimum interval is refused", () => {
  const { a, b } = pair();
  const first = a.handshake.initiate(0, true)!;
  assert.ok(b.handshake.answer(first, readInitiation(first, b.ctx.me)!, 100));
  const second = a.handshake.initiate(105, true)!;
  assert.equal(b.handshake.answer(second, readInitiation(second, b.ctx.me)!, 105), undefined);
  assert.equal(b.ctx.drops.handshakeFlood, 1);
  assert.ok(b.handshake.answer(second, readInitiation(second, b.ctx.me)!, 125), "20 ms later");
});

Deno.test("peer handshake: both sides initiating, the newer timestamp wins", () => {
  const { a, b } = pair(5); // b's clock is 5 ms ahead: its initiation is the newer one
  const fromA = a.handshake.initiate(0, true)!;
  const fromB = b.handshake.initiate(0, true)!;
  assert.equal(b.handshake.answer(fromA, readInitiation(fromA, b.ctx.me)!, 1), undefined);
  assert.equal(b.ctx.drops.staleTimestamp, 1, "b keeps its own initiation");
  assert.ok(b.handshake.pending);
  const answered = a.handshake.answer(fromB, readInitiation(fromB, a.ctx.me)!, 1);
  assert.ok(answered, "a answers b");
  assert.equal(a.handshake.pending, false, "a dropped its own initiation");
  assert.deepEqual(a.released, [100], "and released its index");
  const [response] = answered;
  assert.ok(b.handshake.complete(response, readResponse(response, b.ctx.me)!, 2));
});

Deno.test("peer handshake: equal timestamps, the larger public key wins", () => {
  const { a, b } = pair();
  const fromA = a.handshake.initiate(0, true)!;
  const fromB = b.handshake.initiate(0, true)!;
  const i = a.ctx.me.publicKey.findIndex((x, j) => x !== b.ctx.me.publicKey[j]);
  assert.ok(i >= 0, "the keys differ");
  const larger = a.ctx.me.publicKey[i] > b.ctx.me.publicKey[i] ? a : b;
  const smaller = larger === a ? b : a;
  const theirs = larger === a ? fromB : fromA;
  const mine = larger === a ? fromA : fromB;
  assert.equal(
    larger.handshake.answer(theirs, readInitiation(theirs, larger.ctx.me)!, 1),
    undefined,
  );
  assert.equal(larger.ctx.drops.staleTimestamp, 1);
  assert.ok(smaller.handshake.answer(mine, readInitiation(mine, smaller.ctx.me)!, 1));
});

Deno.test("peer handshake: retransmissions back off from 1 s to 5 s, with jitter", () => {
  const { a } = pair();
  a.handshake.startAttempt(0);
  assert.equal(a.handshake.initiate(0, false), null, "no path yet");
  assert.equal(a.handshake.retryAt, 1_000);
  const delays: number[] = [];
  let now = 1_000;
  for (let i = 0; i < 5; i++) {
    assert.ok(a.handshake.initiate(now, true));
    delays.push(a.handshake.retryAt - now);
    now = a.handshake.retryAt;
  }
  const jitter = 7; // randomU32() % (333 + 1)
  assert.deepEqual(delays, [1_000, 2_000, 4_000, 5_000, 5_000].map((d) => d + jitter));
  assert.deepEqual(a.released, [100, 101, 102, 103], "each retransmission replaces the last");
  assert.equal(a.handshake.attemptExpired(now), false);
  assert.equal(a.handshake.attemptExpired(90_000), true);
  a.handshake.startAttempt(90_000);
  assert.equal(a.handshake.attemptExpired(90_000), false, "a new attempt starts over");
});

Deno.test("peer handshake: a response that does not fit the pending initiation changes nothing", () => {
  const { a, b } = pair();
  const msg = a.handshake.initiate(0, true)!;
  const [response] = b.handshake.answer(msg, readInitiation(msg, b.ctx.me)!, 1)!;
  const resp = readResponse(response, a.ctx.me)!;
  assert.equal(a.handshake.complete(response, { ...resp, receiverIndex: 999 }, 2), undefined);
  assert.equal(a.ctx.drops.unexpectedResponse, 1);
  const tampered = response.slice();
  tampered[tampered.length - 40] ^= 1; // inside the signature
  assert.equal(
    a.handshake.complete(tampered, readResponse(tampered, a.ctx.me) ?? resp, 2),
    undefined,
  );
  assert.equal(a.ctx.drops.badSignature, 1);
  assert.ok(a.handshake.pending, "still waiting for the real answer");
  assert.ok(a.handshake.complete(response, resp, 3));
});
