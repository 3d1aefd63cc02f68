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
import {
  innerPacket,
  segmentSlots,
  SLOT_BYTES,
  superPacket,
  superPacketHeader,
  trip,
  Wire,
} from "./_wire.ts";
import { cutSegments } from "../lib/core/tso.ts";
import { Coalescer } from "../lib/core/gro.ts";
import { internAddr, openFfiUdpSocket } from "../ffi/udp_linux.ts";

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

// TUN offloads: cutting a 64 KiB super-packet into segments, and joining segments again.
{
  const mss = 1368;
  const count = 47;
  const super_ = superPacket(mss, count);
  const mem = new Uint8Array(2 * 70_000);
  let segments = 0;
  const emit = () => void segments++;
  const header = superPacketHeader(mss);
  const cutRound = () => {
    mem.set(super_, 16);
    cutSegments(mem, 16, super_.length, header, 70_016, emit);
  };
  for (let i = 0; i < 2_000; i++) cutRound();
  gc();
  let before = Deno.memoryUsage().heapUsed;
  segments = 0;
  for (let i = 0; i < 500; i++) cutRound();
  console.log(
    `tso cut: ${
      ((Deno.memoryUsage().heapUsed - before) / segments).toFixed(1)
    } B of JS heap per segment`,
  );

  const { slots, lengths } = segmentSlots(mss, count);
  let written = 0;
  const gro = new Coalescer(() => void written++);
  const joinRound = () => {
    for (let i = 0; i < slots.length; i++) gro.push(slots[i], 16, lengths[i]);
    gro.flush();
  };
  for (let i = 0; i < 5_000; i++) joinRound();
  gc();
  before = Deno.memoryUsage().heapUsed;
  for (let i = 0; i < 500; i++) joinRound();
  const per = (Deno.memoryUsage().heapUsed - before) / (500 * slots.length);
  console.log(`gro join: ${per.toFixed(1)} B of JS heap per segment (${written} writes)`);
}

// The FFI UDP socket: queueing datagrams from a larger sealing buffer (as the device does),
// sending them in one sendmmsg and receiving them in one recvmmsg, over loopback.
{
  const a = openFfiUdpSocket("127.0.0.1", 0);
  const b = openFfiUdpSocket("127.0.0.1", 0);
  const to = internAddr("127.0.0.1", b.localAddr.port);
  const region = new Uint8Array(2048);
  const batches = 2_000;
  const perBatch = 16;
  let received = 0;
  const round = () => {
    for (let i = 0; i < perBatch; i++) a.queue(region, 96, to);
    a.flush();
    for (let n = b.receiveBatch(); n > 0; n = b.receiveBatch()) received += n;
  };
  try {
    for (let i = 0; i < 2_000; i++) round();
    gc();
    const before = Deno.memoryUsage().heapUsed;
    received = 0;
    for (let i = 0; i < batches; i++) round();
    const per = (Deno.memoryUsage().heapUsed - before) / (batches * perBatch);
    console.log(
      `udp socket (FFI) queue, send, receive: ${per.toFixed(1)} B of JS heap per datagram ` +
        `(${received} of ${batches * perBatch} received)`,
    );
  } finally {
    a.close();
    b.close();
  }
}
