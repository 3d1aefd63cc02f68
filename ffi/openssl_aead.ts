/**
 * The native AEAD backend: OpenSSL 3 `libcrypto.so.3` ChaCha20-Poly1305 through `Deno.dlopen`.
 *
 * About 1.2 µs per 1400-byte packet against about 30 µs for the pure TypeScript backend (see
 * `/work/shared/research/deno-feasibility.md`). Each {@link Aead} owns two `EVP_CIPHER_CTX`s, one
 * per direction, keyed once in `create`. Per packet it only sets the nonce and runs
 * init/update/final/ctrl on the caller's buffer in place, with every pointer passed as a raw
 * BigInt address in a `u64` parameter (V8 fast calls). Nothing is allocated per packet: the
 * address of the last buffer is cached, the nonce, the tag and `outl` live in one preallocated
 * scratch buffer, and the tag is copied between it and the packet in JavaScript.
 *
 * Lifetime: every buffer whose address goes to C is reachable from the `Aead` while C uses it
 * (the scratch buffer for the object's life, the packet buffer through the address cache), and
 * off-heap backing stores do not move. Contexts are freed by `destroy()` (which also cleanses the
 * key schedule), or by a finalizer if an `Aead` is dropped without it.
 *
 * The library stays open for the life of the isolate; each Worker opens its own copy.
 * @module
 */
import type { Aead, AeadBackend } from "../lib/core/aead.ts";

const KEY_BYTES = 32;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
/** `EVP_CTRL_AEAD_GET_TAG` from `openssl/evp.h`. */
const EVP_CTRL_AEAD_GET_TAG = 0x10;
/** `EVP_CTRL_AEAD_SET_TAG` from `openssl/evp.h`. */
const EVP_CTRL_AEAD_SET_TAG = 0x11;
/** Largest `int inl` OpenSSL takes per update. */
const MAX_UPDATE_BYTES = 0x7fffffff;

/** Scratch layout: key (only during `create`), nonce, `int outl`, tag. */
const SCRATCH_KEY = 0;
const SCRATCH_NONCE = SCRATCH_KEY + KEY_BYTES;
const SCRATCH_OUTL = SCRATCH_NONCE + NONCE_BYTES;
const SCRATCH_TAG = SCRATCH_OUTL + 4;
const SCRATCH_BYTES = SCRATCH_TAG + TAG_BYTES;

const SYMBOLS = {
  /**
   * EVP_CIPHER *EVP_CIPHER_fetch(OSSL_LIB_CTX *ctx, const char *algorithm,
   *                              const char *properties);
   */
  EVP_CIPHER_fetch: { parameters: ["u64", "buffer", "u64"], result: "u64" },
  /** void EVP_CIPHER_free(EVP_CIPHER *cipher); */
  EVP_CIPHER_free: { parameters: ["u64"], result: "void" },
  /** EVP_CIPHER_CTX *EVP_CIPHER_CTX_new(void); */
  EVP_CIPHER_CTX_new: { parameters: [], result: "u64" },
  /** void EVP_CIPHER_CTX_free(EVP_CIPHER_CTX *ctx); */
  EVP_CIPHER_CTX_free: { parameters: ["u64"], result: "void" },
  /**
   * int EVP_EncryptInit_ex(EVP_CIPHER_CTX *ctx, const EVP_CIPHER *type, ENGINE *impl,
   *                        const unsigned char *key, const unsigned char *iv);
   */
  EVP_EncryptInit_ex: { parameters: ["u64", "u64", "u64", "u64", "u64"], result: "i32" },
  /**
   * int EVP_DecryptInit_ex(EVP_CIPHER_CTX *ctx, const EVP_CIPHER *type, ENGINE *impl,
   *                        const unsigned char *key, const unsigned char *iv);
   */
  EVP_DecryptInit_ex: { parameters: ["u64", "u64", "u64", "u64", "u64"], result: "i32" },
  /**
   * int EVP_EncryptUpdate(EVP_CIPHER_CTX *ctx, unsigned char *out, int *outl,
   *                       const unsigned char *in, int inl);
   */
  EVP_EncryptUpdate: { parameters: ["u64", "u64", "u64", "u64", "i32"], result: "i32" },
  /**
   * int EVP_DecryptUpdate(EVP_CIPHER_CTX *ctx, unsigned char *out, int *outl,
   *                       const unsigned char *in, int inl);
   */
  EVP_DecryptUpdate: { parameters: ["u64", "u64", "u64", "u64", "i32"], result: "i32" },
  /** int EVP_EncryptFinal_ex(EVP_CIPHER_CTX *ctx, unsigned char *out, int *outl); */
  EVP_EncryptFinal_ex: { parameters: ["u64", "u64", "u64"], result: "i32" },
  /** int EVP_DecryptFinal_ex(EVP_CIPHER_CTX *ctx, unsigned char *outm, int *outl); */
  EVP_DecryptFinal_ex: { parameters: ["u64", "u64", "u64"], result: "i32" },
  /** int EVP_CIPHER_CTX_ctrl(EVP_CIPHER_CTX *ctx, int type, int arg, void *ptr); */
  EVP_CIPHER_CTX_ctrl: { parameters: ["u64", "i32", "i32", "u64"], result: "i32" },
  /** void ERR_clear_error(void); */
  ERR_clear_error: { parameters: [], result: "void" },
} as const;

