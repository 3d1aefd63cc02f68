import { strict as assert } from "node:assert";
import { completeChecksum, cutSegments } from "./tso.ts";
import { fold, pseudoHeaderSum } from "./checksum.ts";
import {
  VNET_F_NEEDS_CSUM,
  VNET_GSO_NONE,
  VNET_GSO_TCPV4,
  VNET_GSO_TCPV6,
  type VnetHeader,
} from "./vnet.ts";
import { checksumsValid, SeededRng, tcpPacket } from "../../tests/_packets.ts";

const TIMESTAMPS = new Uint8Array([1, 1, 8, 10, 0, 0, 0, 9, 0, 0, 0, 3]);

/** A super-packet as the kernel hands it over: one header, the TCP checksum left partial. */
function superPacket(version: 4 | 6, payload: Uint8Array, flags: number) {
  const p = tcpPacket({ version, seq: 0xfffff000, payload, flags, options: TIMESTAMPS, id: 100 });
  const l4 = version === 4 ? 20 : 40;
  const pseudo = pseudoHeaderSum(
    p,
    version === 4 ? 12 : 8,
    version === 4 ? 4 : 16,
    6,
    p.length - l4,
  );
  p[l4 + 16] = fold(pseudo) >> 8;
  p[l4 + 17] = fold(pseudo) & 0xff;
  return { p, l4 };
}

function cut(p: Uint8Array, h: VnetHeader): { count: number; segments: Uint8Array[] } {
  const mem = new Uint8Array(p.length + 70000);
  mem.set(p, 5);
  const segments: Uint8Array[] = [];
  const dst = p.length + 100;
  const count = cutSegments(
    mem,
    5,
    p.length,
    h,
    dst,
    (n) => segments.push(mem.slice(dst, dst + n)),
  );
  return { count, segments };
}

for (const version of [4, 6] as const) {
  Deno.test(`tso: a TCP/IPv${version} super-packet is cut into valid segments`, () => {
    const payload = new Uint8Array(4500);
    new SeededRng(3).fill(payload);
    const { p, l4 } = superPacket(version, payload, 0x18 | 0x01); // ACK PSH FIN
    const h: VnetHeader = {
      flags: VNET_F_NEEDS_CSUM,
      gsoType: version === 4 ? VNET_GSO_TCPV4 : VNET_GSO_TCPV6,
      hdrLen: l4 + 32,
      gsoSize: 1000,
      csumStart: l4,
      csumOffset: 16,
    };
    const { count, segments } = cut(p, h);
    assert.deepStrictEqual(count, 5);
    const joined: number[] = [];
    segments.forEach((s, i) => {
      const v = new DataView(s.buffer);
      assert(checksumsValid(s), `segment ${i} checksums`);
      const size = i < 4 ? 1000 : 500;
      assert.deepStrictEqual(s.length, l4 + 32 + size);
      if (version === 4) {
        assert.deepStrictEqual(v.getUint16(2), s.length);
        assert.deepStrictEqual(v.getUint16(4), 100 + i);
      } else {
        assert.deepStrictEqual(v.getUint16(4), s.length - 40);
      }
      assert.deepStrictEqual(v.getUint32(l4 + 4), (0xfffff000 + 1000 * i) >>> 0, "sequence wraps");
      assert.deepStrictEqual(s[l4 + 13], i < 4 ? 0x10 : 0x19, "PSH and FIN on the last only");
      assert.deepStrictEqual([...s.subarray(l4 + 20, l4 + 32)], [...TIMESTAMPS]);
      joined.push(...s.subarray(l4 + 32));
    });
    assert.deepStrictEqual(joined, [...payload]);
  });
}

Deno.test("tso: CWR stays on the first segment only", () => {
  const { p } = superPacket(4, new Uint8Array(3000), 0x90);
  const h = {
    flags: 1,
    gsoType: VNET_GSO_TCPV4 | 0x80,
    hdrLen: 52,
    gsoSize: 1448,
    csumStart: 20,
    csumOffset: 16,
  };
  const { segments } = cut(p, h);
  assert.deepStrictEqual(segments.map((s) => s[33]), [0x90, 0x10, 0x10]);
});

Deno.test("tso: headers that do not describe the packet cut nothing", () => {
  const { p } = superPacket(4, new Uint8Array(3000), 0x10);
  const good = {
    flags: 1,
    gsoType: VNET_GSO_TCPV4,
    hdrLen: 52,
    gsoSize: 1000,
    csumStart: 20,
    csumOffset: 16,
  };
  assert.deepStrictEqual(cut(p, good).count, 3);
  for (
    const bad of [
      { ...good, gsoType: VNET_GSO_NONE },
      { ...good, gsoType: VNET_GSO_TCPV6 },
      { ...good, gsoSize: 0 },
      { ...good, csumStart: 10 },
      { ...good, csumStart: 5000 },
      { ...good, csumOffset: 6 },
    ]
  ) {
    assert.deepStrictEqual(cut(p, bad).count, -1, JSON.stringify(bad));
  }
  const udp = p.slice();
  udp[9] = 17;
  assert.deepStrictEqual(cut(udp, good).count, -1);
});

Deno.test("tso: completeChecksum finishes a partial checksum and checks its offsets", () => {
  const { p, l4 } = superPacket(6, new Uint8Array(777).fill(9), 0x10);
  assert(!checksumsValid(p));
  const h = {
    flags: VNET_F_NEEDS_CSUM,
    gsoType: 0,
    hdrLen: 0,
    gsoSize: 0,
    csumStart: l4,
    csumOffset: 16,
  };
  assert(completeChecksum(p, 0, p.length, h));
  assert(checksumsValid(p));
  assert(!completeChecksum(p, 0, p.length, { ...h, csumStart: p.length }));
  assert(completeChecksum(p, 0, p.length, { ...h, flags: 0, csumStart: 99999 }), "not pending");
});

Deno.test("tso: random headers over random bytes cut nothing out of bounds and never throw", () => {
  const rng = new SeededRng(17);
  const mem = new Uint8Array(140_000);
  for (let trial = 0; trial < 3000; trial++) {
    const length = rng.next() % 66_000;
    rng.fill(mem.subarray(0, 200));
    if (trial % 2 === 0) mem[0] = 0x45;
    mem[9] = 6;
    const h = {
      flags: rng.next() & 1,
      gsoType: [0, 1, 4, 0x81, 3, 5][rng.next() % 6],
      hdrLen: rng.next() & 0xffff,
      gsoSize: rng.next() % 3 === 0 ? 0 : rng.next() % 2000,
      csumStart: rng.next() % 3 === 0 ? 20 : rng.next() & 0xffff,
      csumOffset: rng.next() % 2 === 0 ? 16 : rng.next() & 0xffff,
    };
    let emitted = 0;
    const count = cutSegments(mem, 0, length, h, 70_000, (n) => {
      assert.ok(n > 0 && n <= 65_535 && 70_000 + n <= mem.length, `segment of ${n}`);
      emitted++;
    });
    assert.ok(count === -1 || count === emitted);
    completeChecksum(mem, 0, Math.min(length, 70_000), h);
  }
});
