import { strict as assert } from "node:assert";
import { decodeKey, encodeKey } from "./base64_key.ts";

const KNOWN = "04TtxLqjeTLpPJPN4GZas5CAyMciLvS8c5yXjcmqaXc=";

function referenceBase64(bytes: Uint8Array): string {
  return btoa(String.fromCharCode(...bytes));
}

Deno.test("decodeKey: decodes a real key and matches the platform decoder", () => {
  const bytes = decodeKey(KNOWN);
  assert.ok(bytes);
  assert.equal(bytes.length, 32);
  assert.deepEqual(bytes, Uint8Array.from(atob(KNOWN), (c) => c.charCodeAt(0)));
});

Deno.test("decodeKey/encodeKey: round-trip random keys", () => {
  for (let i = 0; i < 200; i++) {
    const bytes = crypto.getRandomValues(new Uint8Array(32));
    const text = encodeKey(bytes);
    assert.equal(text, referenceBase64(bytes));
    assert.deepEqual(decodeKey(text), bytes);
  }
});

Deno.test("decodeKey: all-zero and all-ones keys", () => {
  assert.deepEqual(decodeKey("A".repeat(43) + "="), new Uint8Array(32));
  assert.deepEqual(decodeKey("/".repeat(42) + "8="), new Uint8Array(32).fill(255));
});

Deno.test("decodeKey: rejects anything but a canonical 44-character key", () => {
  const bad = [
    "",
    KNOWN.slice(0, 43), // no padding
    KNOWN + "=", // 45 characters
    KNOWN.slice(0, 42) + "==", // 31 bytes
    KNOWN.slice(0, 42) + "d=", // unused low bits set
    KNOWN.slice(0, 42) + "Z=", // unused low bits set
    KNOWN.replace("T", "-"), // URL-safe alphabet
    KNOWN.replace("T", "_"),
    " " + KNOWN.slice(1),
    KNOWN.slice(0, 43) + " ",
    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", // 48 characters
  ];
  for (const text of bad) assert.equal(decodeKey(text), undefined, text);
});

Deno.test("encodeKey: pads short inputs like standard base64", () => {
  const enc = new TextEncoder();
  for (const s of ["", "f", "fo", "foo", "foob", "fooba", "foobar"]) {
    assert.equal(encodeKey(enc.encode(s)), btoa(s));
  }
});
