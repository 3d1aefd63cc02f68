/**
 * Strict base64 for 32-byte keys, as `wg genkey` prints them: exactly 44 characters of the
 * standard alphabet, one `=` of padding, and the two unused low bits of the last digit zero.
 * Exactly one text decodes to a given key, so keys can be compared as text.
 * @module
 */

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/** Length of a key in bytes. */
export const KEY_BYTES = 32;

/** Length of a key in base64 characters, padding included. */
export const KEY_TEXT_LENGTH = 44;

/** 42 free digits, a 43rd whose two low bits are zero, then `=`. */
const KEY_PATTERN = /^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=$/;

/** Decodes a 44-character base64 key to its 32 bytes, or undefined when the text is not one. */
export function decodeKey(text: string): Uint8Array | undefined {
  if (!KEY_PATTERN.test(text)) return undefined;
  const bytes = new Uint8Array(KEY_BYTES);
  let accumulator = 0;
  let bits = 0;
  let index = 0;
  for (let i = 0; i < KEY_TEXT_LENGTH - 1; i++) {
    accumulator = (accumulator << 6) | ALPHABET.indexOf(text[i]);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      bytes[index++] = (accumulator >> bits) & 0xff;
      accumulator &= (1 << bits) - 1;
    }
  }
  return bytes;
}

/** Encodes bytes as standard padded base64 (a 32-byte key gives 44 characters). */
export function encodeKey(bytes: Uint8Array): string {
  let out = "";
  for (let i = 0; i < bytes.length; i += 3) {
    const b0 = bytes[i];
    const b1 = i + 1 < bytes.length ? bytes[i + 1] : 0;
    const b2 = i + 2 < bytes.length ? bytes[i + 2] : 0;
    const triple = (b0 << 16) | (b1 << 8) | b2;
    out += ALPHABET[(triple >> 18) & 63] + ALPHABET[(triple >> 12) & 63];
    out += i + 1 < bytes.length ? ALPHABET[(triple >> 6) & 63] : "=";
    out += i + 2 < bytes.length ? ALPHABET[triple & 63] : "=";
  }
  return out;
}
