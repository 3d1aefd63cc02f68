/**
 * The public-key and hash primitives of the handshake, from `@noble/curves` and `@noble/hashes`:
 * Ed25519 (RFC 8032) identities, X25519 (RFC 7748) ephemeral exchange, HKDF-SHA-256 (RFC 5869),
 * SHA-256 transcripts and keyed BLAKE2s for the cheap pre-signature MAC. Pure functions only.
 * @module
 */
import { ed25519, x25519 } from "@noble/curves/ed25519.js";
import { blake2s } from "@noble/hashes/blake2.js";
import { hkdf } from "@noble/hashes/hkdf.js";
import { sha256 } from "@noble/hashes/sha2.js";

/** Length of every key in this module. */
export const KEY_BYTES = 32;
/** Length of an Ed25519 signature. */
export const SIGNATURE_BYTES = 64;
/** Length of the pre-signature MAC. */
export const MAC_BYTES = 16;

/** The Ed25519 public key of a 32-byte private key (seed). */
export function publicKeyOf(privateKey: Uint8Array): Uint8Array {
  return ed25519.getPublicKey(privateKey);
}

/** True when `publicKey` decodes to a valid Ed25519 point of large order. */
export function isValidPublicKey(publicKey: Uint8Array): boolean {
  if (publicKey.length !== KEY_BYTES) return false;
  try {
    const point = ed25519.Point.fromBytes(publicKey);
    return !point.isSmallOrder();
  } catch {
    return false;
  }
}

/** Signs `message` with an Ed25519 private key (deterministic, RFC 8032). */
export function sign(message: Uint8Array, privateKey: Uint8Array): Uint8Array {
  return ed25519.sign(message, privateKey);
}

/** Verifies a signature strictly (canonical S, no small-order keys); never throws. */
export function verify(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean {
  try {
    return ed25519.verify(signature, message, publicKey, { zip215: false });
  } catch {
    return false;
  }
}

/** The X25519 public key of a 32-byte private key. */
export function x25519PublicKey(privateKey: Uint8Array): Uint8Array {
  return x25519.getPublicKey(privateKey);
}

/** X25519 shared secret, or undefined when it is all zeros (a low-order peer key). */
export function x25519Shared(
  privateKey: Uint8Array,
  publicKey: Uint8Array,
): Uint8Array | undefined {
  try {
    const shared = x25519.getSharedSecret(privateKey, publicKey);
    return shared.some((b) => b !== 0) ? shared : undefined;
  } catch {
    return undefined;
  }
}

/** SHA-256 of the concatenation of `parts`. */
export function hash(...parts: Uint8Array[]): Uint8Array {
  const h = sha256.create();
  for (const part of parts) h.update(part);
  return h.digest();
}

/** HKDF-SHA-256 expanding `ikm` with `salt` and `info` to `length` bytes. */
export function deriveKeys(
  ikm: Uint8Array,
  salt: Uint8Array,
  info: Uint8Array,
  length: number,
): Uint8Array {
  return hkdf(sha256, ikm, salt, info, length);
}

/** Keyed BLAKE2s-128 of `message`: the MAC checked before any signature. */
export function mac(key: Uint8Array, message: Uint8Array): Uint8Array {
  return blake2s(message, { key, dkLen: MAC_BYTES });
}

/** BLAKE2s-256 of the concatenation of `parts` (used to derive MAC keys). */
export function macKey(...parts: Uint8Array[]): Uint8Array {
  const h = blake2s.create({ dkLen: KEY_BYTES });
  for (const part of parts) h.update(part);
  return h.digest();
}

/** Compares two byte arrays in time independent of where they differ. */
export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
  return diff === 0;
}
