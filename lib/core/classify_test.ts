import { strict as assert } from "node:assert";
import { isLatencyCritical } from "./classify.ts";

/** An IPv4 packet of `size` bytes with protocol `proto`; `l4` fills the transport header. */
function packet(size: number, proto: number, l4: (p: Uint8Array) => void = () => {}): Uint8Array {
  const p = new Uint8Array(size);
  p[0] = 0x45;
  p[2] = size >> 8;
  p[3] = size & 0xff;
  p[9] = proto;
  l4(p.subarray(20));
  return p;
}

Deno.test("isLatencyCritical: table of packets", () => {
  const tcp = (flags: number, dataOffsetWords = 5) => (h: Uint8Array) => {
    h[12] = dataOffsetWords << 4;
    h[13] = flags;
  };
  const udp = (src: number, dst: number) => (h: Uint8Array) => {
    h[0] = src >> 8;
    h[1] = src & 0xff;
    h[2] = dst >> 8;
    h[3] = dst & 0xff;
  };
  const cases: [string, Uint8Array, boolean][] = [
    ["small UDP", packet(100, 17, udp(4000, 5000)), true],
    ["bulk UDP", packet(1400, 17, udp(4000, 5000)), false],
    ["DNS query", packet(300, 17, udp(40000, 53)), true],
    ["DNS answer", packet(600, 17, udp(53, 40000)), true],
    ["ICMP", packet(1000, 1), true],
    ["TCP SYN", packet(300, 6, tcp(0x02)), true],
    ["TCP RST", packet(300, 6, tcp(0x04)), true],
    ["TCP FIN with data", packet(1400, 6, tcp(0x11)), true],
    ["TCP data", packet(1400, 6, tcp(0x18)), false],
    ["TCP pure ACK with big options", packet(300, 6, tcp(0x10, 15)), false],
    ["TCP pure ACK (header fills packet)", packet(300, 6, tcp(0x10, 15)).subarray(0, 80), true],
  ];
  for (const [name, p, want] of cases) {
    const length = name.includes("fills") ? 80 : p.length;
    assert.equal(isLatencyCritical(p, 0, length), want, name);
  }
});
