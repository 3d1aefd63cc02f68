/**
 * The two handshake messages: encoding, cheap checks, signatures and key derivation.
 *
 * ```
 * initiation (160 B): type=1 | 0 0 0 | sender index u32 | timestamp u64 (us since epoch)
 *                     | initiator Ed25519 key (32) | ephemeral X25519 key (32)
 *                     | signature (64) over LABEL_INIT | responder key | bytes 0..80
 *                     | mac1 (16) = BLAKE2s-128(key = macKey(responder key)) over bytes 0..144
 * response   (132 B): type=2 | 0 0 0 | sender index u32 | receiver index u32 | timestamp u64
 *                     | ephemeral X25519 key (32)
 *                     | signature (64) over LABEL_RESP | SHA-256(initiation) | bytes 0..52
 *                     | mac1 (16) keyed by the initiator's key over bytes 0..116
 * keys: HKDF-SHA-256(X25519(e_i, e_r), salt = SHA-256(LABEL_KEYS | responder key | initiation
 *       | response bytes 0..116), info = LABEL_KEYS) -> initiator->responder | responder->initiator
 * ```
 * All integers little-endian. Nothing here reads a clock or draws randomness: the caller passes
 * the timestamp, the ephemeral private key and the session index.
 * @module
 */
import { INITIATION_BYTES, MSG_INITIATION, MSG_RESPONSE, RESPONSE_BYTES } from "./constants.ts";
import {
  deriveKeys,
  equalBytes,
  hash,
  KEY_BYTES,
  mac,
  MAC_BYTES,
  macKey,
  sign,
  SIGNATURE_BYTES,
  verify,
  x25519PublicKey,
  x25519Shared,
} from "./crypto.ts";

const text = new TextEncoder();
const LABEL_INIT = text.encode("centipede v1 initiation");
const LABEL_RESP = text.encode("centipede v1 response");
const LABEL_KEYS = text.encode("centipede v1 data keys");
const LABEL_MAC = text.encode("centipede v1 mac1");

const INIT_SIGNED_END = 80;
const INIT_MAC_START = INIT_SIGNED_END + SIGNATURE_BYTES;
const RESP_SIGNED_END = 52;
const RESP_MAC_START = RESP_SIGNED_END + SIGNATURE_BYTES;

/** Our long-term identity as the handshake needs it. */
export interface Identity {
  readonly privateKey: Uint8Array;
  readonly publicKey: Uint8Array;
  /** Key of the mac1 on messages addressed to us. */
  readonly macKey: Uint8Array;
}

/** Builds an `Identity` from a private key and its public key. */
export function identity(privateKey: Uint8Array, publicKey: Uint8Array): Identity {
  return { privateKey, publicKey, macKey: mac1Key(publicKey) };
}

/** The mac1 key of messages addressed to `publicKey`. */
export function mac1Key(publicKey: Uint8Array): Uint8Array {
  return macKey(LABEL_MAC, publicKey);
}

/** Fields of an initiation that passed the cheap checks (not yet the signature). */
export interface Initiation {
  readonly senderIndex: number;
  readonly timestampUs: number;
  readonly initiatorKey: Uint8Array;
  readonly ephemeralKey: Uint8Array;
}

/** Fields of a response that passed the cheap checks. */
export interface Response {
  readonly senderIndex: number;
  readonly receiverIndex: number;
  readonly timestampUs: number;
  readonly ephemeralKey: Uint8Array;
}

/** What the initiator needs to build an initiation. */
export interface InitiationInput {
  readonly senderIndex: number;
  readonly timestampUs: number;
  readonly ephemeralPrivate: Uint8Array;
  /** The responder's Ed25519 public key. */
  readonly peerKey: Uint8Array;
}

/** Encodes and signs an initiation. */
export function createInitiation(me: Identity, input: InitiationInput): Uint8Array {
  const msg = new Uint8Array(INITIATION_BYTES);
  const view = new DataView(msg.buffer);
  msg[0] = MSG_INITIATION;
  view.setUint32(4, input.senderIndex, true);
  writeU64(view, 8, input.timestampUs);
  msg.set(me.publicKey, 16);
  msg.set(x25519PublicKey(input.ephemeralPrivate), 48);
  const signed = concat(LABEL_INIT, input.peerKey, msg.subarray(0, INIT_SIGNED_END));
  msg.set(sign(signed, me.privateKey), INIT_SIGNED_END);
  msg.set(mac(mac1Key(input.peerKey), msg.subarray(0, INIT_MAC_START)), INIT_MAC_START);
  return msg;
}

/**
 * Checks an initiation's size, type, reserved bytes and mac1 (no signature): undefined when any
 * fails. Cheap enough to run on every datagram.
 */
export function readInitiation(msg: Uint8Array, me: Identity): Initiation | undefined {
  if (msg.length !== INITIATION_BYTES || !headerOk(msg, MSG_INITIATION)) return undefined;
  if (!macOk(msg, INIT_MAC_START, me.macKey)) return undefined;
  const view = new DataView(msg.buffer, msg.byteOffset, msg.length);
  return {
    senderIndex: view.getUint32(4, true),
    timestampUs: readU64(view, 8),
    initiatorKey: msg.slice(16, 48),
    ephemeralKey: msg.slice(48, 80),
  };
}

