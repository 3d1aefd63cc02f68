import { strict as assert } from "node:assert";
import { INITIATION_BYTES, RESPONSE_BYTES } from "./constants.ts";
import { publicKeyOf } from "./crypto.ts";
import { nobleAead } from "./aead_noble.ts";
import { writeDataHeader } from "./wire.ts";
import {
  createInitiation,
  createResponse,
  deriveSessionKeys,
  identity,
  readInitiation,
  readResponse,
  verifyInitiation,
  verifyResponse,
} from "./handshake.ts";

const toHex = (b: Uint8Array) => [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
const filled = (n: number) => new Uint8Array(32).fill(n);

/** The fixed inputs of docs/PROTOCOL.md's test vector. */
function vector() {
  const initiator = identity(filled(1), publicKeyOf(filled(1)));
  const responder = identity(filled(2), publicKeyOf(filled(2)));
  const initiation = createInitiation(initiator, {
    senderIndex: 0x11223344,
    timestampUs: 1_764_000_000_000_000,
    ephemeralPrivate: filled(3),
    peerKey: responder.publicKey,
  });
  const response = createResponse(responder, {
    senderIndex: 0x55667788,
    receiverIndex: 0x11223344,
    timestampUs: 1_764_000_000_500_000,
    ephemeralPrivate: filled(4),
    initiation,
    peerKey: initiator.publicKey,
  });
  return { initiator, responder, initiation, response };
}

Deno.test("handshake: docs/PROTOCOL.md test vector (fixed keys, indices and timestamps)", () => {
  const { initiation, response } = vector();
  assert.equal(initiation.length, INITIATION_BYTES);
  assert.equal(response.length, RESPONSE_BYTES);
  const keys = deriveSessionKeys({
    ephemeralPrivate: filled(3),
    peerEphemeral: response.subarray(20, 52),
    responderKey: publicKeyOf(filled(2)),
    initiation,
    response,
  })!;
  // The first data message: "centipede" sent by the initiator to receiver index 0x55667788.
  const payload = new TextEncoder().encode("centipede");
  const data = new Uint8Array(16 + payload.length + 16);
  writeDataHeader(data, 0x55667788, 1);
  data.set(payload, 16);
  nobleAead.create(keys.initiatorToResponder).seal(data, 16, payload.length, 1);
  const got = {
    initiation: toHex(initiation),
    response: toHex(response),
    i2r: toHex(keys.initiatorToResponder),
    r2i: toHex(keys.responderToInitiator),
    data: toHex(data),
  };
  const expected = JSON.parse(
    Deno.readTextFileSync(new URL("./testdata/handshake_vector.json", import.meta.url)),
  );
  assert.deepEqual(got, expected);
});

Deno.test("handshake: both sides derive the same two direction keys", () => {
  const { initiator, responder, initiation, response } = vector();
  const init = readInitiation(initiation, responder)!;
  assert.ok(init);
  assert.equal(init.senderIndex, 0x11223344);
  assert.equal(init.timestampUs, 1_764_000_000_000_000);
  assert.ok(verifyInitiation(initiation, responder, init.initiatorKey));
  const resp = readResponse(response, initiator)!;
  assert.equal(resp.receiverIndex, 0x11223344);
  assert.ok(verifyResponse(response, initiation, responder.publicKey));
  const a = deriveSessionKeys({
    ephemeralPrivate: filled(3),
    peerEphemeral: resp.ephemeralKey,
    responderKey: responder.publicKey,
    initiation,
    response,
  })!;
  const b = deriveSessionKeys({
    ephemeralPrivate: filled(4),
    peerEphemeral: init.ephemeralKey,
    responderKey: responder.publicKey,
    initiation,
    response,
  })!;
  assert.deepEqual(a, b);
  assert.notDeepEqual(a.initiatorToResponder, a.responderToInitiator);
});

Deno.test("handshake: cheap checks reject wrong size, type, reserved bytes and mac1", () => {
  const { initiator, responder, initiation, response } = vector();
  const third = identity(filled(9), publicKeyOf(filled(9)));
  assert.equal(readInitiation(initiation, third), undefined, "mac1 keyed by another responder");
  assert.equal(readInitiation(initiation.subarray(0, 159), responder), undefined);
  assert.equal(readResponse(response, responder), undefined, "response mac1 is for the initiator");
  for (const at of [0, 1, 2, 3, 20, 100, 150]) {
    const bad = initiation.slice();
    bad[at] ^= 0x40;
    assert.equal(readInitiation(bad, responder), undefined, `flipped byte ${at}`);
  }
  void initiator;
});

Deno.test("handshake: a tampered body with a recomputed mac1 fails the signature", () => {
  const { responder, initiation } = vector();
  const bad = initiation.slice();
  bad[8] ^= 1; // timestamp
  assert.equal(verifyInitiation(bad, responder, publicKeyOf(filled(1))), false);
  assert.equal(verifyInitiation(initiation, responder, publicKeyOf(filled(5))), false);
});

Deno.test("handshake: a response signed over another initiation is refused", () => {
  const { responder, initiation, response } = vector();
  const other = initiation.slice();
  other[10] ^= 1;
  assert.equal(verifyResponse(response, other, responder.publicKey), false);
});
