/** `centipede genkey` and `centipede pubkey`. */
import { decodeKey, encodeKey } from "../config/base64_key.ts";
import { publicKeyOf } from "../core/crypto.ts";

/** A fresh private key (32 random bytes, an Ed25519 seed) in base64. */
export function genkey(): string {
  const key = new Uint8Array(32);
  crypto.getRandomValues(key);
  return encodeKey(key);
}

/** The public key of a base64 private key read from `input`; throws without echoing it. */
export function pubkey(input: string): string {
  const key = decodeKey(input.trim());
  if (!key) {
    throw new TypeError('pubkey: stdin is not a 32-byte base64 key (44 characters ending in "=")');
  }
  return encodeKey(publicKeyOf(key));
}

/**
 * A warning when standard output is a file that group or others can read, as `wg genkey` gives;
 * undefined otherwise (a terminal, a pipe, or a private file).
 */
export function stdoutExposureWarning(): string | undefined {
  try {
    const info = Deno.statSync("/proc/self/fd/1");
    if (!info.isFile || info.mode === null || (info.mode & 0o077) === 0) return undefined;
    return "Warning: writing a private key to a file that others can read. Consider `umask 077`.";
  } catch {
    return undefined;
  }
}
