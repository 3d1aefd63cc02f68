/**
 * The portable AEAD backend: `@noble/ciphers` ChaCha20-Poly1305, sealing in place.
 *
 * It allocates inside noble on every call (about 30 us per packet, see
 * ../shared/research/deno-feasibility.md); a native backend replaces it on the fast path and this
 * one stays as the fallback and the reference in tests.
 * @module
 */
import { chacha20poly1305 } from "@noble/ciphers/chacha.js";
import { TAG_BYTES } from "./constants.ts";
import type { Aead, AeadBackend } from "./aead.ts";

class NobleAead implements Aead {
  #key: Uint8Array;
  readonly #nonce = new Uint8Array(12);
  readonly #nonceView = new DataView(this.#nonce.buffer);

  constructor(key: Uint8Array) {
    this.#key = key.slice();
  }

  #setNonce(counter: number): void {
    this.#nonceView.setUint32(4, counter >>> 0, true);
    this.#nonceView.setUint32(8, Math.floor(counter / 2 ** 32), true);
  }

  seal(buf: Uint8Array, aadLength: number, length: number, counter: number): void {
    this.#setNonce(counter);
    const aad = buf.subarray(0, aadLength);
    const plain = buf.subarray(aadLength, aadLength + length);
    const out = buf.subarray(aadLength, aadLength + length + TAG_BYTES);
    chacha20poly1305(this.#key, this.#nonce, aad).encrypt(plain, out);
  }

  open(buf: Uint8Array, aadLength: number, length: number, counter: number): boolean {
    if (length < TAG_BYTES) return false;
    this.#setNonce(counter);
    const aad = buf.subarray(0, aadLength);
    const sealed = buf.subarray(aadLength, aadLength + length);
    const out = buf.subarray(aadLength, aadLength + length - TAG_BYTES);
    try {
      chacha20poly1305(this.#key, this.#nonce, aad).decrypt(sealed, out);
      return true;
    } catch {
      return false;
    }
  }

  destroy(): void {
    this.#key.fill(0);
  }
}

/** ChaCha20-Poly1305 from `@noble/ciphers`. */
export const nobleAead: AeadBackend = {
  name: "noble",
  create: (key) => new NobleAead(key),
};
