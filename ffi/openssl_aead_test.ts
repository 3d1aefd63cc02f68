/**
 * The OpenSSL AEAD backend against RFC 8439 and against the noble reference backend.
 * `libcrypto.so.3` is required: without it every test here fails.
 */
import { strict as assert } from "node:assert";
import { chacha20poly1305 } from "@noble/ciphers/chacha.js";
import type { AeadBackend } from "../lib/core/aead.ts";
import { nobleAead } from "../lib/core/aead_noble.ts";
import { openOpensslAead, openWithNonce, sealWithNonce } from "./openssl_aead.ts";
import { SeededRng } from "../tests/_packets.ts";
import { RFC8439_AEAD, toHex } from "../tests/_vectors.ts";

// Opened once for the whole file and never closed (the backend lives as long as the isolate), so
// no single test owns the library under `--sanitize-resources`.
const loaded = openOpensslAead();

function openssl(): AeadBackend {
  const backend = loaded;
  if (!backend) {
    throw new Error(
      "openOpensslAead() returned undefined: libcrypto.so.3 (OpenSSL 3) with ChaCha20-Poly1305 " +
        "must be installed, and the test needs --allow-ffi",
    );
  }
  return backend;
}

/** The WireGuard nonce for `counter`: 4 zero bytes, then the counter as u64 little-endian. */
function nonceOf(counter: number): Uint8Array {
  const n = new Uint8Array(12);
  const v = new DataView(n.buffer);
  v.setUint32(4, counter >>> 0, true);
  v.setUint32(8, Math.floor(counter / 2 ** 32), true);
  return n;
}

Deno.test("openOpensslAead loads libcrypto.so.3 and names itself openssl", () => {
  const backend = openssl();
  assert.equal(backend.name, "openssl");
  assert.equal(openOpensslAead(), backend, "the backend is opened once");
});

Deno.test("RFC 8439 §2.8.2 AEAD vector through EVP, sealed and opened in place", () => {
  const { key, nonce, aad, plaintext } = RFC8439_AEAD;
  const buf = new Uint8Array(aad.length + plaintext.length + 16);
  buf.set(aad);
  buf.set(plaintext, aad.length);
  const aead = openssl().create(key);
  sealWithNonce(aead, nonce, buf, aad.length, plaintext.length);
  const sealed = buf.subarray(aad.length);
  assert.equal(toHex(sealed.subarray(0, 8)), RFC8439_AEAD.ciphertextStart);
  assert.equal(toHex(sealed.subarray(plaintext.length)), RFC8439_AEAD.tag);
  assert.deepEqual(sealed, chacha20poly1305(key, nonce, aad).encrypt(plaintext));
  assert.deepEqual(buf.subarray(0, aad.length), aad, "the AAD is left alone");
  assert.equal(openWithNonce(aead, nonce, buf, aad.length, plaintext.length + 16), true);
  assert.deepEqual(buf.subarray(aad.length, aad.length + plaintext.length), plaintext);
  aead.destroy();
});

Deno.test("openssl and noble agree on 500 random packets, sealed by either, opened by the other", () => {
  const rand = new SeededRng(0x5eed);
  const key = rand.fill(new Uint8Array(32));
  const o = openssl().create(key);
  const n = nobleAead.create(key);
  // Two long-lived pools, as the engine has: the address cache sees reused and new buffers.
  const pool = [new Uint8Array(1600), new Uint8Array(1600)];
  for (let i = 0; i < 500; i++) {
    const length = i < 3 ? i : rand.int(1501);
    const aadLength = i % 5 === 0 ? 16 : rand.int(40);
    const counter = i % 7 === 0 ? rand.next() * 2 ** 16 + rand.int(65536) : rand.next();
    const offset = rand.int(9);
    const input = rand.fill(new Uint8Array(aadLength + length));
    // openssl seals in a reused buffer at a varying byteOffset, noble in a fresh copy.
    const backing = pool[i & 1];
    const a = i % 3 === 0
      ? new Uint8Array(aadLength + length + 16 + offset).subarray(offset)
      : backing.subarray(offset, offset + aadLength + length + 16 + rand.int(5));
    const b = new Uint8Array(aadLength + length + 16);
    a.set(input);
    b.set(input);
    o.seal(a, aadLength, length, counter);
    n.seal(b, aadLength, length, counter);
    const sealed = aadLength + length + 16;
    assert.deepEqual(a.subarray(0, sealed), b, `packet ${i}: ciphertexts differ`);
    // Cross-open: noble opens the openssl copy, openssl opens the noble copy.
    assert.equal(n.open(a, aadLength, length + 16, counter), true, `packet ${i}: noble open`);
    assert.equal(o.open(b, aadLength, length + 16, counter), true, `packet ${i}: openssl open`);
    assert.deepEqual(a.subarray(0, aadLength + length), input, `packet ${i}: noble plaintext`);
    assert.deepEqual(b.subarray(0, aadLength + length), input, `packet ${i}: openssl plaintext`);
  }
  o.destroy();
  n.destroy();
});

