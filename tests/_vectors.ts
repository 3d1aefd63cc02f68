/** Hex helpers and the published test vectors that more than one test checks. */

/** Bytes from a hex string. */
export const hex = (s: string): Uint8Array =>
  Uint8Array.from(s.match(/../g)!.map((b) => parseInt(b, 16)));

/** A hex string from bytes. */
export const toHex = (b: Uint8Array): string =>
  [...b].map((x) => x.toString(16).padStart(2, "0")).join("");

/**
 * RFC 8439 §2.8.2, the ChaCha20-Poly1305 AEAD example: inputs, the first 8 bytes of the
 * ciphertext and the tag.
 */
export const RFC8439_AEAD = {
  key: hex("808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f"),
  nonce: hex("070000004041424344454647"),
  aad: hex("50515253c0c1c2c3c4c5c6c7"),
  plaintext: new TextEncoder().encode(
    "Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the " +
      "future, sunscreen would be it.",
  ),
  ciphertextStart: "d31a8d34648e60db",
  tag: "1ae10b594f09e26a7e902ecbd0600691",
} as const;
