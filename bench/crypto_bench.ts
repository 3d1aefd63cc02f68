/**
 * Per-packet AEAD cost, noble against OpenSSL, at 64 B and 1400 B: one iteration is one packet
 * (16-byte header as AAD, payload, 16-byte tag) sealed and opened again in place, as the
 * sender and the receiver would. Each group shows both backends side by side, noble as baseline.
 *
 *   deno bench --allow-all bench/crypto_bench.ts
 */
import type { Aead, AeadBackend } from "../lib/core/aead.ts";
import { nobleAead } from "../lib/core/aead_noble.ts";
import { openOpensslAead } from "../ffi/openssl_aead.ts";

const HEADER = 16;
const TAG = 16;
const openssl = openOpensslAead();
if (!openssl) console.warn("crypto_bench: libcrypto.so.3 unavailable, OpenSSL benches skipped");

const backends: [AeadBackend | undefined, boolean][] = [[nobleAead, true], [openssl, false]];

for (const size of [64, 1400]) {
  for (const [backend, baseline] of backends) {
    const name = backend?.name ?? "openssl";
    const key = new Uint8Array(32).map((_, i) => i * 7);
    const buf = new Uint8Array(HEADER + size + TAG).map((_, i) => i);
    let sender: Aead | undefined;
    let receiver: Aead | undefined;
    let counter = 0;
    const setUp = () => {
      sender ??= backend!.create(key);
      receiver ??= backend!.create(key);
    };

    Deno.bench({
      name: `${name} seal+open ${size} B`,
      group: `seal+open ${size} B`,
      baseline,
      ignore: backend === undefined,
      fn() {
        setUp();
        sender!.seal(buf, HEADER, size, counter);
        if (!receiver!.open(buf, HEADER, size + TAG, counter)) throw new Error("open failed");
        counter++;
      },
    });

    Deno.bench({
      name: `${name} seal ${size} B`,
      group: `seal only ${size} B`,
      baseline,
      ignore: backend === undefined,
      fn() {
        setUp();
        // Ciphertext is sealed again as if it were plaintext: same cost, no re-fill needed.
        sender!.seal(buf, HEADER, size, counter++);
      },
    });
  }
}
