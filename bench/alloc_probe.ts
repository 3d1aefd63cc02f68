/**
 * Allocation per packet in the steady state: JS heap bytes allocated per A → B device trip
 * (seal, send, receive, open, deliver), measured with a young generation large enough that no
 * collection runs during the measurement.
 *
 *   deno task bench:alloc
 * @module
 */
import { nobleAead } from "../lib/core/aead_noble.ts";
import { openOpensslAead } from "../ffi/openssl_aead.ts";
import { innerPacket, SLOT_BYTES, trip, Wire } from "./_wire.ts";

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error("run with --v8-flags=--expose-gc (deno task bench:alloc)");
const backend = openOpensslAead() ?? nobleAead;
const packets = 10_000;

for (const links of [1, 2]) {
  for (const size of [64, 1400]) {
    const wire = new Wire(backend, links);
    wire.connect();
    const tx = new Uint8Array(SLOT_BYTES);
    const packet = innerPacket(size);
    for (let i = 0; i < 20_000; i++) trip(wire, tx, packet); // JIT and caches warm
    gc();
    const before = Deno.memoryUsage();
    for (let i = 0; i < packets; i++) trip(wire, tx, packet);
    const after = Deno.memoryUsage();
    const heap = (after.heapUsed - before.heapUsed) / packets;
    const external = (after.external - before.external) / packets;
    console.log(
      `${backend.name}, ${size} B, ${links} path${links > 1 ? "s (duplicates)" : ""}: ` +
        `${heap.toFixed(1)} B of JS heap and ${external.toFixed(1)} B off-heap per packet`,
    );
  }
}
