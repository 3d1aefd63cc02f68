/** Known-answer tests: RFC 8439 (ChaCha20-Poly1305), RFC 8032 (Ed25519), RFC 7748 (X25519). */
import { strict as assert } from "node:assert";
import { chacha20poly1305 } from "@noble/ciphers/chacha.js";
import { nobleAead } from "./aead_noble.ts";
import { publicKeyOf, sign, verify, x25519PublicKey, x25519Shared } from "./crypto.ts";
import { hex, RFC8439_AEAD, toHex } from "../../tests/_vectors.ts";

Deno.test("RFC 8439 §2.8.2: ChaCha20-Poly1305 AEAD test vector", () => {
  const { key, nonce, aad, plaintext } = RFC8439_AEAD;
  const sealed = chacha20poly1305(key, nonce, aad).encrypt(plaintext);
  assert.equal(toHex(sealed.subarray(0, 8)), RFC8439_AEAD.ciphertextStart);
  assert.equal(toHex(sealed.subarray(sealed.length - 16)), RFC8439_AEAD.tag);
  assert.equal(sealed.length, plaintext.length + 16);
});

Deno.test("nobleAead seals in place with AAD = header and nonce = 0^4 || counter LE", () => {
  const key = new Uint8Array(32).map((_, i) => i);
  const counter = 2 ** 33 + 5;
  const buf = new Uint8Array(16 + 100 + 16);
  buf.set([4, 0, 0, 0, 1, 2, 3, 4], 0);
  for (let i = 0; i < 100; i++) buf[16 + i] = i * 7;
  const plain = buf.slice(16, 116);
  const aead = nobleAead.create(key);
  aead.seal(buf, 16, 100, counter);
  const nonce = hex("00000000" + "0500000002000000");
  const expected = chacha20poly1305(key, nonce, buf.subarray(0, 16)).encrypt(plain);
  assert.deepEqual(buf.subarray(16), expected);
  assert.equal(aead.open(buf, 16, 116, counter), true);
  assert.deepEqual(buf.subarray(16, 116), plain);
});

Deno.test("nobleAead.open rejects any flipped bit in header, ciphertext or tag", () => {
  const aead = nobleAead.create(new Uint8Array(32).fill(9));
  const sealed = new Uint8Array(16 + 20 + 16);
  sealed[0] = 4;
  aead.seal(sealed, 16, 20, 7);
  for (let bit = 0; bit < sealed.length * 8; bit += 13) {
    const copy = sealed.slice();
    copy[bit >> 3] ^= 1 << (bit & 7);
    assert.equal(aead.open(copy, 16, 36, 7), false, `bit ${bit}`);
  }
  assert.equal(aead.open(sealed.slice(), 16, 36, 8), false, "wrong counter");
  assert.equal(aead.open(sealed.slice(), 16, 10, 7), false, "shorter than a tag");
});

Deno.test("RFC 8032 §7.1 TEST 1 and TEST 2: Ed25519 keys and signatures", () => {
  const cases = [
    {
      sk: "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
      pk: "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
      msg: "",
      sig: "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc" +
        "61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
    },
    {
      sk: "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
      pk: "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
      msg: "72",
      sig: "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e4" +
        "58f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00",
    },
  ];
  for (const c of cases) {
    const msg = c.msg ? hex(c.msg) : new Uint8Array(0);
    assert.equal(toHex(publicKeyOf(hex(c.sk))), c.pk);
    assert.equal(toHex(sign(msg, hex(c.sk))), c.sig);
    assert.equal(verify(hex(c.sig), msg, hex(c.pk)), true);
    const bad = hex(c.sig);
    bad[0] ^= 1;
    assert.equal(verify(bad, msg, hex(c.pk)), false);
  }
});

Deno.test("RFC 7748 §6.1: X25519 Diffie-Hellman", () => {
  const alice = hex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a");
  const bob = hex("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb");
  const alicePub = x25519PublicKey(alice);
  const bobPub = x25519PublicKey(bob);
  assert.equal(toHex(alicePub), "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a");
  assert.equal(toHex(bobPub), "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f");
  const shared = "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742";
  assert.equal(toHex(x25519Shared(alice, bobPub)!), shared);
  assert.equal(toHex(x25519Shared(bob, alicePub)!), shared);
});

Deno.test("RFC 7748 §5.2: X25519 single-shot vectors", () => {
  const k = hex("a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4");
  const u = hex("e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c");
  assert.equal(
    toHex(x25519Shared(k, u)!),
    "c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552",
  );
});

Deno.test("x25519Shared refuses a low-order peer key (all-zero result)", () => {
  const k = hex("a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4");
  assert.equal(x25519Shared(k, new Uint8Array(32)), undefined);
  const one = new Uint8Array(32);
  one[0] = 1;
  assert.equal(x25519Shared(k, one), undefined);
});
