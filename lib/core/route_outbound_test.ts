import { strict as assert } from "node:assert";
import { AllowedIps } from "./allowed_ips.ts";
import { DATA_HEADER_BYTES } from "./constants.ts";
import { newDropCounters } from "./drops.ts";
import { routeOutbound } from "./route_outbound.ts";

/** An IPv4 (20-byte header) or IPv6 (40-byte header) packet to `dst`, after the data header room. */
function packet(dst: number[]): { buf: Uint8Array; length: number } {
  const v6 = dst.length === 16;
  const length = v6 ? 48 : 28;
  const buf = new Uint8Array(DATA_HEADER_BYTES + length + 16);
  const ip = DATA_HEADER_BYTES;
  if (v6) {
    buf[ip] = 0x60;
    buf[ip + 5] = length - 40; // payload length
    buf.set(dst, ip + 24);
  } else {
    buf[ip] = 0x45;
    buf[ip + 3] = length; // total length
    buf.set(dst, ip + 16);
  }
  return { buf, length };
}

const V6_PEER = [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];

Deno.test("routeOutbound: the owner of the longest prefix holding the destination", () => {
  const table = new AllowedIps<string>();
  table.insert(new Uint8Array([10, 0, 0, 0]), 8, "wide");
  table.insert(new Uint8Array([10, 1, 0, 0]), 16, "narrow");
  table.insert(new Uint8Array(V6_PEER), 128, "six");
  const drops = newDropCounters();
  const route = (dst: number[]) => {
    const p = packet(dst);
    return routeOutbound(p.buf, p.length, table, drops);
  };
  assert.equal(route([10, 1, 2, 3]), "narrow");
  assert.equal(route([10, 2, 2, 3]), "wide");
  assert.equal(route(V6_PEER), "six");
  assert.equal(drops.noRoute, 0);
  assert.equal(route([192, 168, 0, 1]), undefined);
  assert.equal(drops.noRoute, 1);
  assert.equal(drops.badInnerPacket, 0);
});

Deno.test("routeOutbound: a packet that is not IPv4 or IPv6 is dropped as bad, not as unrouted", () => {
  const table = new AllowedIps<string>();
  table.insert(new Uint8Array([0, 0, 0, 0]), 0, "everything");
  const drops = newDropCounters();
  const garbage = packet([10, 0, 0, 1]);
  garbage.buf[DATA_HEADER_BYTES] = 0x75; // version 7
  assert.equal(routeOutbound(garbage.buf, garbage.length, table, drops), undefined);
  const short = packet([10, 0, 0, 1]);
  assert.equal(routeOutbound(short.buf, 10, table, drops), undefined); // shorter than its header
  assert.equal(drops.badInnerPacket, 2);
  assert.equal(drops.noRoute, 0);
});
