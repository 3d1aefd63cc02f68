/**
 * The AEAD port: ChaCha20-Poly1305 (RFC 8439) bound to one key and one direction.
 *
 * Messages are sealed in place: `buf[0, aadLength)` is authenticated but not encrypted, the
 * plaintext `buf[aadLength, aadLength + length)` is replaced by ciphertext and the 16-byte tag is
 * written right after it. The nonce is 4 zero bytes followed by the 64-bit little-endian counter.
 * Backends (pure TypeScript, OpenSSL through FFI) implement this; the core never allocates keys.
 * @module
 */

/** One key in one direction. */
export interface Aead {
  /** Encrypts `length` bytes after the AAD in place and appends the tag. */
  seal(buf: Uint8Array, aadLength: number, length: number, counter: number): void;
  /**
   * Verifies and decrypts in place. `length` counts ciphertext plus tag. Returns false, and
   * leaves the plaintext unspecified, when the tag does not verify. Never throws.
   */
  open(buf: Uint8Array, aadLength: number, length: number, counter: number): boolean;
  /** Forgets the key. */
  destroy(): void;
}

/** Creates `Aead`s for 32-byte keys. */
export interface AeadBackend {
  /** Short name for logs and `show`, e.g. `noble`. */
  readonly name: string;
  create(key: Uint8Array): Aead;
}
