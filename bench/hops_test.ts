/**
 * Unit tests of `bench/hops.ts`: cutting a capture's text into hops.
 * @module
 */
import assert from "node:assert/strict";
import { parseHops } from "./hops.ts";

// Two pings through a tunnel (times in seconds), a keepalive in between, and one ping whose
// reply never came. As `tcpdump -nn -tt -r` prints a capture made on `any`.
const CAPTURE = `
1795590080.000100 ?     Out IP 10.214.0.1 > 10.214.0.2: ICMP echo request, id 7, seq 1, length 64
1795590080.000130 ?     Out IP 10.213.1.1.40000 > 10.213.1.2.51820: UDP, length 116
1795590080.000190 ?     In  IP 10.213.1.2.51820 > 10.213.1.1.40000: UDP, length 116
1795590080.000210 ?     In  IP 10.214.0.2 > 10.214.0.1: ICMP echo reply, id 7, seq 1, length 64
1795590080.005000 ?     Out IP 10.213.1.1.40000 > 10.213.1.2.51820: UDP, length 40
1795590080.010100 ?     Out IP 10.214.0.1 > 10.214.0.2: ICMP echo request, id 7, seq 2, length 64
1795590080.010110 ?     Out IP 10.213.1.1.40000 > 10.213.1.2.51820: UDP, length 116
1795590080.010150 ?     In  IP 10.213.1.2.51820 > 10.213.1.1.40000: UDP, length 116
1795590080.010170 ?     In  IP 10.214.0.2 > 10.214.0.1: ICMP echo reply, id 7, seq 2, length 64
1795590080.020100 ?     Out IP 10.214.0.1 > 10.214.0.2: ICMP echo request, id 7, seq 3, length 64
1795590080.020130 ?     Out IP 10.213.1.1.40000 > 10.213.1.2.51820: UDP, length 116
reading from file hops.pcap, link-type LINUX_SLL2 (Linux cooked v2), snapshot length 262144
`;

Deno.test("parseHops: medians of each hop over the complete pings", () => {
  const hops = parseHops(CAPTURE);
  assert.ok(hops);
  assert.equal(hops.pings, 2);
  assert.equal(hops.outUs, 20); // 30 and 10 µs
  assert.equal(hops.turnUs, 50); // 60 and 40 µs
  assert.equal(hops.inUs, 20); // 20 and 20 µs
  assert.equal(hops.totalUs, 90); // 110 and 70 µs
});

Deno.test("parseHops: null without a complete ping; a reply before any datagram is not one", () => {
  assert.equal(parseHops(""), null);
  const bare = `
1795590080.000100 ?     Out IP 10.213.1.1 > 10.213.1.2: ICMP echo request, id 7, seq 1, length 64
1795590080.000110 ?     In  IP 10.213.1.2 > 10.213.1.1: ICMP echo reply, id 7, seq 1, length 64
`;
  assert.equal(parseHops(bare), null);
});
