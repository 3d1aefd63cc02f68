/**
 * Cost of the TUN offload pieces, per call on a 64 KiB TCP super-packet of 47 segments of 1368
 * bytes (what a TUN with TSO hands over for one iperf3 flow at MTU 1420): cutting it into
 * segments with their checksums (lib/core/tso.ts), joining the 47 segments again
 * (lib/core/gro.ts), and the Internet checksum of one segment's payload. Divide by 47 for the
 * cost per packet.
 *
 *   deno bench --allow-all bench/offload_bench.ts
 */
import { finish, sumWords } from "../lib/core/checksum.ts";
import { Coalescer } from "../lib/core/gro.ts";
import { cutSegments } from "../lib/core/tso.ts";
import { segmentSlots, superPacket, superPacketHeader } from "./_wire.ts";

const MSS = 1368;
const SEGMENTS = 47;
const packet = superPacket(MSS, SEGMENTS);
const header = superPacketHeader(MSS);
const mem = new Uint8Array(2 * 70_000);
let sink = 0;

Deno.bench({
  name: `tso: cut one super-packet into ${SEGMENTS} segments`,
  group: "offload",
  fn() {
    mem.set(packet, 16);
    sink += cutSegments(mem, 16, packet.length, header, 70_016, () => {});
  },
});

// The segments as recvmmsg would leave them.
const { slots, lengths } = segmentSlots(MSS, SEGMENTS);
const gro = new Coalescer(() => void sink++);

Deno.bench({
  name: `gro: join ${SEGMENTS} segments into one write`,
  group: "offload",
  fn() {
    for (let i = 0; i < slots.length; i++) gro.push(slots[i], 16, lengths[i]);
    gro.flush();
  },
});

Deno.bench({
  name: `checksum of one ${MSS}-byte payload`,
  group: "offload",
  fn() {
    sink ^= finish(sumWords(packet, 52, MSS));
  },
});