type Symbols = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

/** The raw address of a view's first byte (0 for an empty view). */
function addressOf(view: Uint8Array): bigint {
  return Deno.UnsafePointer.value(Deno.UnsafePointer.of(view as Uint8Array<ArrayBuffer>));
}

/** True for an integer in [0, max]. */
function isCount(n: number, max: number): boolean {
  return Number.isInteger(n) && n >= 0 && n <= max;
}

interface Contexts {
  enc: bigint;
  dec: bigint;
}

class OpensslAead implements Aead {
  readonly #lib: Symbols;
  /** Owned by the finalizer registration too; both fields are 0n once freed. */
  readonly #ctx: Contexts;
  /** Key (zeroed after `create`), nonce, `outl` and tag; its address is used for its life. */
  readonly #scratch = new Uint8Array(SCRATCH_BYTES);
  readonly #nonceAddr: bigint;
  readonly #outlAddr: bigint;
  readonly #tagAddr: bigint;
  /** Address cache: the last packet buffer (kept reachable here) and its AAD length. */
  #buf: Uint8Array = new Uint8Array(0);
  #aadLength = -1;
  #aadAddr = 0n;
  #dataAddr = 0n;

  constructor(lib: Symbols, cipher: bigint, key: Uint8Array) {
    if (key.length !== KEY_BYTES) throw new TypeError(`key must be ${KEY_BYTES} bytes`);
    this.#lib = lib;
    const base = addressOf(this.#scratch);
    this.#nonceAddr = base + BigInt(SCRATCH_NONCE);
    this.#outlAddr = base + BigInt(SCRATCH_OUTL);
    this.#tagAddr = base + BigInt(SCRATCH_TAG);
    const enc = lib.EVP_CIPHER_CTX_new();
    const dec = lib.EVP_CIPHER_CTX_new();
    this.#ctx = { enc, dec };
    this.#scratch.set(key, SCRATCH_KEY);
    const keyAddr = base + BigInt(SCRATCH_KEY);
    const ok = enc !== 0n && dec !== 0n &&
      lib.EVP_EncryptInit_ex(enc, cipher, 0n, keyAddr, 0n) === 1 &&
      lib.EVP_DecryptInit_ex(dec, cipher, 0n, keyAddr, 0n) === 1;
    this.#scratch.fill(0, SCRATCH_KEY, SCRATCH_KEY + KEY_BYTES);
    if (!ok) {
      lib.ERR_clear_error();
      freeContexts(lib, this.#ctx);
      throw new Error("OpenSSL: cannot set up a ChaCha20-Poly1305 context");
    }
    finalizer.register(this, { lib, ctx: this.#ctx }, this);
  }

  seal(buf: Uint8Array, aadLength: number, length: number, counter: number): void {
    if (!isCount(counter, Number.MAX_SAFE_INTEGER)) throw new RangeError(`bad counter ${counter}`);
    this.#setNonce(counter);
    this.sealWithScratchNonce(buf, aadLength, length);
  }

  open(buf: Uint8Array, aadLength: number, length: number, counter: number): boolean {
    if (!isCount(counter, Number.MAX_SAFE_INTEGER)) return false;
    this.#setNonce(counter);
    return this.openWithScratchNonce(buf, aadLength, length);
  }

  destroy(): void {
    if (this.#ctx.enc === 0n && this.#ctx.dec === 0n) return;
    finalizer.unregister(this);
    freeContexts(this.#lib, this.#ctx);
    this.#scratch.fill(0);
    this.#buf = new Uint8Array(0);
    this.#aadLength = -1;
  }

  /** Copies an explicit 12-byte nonce into the scratch (tests only). */
  setNonceBytes(nonce: Uint8Array): void {
    if (nonce.length !== NONCE_BYTES) throw new TypeError(`nonce must be ${NONCE_BYTES} bytes`);
    this.#scratch.set(nonce, SCRATCH_NONCE);
  }

  /** `seal` with the nonce already in the scratch buffer. */
  sealWithScratchNonce(buf: Uint8Array, aadLength: number, length: number): void {
    const ctx = this.#ctx.enc;
    if (ctx === 0n) throw new Error("seal() after destroy()");
    if (
      !isCount(aadLength, MAX_UPDATE_BYTES) || !isCount(length, MAX_UPDATE_BYTES) ||
      aadLength + length + TAG_BYTES > buf.length
    ) {
      throw new RangeError(
        `seal: ${aadLength} + ${length} + ${TAG_BYTES} bytes do not fit a ${buf.length}-byte buffer`,
      );
    }
    this.#resolve(buf, aadLength);
    const lib = this.#lib;
    const outl = this.#outlAddr;
    const data = this.#dataAddr;
    let ok = lib.EVP_EncryptInit_ex(ctx, 0n, 0n, 0n, this.#nonceAddr) === 1;
    if (ok && aadLength > 0) {
      ok = lib.EVP_EncryptUpdate(ctx, 0n, outl, this.#aadAddr, aadLength) === 1;
    }
    if (ok && length > 0) {
      ok = lib.EVP_EncryptUpdate(ctx, data, outl, data, length) === 1 && this.#outl() === length;
    }
    ok = ok && lib.EVP_EncryptFinal_ex(ctx, data, outl) === 1 && this.#outl() === 0 &&
      lib.EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, TAG_BYTES, this.#tagAddr) === 1;
    if (!ok) {
      lib.ERR_clear_error();
      throw new Error("OpenSSL: ChaCha20-Poly1305 seal failed");
    }
    const scratch = this.#scratch;
    const at = aadLength + length;
    for (let i = 0; i < TAG_BYTES; i++) buf[at + i] = scratch[SCRATCH_TAG + i];
  }

  /** `open` with the nonce already in the scratch buffer. */
  openWithScratchNonce(buf: Uint8Array, aadLength: number, length: number): boolean {
    const ctx = this.#ctx.dec;
    if (
      ctx === 0n || !isCount(aadLength, MAX_UPDATE_BYTES) ||
      !isCount(length, MAX_UPDATE_BYTES) || length < TAG_BYTES || aadLength + length > buf.length
    ) {
      return false;
    }
    this.#resolve(buf, aadLength);
    const textLength = length - TAG_BYTES;
    const scratch = this.#scratch;
    const at = aadLength + textLength;
    for (let i = 0; i < TAG_BYTES; i++) scratch[SCRATCH_TAG + i] = buf[at + i];
    const lib = this.#lib;
    const outl = this.#outlAddr;
    const data = this.#dataAddr;
    let ok = lib.EVP_DecryptInit_ex(ctx, 0n, 0n, 0n, this.#nonceAddr) === 1 &&
      lib.EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, TAG_BYTES, this.#tagAddr) === 1;
    if (ok && aadLength > 0) {
      ok = lib.EVP_DecryptUpdate(ctx, 0n, outl, this.#aadAddr, aadLength) === 1;
    }
    if (ok && textLength > 0) {
      ok = lib.EVP_DecryptUpdate(ctx, data, outl, data, textLength) === 1 &&
        this.#outl() === textLength;
    }
    ok = ok && lib.EVP_DecryptFinal_ex(ctx, data, outl) === 1;
    if (!ok) lib.ERR_clear_error();
    return ok;
  }

  /** 4 zero bytes, then the counter as u64 little-endian. */
  #setNonce(counter: number): void {
    const s = this.#scratch;
    const low = counter >>> 0;
    const high = Math.floor(counter / 2 ** 32) >>> 0;
    s[SCRATCH_NONCE] =
      s[SCRATCH_NONCE + 1] =
      s[SCRATCH_NONCE + 2] =
      s[SCRATCH_NONCE + 3] =
        0;
    s[SCRATCH_NONCE + 4] = low & 0xff;
    s[SCRATCH_NONCE + 5] = (low >>> 8) & 0xff;
    s[SCRATCH_NONCE + 6] = (low >>> 16) & 0xff;
    s[SCRATCH_NONCE + 7] = low >>> 24;
    s[SCRATCH_NONCE + 8] = high & 0xff;
    s[SCRATCH_NONCE + 9] = (high >>> 8) & 0xff;
    s[SCRATCH_NONCE + 10] = (high >>> 16) & 0xff;
    s[SCRATCH_NONCE + 11] = high >>> 24;
  }

  /** The `int outl` OpenSSL last wrote, read without a DataView (little-endian). */
  #outl(): number {
    const s = this.#scratch;
    return s[SCRATCH_OUTL] | (s[SCRATCH_OUTL + 1] << 8) | (s[SCRATCH_OUTL + 2] << 16) |
      (s[SCRATCH_OUTL + 3] << 24);
  }

  /**
   * Caches the addresses of `buf` (which has at least TAG_BYTES bytes, so a non-null address)
   * and keeps it reachable until another buffer replaces it.
   */
  #resolve(buf: Uint8Array, aadLength: number): void {
    if (buf === this.#buf && aadLength === this.#aadLength) return;
    // Receive slots rotate: remember each buffer's addresses (off-heap, so they never move).
    let known = addressCache.get(buf);
    if (known === undefined || known.aadLength !== aadLength) {
      const base = addressOf(buf);
      known = { aadLength, base, data: base + BigInt(aadLength) };
      addressCache.set(buf, known);
    }
    this.#buf = buf;
    this.#aadLength = aadLength;
    this.#aadAddr = known.base;
    this.#dataAddr = known.data;
  }
}

/** Addresses of the buffers packets were sealed or opened in, shared by every `Aead`. */
const addressCache = new WeakMap<Uint8Array, { aadLength: number; base: bigint; data: bigint }>();

function freeContexts(lib: Symbols, ctx: Contexts): void {
  if (ctx.enc !== 0n) lib.EVP_CIPHER_CTX_free(ctx.enc);
  if (ctx.dec !== 0n) lib.EVP_CIPHER_CTX_free(ctx.dec);
  ctx.enc = ctx.dec = 0n;
}

/** Frees the contexts of an `Aead` that became unreachable without `destroy()`. */
const finalizer = new FinalizationRegistry<{ lib: Symbols; ctx: Contexts }>(({ lib, ctx }) =>
  freeContexts(lib, ctx)
);

/** RFC 8439 §2.8.2, checked once when the library is opened. */
const SELF_TEST = {
  key: "808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f",
  nonce: "070000004041424344454647",
  aad: "50515253c0c1c2c3c4c5c6c7",
  plaintext:
    "Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the " +
    "future, sunscreen would be it.",
  head: "d31a8d34648e60db",
  tag: "1ae10b594f09e26a7e902ecbd0600691",
};

function fromHex(hex: string): Uint8Array {
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

function toHex(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += b.toString(16).padStart(2, "0");
  return s;
}

/** Seals and opens the RFC vector; false if the library gets it wrong. */
function selfTest(backend: AeadBackend): boolean {
  const t = SELF_TEST;
  const aad = fromHex(t.aad);
  const plain = new TextEncoder().encode(t.plaintext);
  const buf = new Uint8Array(aad.length + plain.length + TAG_BYTES);
  buf.set(aad);
  buf.set(plain, aad.length);
  const nonce = fromHex(t.nonce);
  const aead = backend.create(fromHex(t.key));
  try {
    sealWithNonce(aead, nonce, buf, aad.length, plain.length);
    const sealedOk = toHex(buf.subarray(aad.length, aad.length + 8)) === t.head &&
      toHex(buf.subarray(buf.length - TAG_BYTES)) === t.tag;
    const openedOk = openWithNonce(aead, nonce, buf, aad.length, plain.length + TAG_BYTES) &&
      toHex(buf.subarray(aad.length, aad.length + plain.length)) === toHex(plain);
    return sealedOk && openedOk;
  } finally {
    aead.destroy();
  }
}

/** undefined: not tried yet; null: unavailable. */
let loaded: AeadBackend | null | undefined;

/**
 * The OpenSSL ChaCha20-Poly1305 backend (name `openssl`), or undefined when `libcrypto.so.3`,
 * its ChaCha20-Poly1305 cipher or the FFI permission is missing, or the library fails a
 * known-answer test; callers then fall back to the pure TypeScript backend. Opens the library
 * on the first call and returns the same backend afterwards.
 */
export function openOpensslAead(): AeadBackend | undefined {
  if (loaded !== undefined) return loaded ?? undefined;
  loaded = null;
  let library: Deno.DynamicLibrary<typeof SYMBOLS>;
  try {
    library = Deno.dlopen("libcrypto.so.3", SYMBOLS);
  } catch {
    return undefined;
  }
  const lib = library.symbols;
  const cipher = lib.EVP_CIPHER_fetch(0n, new TextEncoder().encode("ChaCha20-Poly1305\0"), 0n);
  if (cipher === 0n) {
    lib.ERR_clear_error();
    library.close();
    return undefined;
  }
  const backend: AeadBackend = {
    name: "openssl",
    create: (key) => new OpensslAead(lib, cipher, key),
  };
  let passed = false;
  try {
    passed = selfTest(backend);
  } catch {
    passed = false;
  }
  if (!passed) {
    lib.EVP_CIPHER_free(cipher);
    library.close();
    return undefined;
  }
  // The cipher and the library stay for the life of the isolate.
  loaded = backend;
  return backend;
}

function asOpenssl(aead: Aead): OpensslAead {
  if (!(aead instanceof OpensslAead)) throw new TypeError("not an OpenSSL Aead");
  return aead;
}

/**
 * Internal, for known-answer tests: `seal` with an explicit 12-byte nonce instead of
 * `0^4 || counter`. `aead` must come from the OpenSSL backend.
 */
export function sealWithNonce(
  aead: Aead,
  nonce: Uint8Array,
  buf: Uint8Array,
  aadLength: number,
  length: number,
): void {
  const a = asOpenssl(aead);
  a.setNonceBytes(nonce);
  a.sealWithScratchNonce(buf, aadLength, length);
}

/** Internal, for known-answer tests: `open` with an explicit 12-byte nonce. */
export function openWithNonce(
  aead: Aead,
  nonce: Uint8Array,
  buf: Uint8Array,
  aadLength: number,
  length: number,
): boolean {
  const a = asOpenssl(aead);
  a.setNonceBytes(nonce);
  return a.openWithScratchNonce(buf, aadLength, length);
}