/** Verifies the initiator's signature (the expensive check, done last). */
export function verifyInitiation(msg: Uint8Array, me: Identity, initiatorKey: Uint8Array): boolean {
  const signed = concat(LABEL_INIT, me.publicKey, msg.subarray(0, INIT_SIGNED_END));
  return verify(msg.subarray(INIT_SIGNED_END, INIT_MAC_START), signed, initiatorKey);
}

/** What the responder needs to build a response. */
export interface ResponseInput {
  readonly senderIndex: number;
  readonly receiverIndex: number;
  readonly timestampUs: number;
  readonly ephemeralPrivate: Uint8Array;
  /** The initiation being answered, all 160 bytes. */
  readonly initiation: Uint8Array;
  /** The initiator's Ed25519 public key. */
  readonly peerKey: Uint8Array;
}

/** Encodes and signs a response. */
export function createResponse(me: Identity, input: ResponseInput): Uint8Array {
  const msg = new Uint8Array(RESPONSE_BYTES);
  const view = new DataView(msg.buffer);
  msg[0] = MSG_RESPONSE;
  view.setUint32(4, input.senderIndex, true);
  view.setUint32(8, input.receiverIndex, true);
  writeU64(view, 12, input.timestampUs);
  msg.set(x25519PublicKey(input.ephemeralPrivate), 20);
  const signed = concat(LABEL_RESP, hash(input.initiation), msg.subarray(0, RESP_SIGNED_END));
  msg.set(sign(signed, me.privateKey), RESP_SIGNED_END);
  msg.set(mac(mac1Key(input.peerKey), msg.subarray(0, RESP_MAC_START)), RESP_MAC_START);
  return msg;
}

/** Checks a response's size, type, reserved bytes and mac1; undefined when any fails. */
export function readResponse(msg: Uint8Array, me: Identity): Response | undefined {
  if (msg.length !== RESPONSE_BYTES || !headerOk(msg, MSG_RESPONSE)) return undefined;
  if (!macOk(msg, RESP_MAC_START, me.macKey)) return undefined;
  const view = new DataView(msg.buffer, msg.byteOffset, msg.length);
  return {
    senderIndex: view.getUint32(4, true),
    receiverIndex: view.getUint32(8, true),
    timestampUs: readU64(view, 12),
    ephemeralKey: msg.slice(20, 52),
  };
}

/** Verifies the responder's signature over our initiation and its response. */
export function verifyResponse(
  msg: Uint8Array,
  initiation: Uint8Array,
  responderKey: Uint8Array,
): boolean {
  const signed = concat(LABEL_RESP, hash(initiation), msg.subarray(0, RESP_SIGNED_END));
  return verify(msg.subarray(RESP_SIGNED_END, RESP_MAC_START), signed, responderKey);
}

/** The two data keys of a session, one per direction. */
export interface SessionKeys {
  readonly initiatorToResponder: Uint8Array;
  readonly responderToInitiator: Uint8Array;
}

/** What both sides feed into the key derivation. */
export interface KeyInput {
  readonly ephemeralPrivate: Uint8Array;
  readonly peerEphemeral: Uint8Array;
  readonly responderKey: Uint8Array;
  readonly initiation: Uint8Array;
  readonly response: Uint8Array;
}

/** Derives the data keys; undefined when the X25519 result is all zeros. */
export function deriveSessionKeys(input: KeyInput): SessionKeys | undefined {
  const shared = x25519Shared(input.ephemeralPrivate, input.peerEphemeral);
  if (!shared) return undefined;
  const salt = hash(
    LABEL_KEYS,
    input.responderKey,
    input.initiation,
    input.response.subarray(0, RESP_MAC_START),
  );
  const okm = deriveKeys(shared, salt, LABEL_KEYS, 2 * KEY_BYTES);
  shared.fill(0);
  return {
    initiatorToResponder: okm.slice(0, KEY_BYTES),
    responderToInitiator: okm.slice(KEY_BYTES),
  };
}

function headerOk(msg: Uint8Array, type: number): boolean {
  return msg[0] === type && msg[1] === 0 && msg[2] === 0 && msg[3] === 0;
}

function macOk(msg: Uint8Array, macStart: number, key: Uint8Array): boolean {
  const expected = mac(key, msg.subarray(0, macStart));
  return equalBytes(expected, msg.subarray(macStart, macStart + MAC_BYTES));
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

function writeU64(view: DataView, at: number, value: number): void {
  view.setUint32(at, value >>> 0, true);
  view.setUint32(at + 4, Math.floor(value / 2 ** 32), true);
}

function readU64(view: DataView, at: number): number {
  return view.getUint32(at, true) + view.getUint32(at + 4, true) * 2 ** 32;
}
