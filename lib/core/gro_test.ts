import { strict as assert } from "node:assert";
import { Coalescer } from "./gro.ts";
import { cutSegments } from "./tso.ts";
import {
  newVnetHeader,
  readVnetHeader,
  VNET_GSO_TCPV4,
  VNET_GSO_TCPV6,
  VNET_HEADER_BYTES,
} from "./vnet.ts";
import {
  checksumsValid,
  ipv4Packet,
  referenceChecksum,
  SeededRng,
  tcpPacket,
  type TcpPacketSpec,
} from "../../tests/_packets.ts";

const TIMESTAMPS = new Uint8Array([1, 1, 8, 10, 0, 0, 0, 9, 0, 0, 0, 3]);

/** What the coalescer wrote: virtio-net header and packet, copied. */
function collect() {
  const written: { header: ReturnType<typeof newVnetHeader>; packet: Uint8Array }[] = [];
  const gro = new Coalescer((buf, offset, length) => {
    const header = newVnetHeader();
    readVnetHeader(buf, offset, header);
    written.push({ header, packet: buf.slice(offset + VNET_HEADER_BYTES, offset + length) });
  });
  return { gro, written };
}

/** `count` back-to-back segments of `size` bytes (the last `lastSize`), ids counting up. */
function run(
  version: 4 | 6,
  count: number,
  size: number,
  lastSize = size,
  extra: Partial<TcpPacketSpec> = {},
) {
  const rng = new SeededRng(5);
  const segments: Uint8Array[] = [];
  let seq = 0xffffff00;
  for (let i = 0; i < count; i++) {
    const payload = new Uint8Array(i === count - 1 ? lastSize : size);
    rng.fill(payload);
    segments.push(tcpPacket({ version, seq, payload, id: 50 + i, options: TIMESTAMPS, ...extra }));
    seq = (seq + payload.length) >>> 0;
  }
  return segments;
}

function push(gro: Coalescer, packets: Uint8Array[]) {
  for (const p of packets) {
    const buf = new Uint8Array(p.length + 16);
    buf.set(p, 16);
    gro.push(buf, 16, p.length);
  }
}

/** Cuts a joined packet again, as the kernel would, with the header the coalescer wrote. */
function recut(w: { header: ReturnType<typeof newVnetHeader>; packet: Uint8Array }): Uint8Array[] {
  const mem = new Uint8Array(w.packet.length * 2 + 100);
  mem.set(w.packet);
  const out: Uint8Array[] = [];
  const dst = w.packet.length + 50;
  cutSegments(mem, 0, w.packet.length, w.header, dst, (n) => out.push(mem.slice(dst, dst + n)));
  return out;
}

for (const version of [4, 6] as const) {
  Deno.test(`gro: consecutive TCP/IPv${version} segments join and cut back to the same bytes`, () => {
    const { gro, written } = collect();
    const segments = run(version, 6, 1200, 700);
    push(gro, segments);
    assert.deepStrictEqual(written.length, 1, "the short last segment ends the run");
    const w = written[0];
    const l4 = version === 4 ? 20 : 40;
    assert.deepStrictEqual(w.header.gsoType, version === 4 ? VNET_GSO_TCPV4 : VNET_GSO_TCPV6);
    assert.deepStrictEqual(w.header.gsoSize, 1200);
    assert.deepStrictEqual(w.header.hdrLen, l4 + 32);
    assert.deepStrictEqual(w.header.csumStart, l4);
    assert.deepStrictEqual(w.packet.length, l4 + 32 + 5 * 1200 + 700);
    assert.deepStrictEqual(recut(w), segments);
    assert.deepStrictEqual([gro.joined, gro.joinedSegments], [1, 6]);
  });
}

Deno.test("gro: a lone segment goes out unchanged with a plain header", () => {
  const { gro, written } = collect();
  const [p] = run(4, 1, 1000);
  push(gro, [p]);
  assert.deepStrictEqual(written.length, 0, "held until flush");
  gro.flush();
  assert.deepStrictEqual(written.length, 1);
  assert.deepStrictEqual(written[0].header, newVnetHeader());
  assert.deepStrictEqual(written[0].packet, p);
  assert(checksumsValid(written[0].packet));
});

Deno.test("gro: nothing stays pending after flush, and order within a flow is kept", () => {
  const { gro, written } = collect();
  const segments = run(4, 4, 1000);
  push(gro, segments.slice(0, 3));
  push(gro, [tcpPacket({ version: 4, seq: 5, payload: new Uint8Array(0), flags: 0x11 })]); // FIN
  gro.flush();
  assert.deepStrictEqual(written.length, 2);
  assert.deepStrictEqual(
    recut(written[0]),
    segments.slice(0, 3),
    "the run went out before the FIN",
  );
  assert.deepStrictEqual(written[1].packet[33], 0x11);
});

Deno.test("gro: a gap, a new ack, a new window or other options start a new packet", () => {
  const variants: [string, (s: Uint8Array[]) => Uint8Array[]][] = [
    ["gap", (s) => [s[0], s[2]]],
    ["ack", (s) => [s[0], retag(s[1], { ack: 2000 })]],
    ["window", (s) => [s[0], retag(s[1], { window: 9 })]],
    ["options", (s) => [s[0], retag(s[1], { options: new Uint8Array(12).fill(1) })]],
  ];
  for (const [name, make] of variants) {
    const { gro, written } = collect();
    push(gro, make(run(4, 3, 1000)));
    gro.flush();
    assert.deepStrictEqual(written.length, 2, name);
    assert(written.every((w) => w.header.gsoType === 0), name);
  }
});

