/**
 * Handshake cost per core: a whole handshake (both messages, both signature checks, both key
 * derivations) and the pieces a flood can make us run (the mac1 check, one signature check).
 */
import { publicKeyOf } from "../lib/core/crypto.ts";
import {
  createInitiation,
  createResponse,
  deriveSessionKeys,
  identity,
  readInitiation,
  readResponse,
  verifyInitiation,
  verifyResponse,
} from "../lib/core/handshake.ts";

const initiator = identity(new Uint8Array(32).fill(1), publicKeyOf(new Uint8Array(32).fill(1)));
const responder = identity(new Uint8Array(32).fill(2), publicKeyOf(new Uint8Array(32).fill(2)));
let timestampUs = 1.7e15;

function initiation(): Uint8Array {
  return createInitiation(initiator, {
    senderIndex: 1,
    timestampUs: timestampUs++,
    ephemeralPrivate: crypto.getRandomValues(new Uint8Array(32)),
    peerKey: responder.publicKey,
  });
}

Deno.bench("handshake: complete (initiation, response, both checks, both key sets)", () => {
  const ephemeralI = crypto.getRandomValues(new Uint8Array(32));
  const ephemeralR = crypto.getRandomValues(new Uint8Array(32));
  const init = createInitiation(initiator, {
    senderIndex: 1,
    timestampUs: timestampUs++,
    ephemeralPrivate: ephemeralI,
    peerKey: responder.publicKey,
  });
  const parsed = readInitiation(init, responder)!;
  if (!verifyInitiation(init, responder, parsed.initiatorKey)) throw new Error("bad init");
  const resp = createResponse(responder, {
    senderIndex: 2,
    receiverIndex: 1,
    timestampUs: timestampUs++,
    ephemeralPrivate: ephemeralR,
    initiation: init,
    peerKey: initiator.publicKey,
  });
  deriveSessionKeys({
    ephemeralPrivate: ephemeralR,
    peerEphemeral: parsed.ephemeralKey,
    responderKey: responder.publicKey,
    initiation: init,
    response: resp,
  });
  const r = readResponse(resp, initiator)!;
  if (!verifyResponse(resp, init, responder.publicKey)) throw new Error("bad response");
  deriveSessionKeys({
    ephemeralPrivate: ephemeralI,
    peerEphemeral: r.ephemeralKey,
    responderKey: responder.publicKey,
    initiation: init,
    response: resp,
  });
});

const sample = initiation();
const junk = crypto.getRandomValues(new Uint8Array(160));
junk.set([1, 0, 0, 0]);

Deno.bench("flood: mac1 check of junk (what an unauthenticated flood costs)", () => {
  readInitiation(junk, responder);
});

Deno.bench("flood: one Ed25519 verification (rationed per peer and device)", () => {
  verifyInitiation(sample, responder, initiator.publicKey);
});