Deno.test("openssl rejects flipped bits in AAD, ciphertext and tag, and the wrong counter", () => {
  const backend = openssl();
  const aead = backend.create(new Uint8Array(32).fill(9));
  const sealed = new Uint8Array(16 + 40 + 16);
  sealed[0] = 4;
  for (let i = 16; i < 56; i++) sealed[i] = i;
  aead.seal(sealed, 16, 40, 7);
  for (let bit = 0; bit < sealed.length * 8; bit++) {
    const copy = sealed.slice();
    copy[bit >> 3] ^= 1 << (bit & 7);
    assert.equal(aead.open(copy, 16, 56, 7), false, `bit ${bit}`);
  }
  assert.equal(aead.open(sealed.slice(), 16, 56, 8), false, "wrong counter");
  assert.equal(aead.open(sealed.slice(), 16, 56, 7 + 2 ** 32), false, "wrong high counter word");
  assert.equal(backend.create(new Uint8Array(32)).open(sealed.slice(), 16, 56, 7), false, "key");
  const zeroTag = sealed.slice();
  zeroTag.fill(0, 56);
  assert.equal(aead.open(zeroTag, 16, 56, 7), false, "all-zero tag");
  // A failed open leaves nothing behind: the next good packet on the same context opens.
  const good = sealed.slice();
  assert.equal(aead.open(good, 16, 56, 7), true);
  assert.deepEqual(good.subarray(16, 56), Uint8Array.from({ length: 40 }, (_, i) => i + 16));
  aead.destroy();
});

Deno.test("counters above 2^32 use the high nonce word (checked against explicit nonces)", () => {
  const key = new Uint8Array(32).map((_, i) => 255 - i);
  const aead = openssl().create(key);
  for (
    const counter of [2 ** 32 - 1, 2 ** 32, 2 ** 32 + 1, 2 ** 40 + 3, 2 ** 47 + 99, 2 ** 48 - 1]
  ) {
    const buf = new Uint8Array(16 + 64 + 16).fill(0xab);
    const ref = buf.slice();
    aead.seal(buf, 16, 64, counter);
    sealWithNonce(aead, nonceOf(counter), ref, 16, 64);
    assert.deepEqual(buf, ref, `counter ${counter}`);
    const expected = chacha20poly1305(key, nonceOf(counter), buf.subarray(0, 16))
      .encrypt(new Uint8Array(64).fill(0xab));
    assert.deepEqual(buf.subarray(16), expected, `counter ${counter} against noble`);
    const wrapped = buf.slice();
    assert.equal(aead.open(wrapped, 16, 80, counter % 2 ** 32), counter < 2 ** 32, "low word");
    assert.equal(aead.open(buf, 16, 80, counter), true);
  }
  aead.destroy();
});

Deno.test("open returns false for lengths that cannot hold a tag or overrun the buffer", () => {
  const aead = openssl().create(new Uint8Array(32).fill(1));
  const buf = new Uint8Array(16 + 16);
  aead.seal(buf, 16, 0, 0);
  assert.equal(aead.open(buf.slice(), 16, 16, 0), true, "an empty (keepalive) packet");
  for (const length of [0, 1, 15]) {
    assert.equal(aead.open(buf.slice(), 16, length, 0), false, `length ${length}`);
  }
  assert.equal(aead.open(buf.slice(), 16, 17, 0), false, "longer than the buffer");
  assert.equal(aead.open(buf.slice(), 17, 16, 0), false, "AAD past the end");
  assert.equal(aead.open(buf.slice(), -1, 16, 0), false, "negative AAD");
  assert.equal(aead.open(buf.slice(), 16, 16.5, 0), false, "fractional length");
  assert.equal(aead.open(new Uint8Array(0), 0, 16, 0), false, "empty buffer");
  assert.equal(aead.open(buf.slice(), 16, 16, -1), false, "negative counter");
  aead.destroy();
});

Deno.test("seal refuses buffers without room for the tag; destroy makes the Aead unusable", () => {
  const backend = openssl();
  assert.throws(() => backend.create(new Uint8Array(16)), TypeError);
  const aead = backend.create(new Uint8Array(32).fill(2));
  assert.throws(() => aead.seal(new Uint8Array(16 + 10 + 15), 16, 10, 0), RangeError);
  assert.throws(() => aead.seal(new Uint8Array(40), 16, -1, 0), RangeError);
  const buf = new Uint8Array(16 + 10 + 16);
  aead.seal(buf, 16, 10, 1);
  aead.destroy();
  aead.destroy();
  assert.equal(aead.open(buf, 16, 26, 1), false, "open after destroy");
  assert.throws(() => aead.seal(buf, 16, 10, 2), /destroy/);
});

Deno.test("one buffer reused with changing AAD lengths and views keeps correct addresses", () => {
  const rand = new SeededRng(99);
  const key = rand.fill(new Uint8Array(32));
  const o = openssl().create(key);
  const n = nobleAead.create(key);
  const big = new Uint8Array(4096);
  for (let i = 0; i < 200; i++) {
    const aadLength = [0, 16, 3, 16][i & 3];
    const length = rand.int(300);
    const view = (i & 4) ? big : big.subarray(rand.int(64));
    rand.fill(view.subarray(0, aadLength + length));
    const ref = view.slice(0, aadLength + length + 16);
    o.seal(view, aadLength, length, i);
    n.seal(ref, aadLength, length, i);
    assert.deepEqual(view.subarray(0, ref.length), ref, `round ${i}`);
    assert.equal(o.open(view, aadLength, length + 16, i), true, `round ${i}`);
  }
  o.destroy();
});

Deno.test("many sessions: create/destroy churn and finalizer-freed contexts stay sound", () => {
  const backend = openssl();
  const buf = new Uint8Array(16 + 100 + 16);
  for (let i = 0; i < 2000; i++) {
    const aead = backend.create(new Uint8Array(32).fill(i & 0xff));
    aead.seal(buf, 16, 100, i);
    assert.equal(aead.open(buf, 16, 116, i), true);
    if (i % 2 === 0) aead.destroy(); // the others are left to the finalizer
  }
});
