import { strict as assert } from "node:assert";
import { finish, fold, pseudoHeaderSum, setIpv4HeaderChecksum, sumWords } from "./checksum.ts";
import { referenceChecksum, SeededRng, tcpPacket } from "../../tests/_packets.ts";

Deno.test("checksum: the RFC 1071 example", () => {
  const bytes = new Uint8Array([0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]);
  assert.deepStrictEqual(fold(sumWords(bytes, 0, bytes.length)), 0xddf2);
  assert.deepStrictEqual(finish(sumWords(bytes, 0, bytes.length)), 0x220d);
});

Deno.test("checksum: sumWords agrees with a byte-by-byte reference at any offset and length", () => {
  const rng = new SeededRng(11);
  const buf = new Uint8Array(3000);
  rng.fill(buf);
  for (let trial = 0; trial < 300; trial++) {
    const at = rng.next() % 100;
    const length = rng.next() % 2900;
    assert.deepStrictEqual(
      finish(sumWords(buf, at, length)),
      referenceChecksum([buf.subarray(at, at + length)]),
      `at ${at} length ${length}`,
    );
  }
});

Deno.test("checksum: pseudo-header sum plus segment verifies a reference-built TCP packet", () => {
  for (const version of [4, 6] as const) {
    const p = tcpPacket({ version, seq: 1, payload: new Uint8Array(333).fill(7) });
    const l4 = version === 4 ? 20 : 40;
    const pseudo = pseudoHeaderSum(
      p,
      version === 4 ? 12 : 8,
      version === 4 ? 4 : 16,
      6,
      p.length - l4,
    );
    assert.deepStrictEqual(finish(sumWords(p, l4, p.length - l4, pseudo)), 0);
  }
});

Deno.test("checksum: setIpv4HeaderChecksum rewrites a stale header checksum", () => {
  const p = tcpPacket({ version: 4, seq: 1, payload: new Uint8Array(10) });
  const good = [p[10], p[11]];
  p[10] ^= 0xff;
  setIpv4HeaderChecksum(p, 0);
  assert.deepStrictEqual([p[10], p[11]], good);
});

Deno.test("checksum: views at every byte offset of their buffer, and the largest sums", () => {
  const rng = new SeededRng(12);
  const backing = new Uint8Array(70_000);
  rng.fill(backing);
  backing.fill(0xff, 1000, 67_000); // 64 KiB of 0xff: the largest sum a packet can have
  for (let offset = 0; offset < 8; offset++) {
    const view = backing.subarray(offset);
    for (const [at, length] of [[0, 65_535], [3, 1368], [994, 66_000], [1000, 64], [7, 63]]) {
      assert.deepStrictEqual(
        finish(sumWords(view, at, length, 0x1234)),
        referenceChecksum([new Uint8Array([0x12, 0x34]), view.subarray(at, at + length)]),
        `view at ${offset}, at ${at}, length ${length}`,
      );
    }
  }
});