Deno.test("gro: without DF, only IPv4 ids that count up are joined", () => {
  const noDf = (segments: Uint8Array[], id: (i: number) => number) =>
    segments.map((s, i) => {
      const p = retag(s, { id: id(i) });
      p[6] = 0; // clear DF
      p[10] = p[11] = 0;
      const sum = referenceChecksum([p.subarray(0, 20)]);
      p[10] = sum >> 8;
      p[11] = sum & 0xff;
      return p;
    });
  const counting = collect();
  const up = noDf(run(4, 4, 1000), (i) => 0xfffe + i); // wraps past 0xffff
  push(counting.gro, up);
  counting.gro.flush();
  assert.deepStrictEqual(counting.written.length, 1);
  assert.deepStrictEqual(recut(counting.written[0]), up);
  const random = collect();
  push(random.gro, noDf(run(4, 4, 1000), (i) => [7, 300, 12, 9][i]));
  random.gro.flush();
  assert.deepStrictEqual(random.written.length, 4);
});

Deno.test("gro: flows interleave, and other protocols pass through at once", () => {
  const { gro, written } = collect();
  const a = run(4, 3, 1000);
  const b = run(4, 3, 1000, 1000, { srcPort: 41000 });
  const udp = ipv4Packet("10.0.0.1", "10.0.0.2", 1, 200);
  push(gro, [a[0], b[0], udp, a[1], b[1], a[2], b[2]]);
  assert.deepStrictEqual(written.length, 1);
  assert.deepStrictEqual(written[0].packet, udp);
  gro.flush();
  assert.deepStrictEqual(written.length, 3);
  assert.deepStrictEqual(recut(written[1]), a);
  assert.deepStrictEqual(recut(written[2]), b);
});

Deno.test("gro: SYN, RST and packets without payload are never joined", () => {
  const { gro, written } = collect();
  const syn = tcpPacket({ version: 4, seq: 1, payload: new Uint8Array(0), flags: 0x02 });
  const ack = tcpPacket({ version: 4, seq: 1, payload: new Uint8Array(0), flags: 0x10 });
  const rst = tcpPacket({ version: 4, seq: 1, payload: new Uint8Array(10), flags: 0x14 });
  push(gro, [syn, ack, ack, rst]);
  gro.flush();
  assert.deepStrictEqual(written.map((w) => w.packet), [syn, ack, ack, rst]);
});

Deno.test("gro: more flows than slots push out the oldest, and 64 KiB is the limit", () => {
  const { gro, written } = collect();
  for (let f = 0; f < 10; f++) push(gro, run(4, 2, 1000, 1000, { srcPort: 42000 + f }));
  assert.deepStrictEqual(written.length, 2, "flows 0 and 1 made room");
  gro.flush();
  assert.deepStrictEqual(written.length, 10);
  const big = collect();
  push(big.gro, run(4, 60, 1400));
  big.gro.flush();
  assert(big.written.every((w) => w.packet.length <= 65535));
  assert.deepStrictEqual(big.written.reduce((n, w) => n + recut(w).length, 0), 60);
});

function retag(p: Uint8Array, change: Partial<TcpPacketSpec>): Uint8Array {
  const v = new DataView(p.buffer, p.byteOffset);
  const l4 = 20;
  const optionBytes = (p[l4 + 12] >> 4) * 4 - 20;
  return tcpPacket({
    version: 4,
    seq: v.getUint32(l4 + 4),
    ack: v.getUint32(l4 + 8),
    window: v.getUint16(l4 + 14),
    id: v.getUint16(4),
    options: p.slice(l4 + 20, l4 + 20 + optionBytes),
    payload: p.slice(l4 + 20 + optionBytes),
    ...change,
  });
}

Deno.test("gro: random and mutated packets never throw, and a valid flow still cuts back exactly", () => {
  const rng = new SeededRng(99);
  const { gro, written } = collect();
  const flow = run(4, 8, 1000);
  for (let trial = 0; trial < 2000; trial++) {
    const base = flow[trial % flow.length].slice();
    const kind = rng.next() % 4;
    let p: Uint8Array;
    if (kind === 0) {
      p = new Uint8Array(rng.next() % 1600);
      rng.fill(p);
    } else if (kind === 1) {
      p = base;
      for (let i = 0; i < 3; i++) p[rng.next() % Math.min(p.length, 60)] = rng.next() & 0xff;
    } else {
      p = base.subarray(0, Math.max(1, rng.next() % base.length));
    }
    const buf = new Uint8Array(p.length + 16);
    buf.set(p, 16);
    gro.push(buf, 16, p.length);
    if (trial % 7 === 0) gro.flush();
  }
  gro.flush();
  assert.ok(written.every((w) => w.packet.length <= 65535));
  written.length = 0;
  push(gro, flow);
  gro.flush();
  assert.deepStrictEqual(written.flatMap((w) => (w.header.gsoType ? recut(w) : [w.packet])), flow);
});
