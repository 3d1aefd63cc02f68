import { strict as assert } from "node:assert";
import {
  cidrContains,
  cidrContainsIp,
  cidrFromBytes,
  formatIp,
  interfaceNetwork,
  parseCidr,
  parseCidrDetailed,
  parseInterfaceAddress,
  parseIp,
  requireIp,
} from "./cidr.ts";

Deno.test("parseIp: IPv4 literals", () => {
  assert.deepEqual(parseIp("192.0.2.10"), new Uint8Array([192, 0, 2, 10]));
  assert.deepEqual(parseIp("0.0.0.0"), new Uint8Array(4));
  assert.deepEqual(parseIp("255.255.255.255"), new Uint8Array(4).fill(255));
});

Deno.test("parseIp: IPv6 literals, compression and embedded IPv4", () => {
  const cases: [string, string][] = [
    ["::", "00000000000000000000000000000000"],
    ["::1", "00000000000000000000000000000001"],
    ["1::", "00010000000000000000000000000000"],
    ["2001:db8::1", "20010db8000000000000000000000001"],
    ["2001:DB8:0:0:0:0:0:1", "20010db8000000000000000000000001"],
    ["fd77::1:0:0:2", "fd770000000000000001000000000002"],
    ["1:2:3:4:5:6:7:8", "00010002000300040005000600070008"],
    ["1:2:3:4:5:6:7::", "00010002000300040005000600070000"],
    ["::2:3:4:5:6:7:8", "00000002000300040005000600070008"],
    ["::ffff:192.0.2.1", "00000000000000000000ffffc0000201"],
    ["64:ff9b::198.51.100.7", "0064ff9b0000000000000000c6336407"],
    ["1:2:3:4:5:6:192.0.2.1", "000100020003000400050006c0000201"],
  ];
  for (const [text, hex] of cases) {
    const bytes = parseIp(text);
    assert.ok(bytes, text);
    assert.equal([...bytes].map((b) => b.toString(16).padStart(2, "0")).join(""), hex, text);
  }
});

Deno.test("parseIp: rejects garbage, leading zeros and malformed IPv6", () => {
  const bad = [
    "",
    "1.2.3",
    "1.2.3.4.5",
    "1.2.3.256",
    "01.2.3.4",
    "1.2.3.00",
    "1..2.3",
    "1.2.3.4 ",
    "a.b.c.d",
    "host.example",
    "::1::",
    ":::",
    ":1:2:3:4:5:6:7",
    "1:2:3:4:5:6:7:8:9",
    "1:2:3:4:5:6:7",
    "1:2:3:4:5:6:7:8::",
    "12345::",
    "g::1",
    "fe80::1%eth0",
    "::1.2.3.4:5",
    "1.2.3.4::",
    "::1.2.3.256",
    "::01.2.3.4",
    "[::1]",
  ];
  for (const text of bad) assert.equal(parseIp(text), undefined, text);
});

Deno.test("requireIp: throws with a reason", () => {
  assert.throws(() => requireIp("01.2.3.4"), /leading zeros/);
  assert.throws(() => requireIp("1.2.3.300"), /300 is larger than 255/);
  assert.throws(() => requireIp("1::2::3"), /"::" may appear only once/);
  assert.throws(() => requireIp("fe80::1%eth0"), /zone/);
  assert.throws(() => requireIp("192.0.2.1:51820"), /a port is not allowed here/);
  assert.throws(() => requireIp("[::1]"), /brackets are not allowed here/);
  assert.deepEqual(requireIp("10.0.0.1"), new Uint8Array([10, 0, 0, 1]));
});

Deno.test("formatIp: canonical RFC 5952 text", () => {
  const cases: [string, string][] = [
    ["2001:DB8:0:0:0:0:0:1", "2001:db8::1"],
    ["2001:0db8:0000:0000:0001:0000:0000:0001", "2001:db8::1:0:0:1"],
    ["2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"],
    ["0:0:1:0:0:0:1:0", "0:0:1::1:0"],
    ["1:0:0:2:0:0:3:4", "1::2:0:0:3:4"],
    ["0:0:0:0:0:0:0:0", "::"],
    ["0:0:0:0:0:0:0:1", "::1"],
    ["1:0:0:0:0:0:0:0", "1::"],
    ["::ffff:c000:0201", "::ffff:192.0.2.1"],
    ["fd77:0000:0000:0000:0000:0000:0000:0002", "fd77::2"],
    ["10.77.0.1", "10.77.0.1"],
  ];
  for (const [input, expected] of cases) {
    const bytes = parseIp(input);
    assert.ok(bytes, input);
    assert.equal(formatIp(bytes), expected);
  }
  assert.throws(() => formatIp(new Uint8Array(5)), /4 or 16 bytes/);
});

Deno.test("parseCidr: prefixes, defaults and canonical text", () => {
  assert.equal(parseCidr("10.77.0.0/24").text, "10.77.0.0/24");
  assert.equal(parseCidr("10.77.0.2").text, "10.77.0.2/32");
  assert.equal(parseCidr("fd77::2").text, "fd77::2/128");
  assert.equal(parseCidr("FD77:0::/64").text, "fd77::/64");
  assert.equal(parseCidr("0.0.0.0/0").text, "0.0.0.0/0");
  assert.equal(parseCidr("::/0").text, "::/0");
  const cidr = parseCidr("fd77::/64");
  assert.equal(cidr.family, 6);
  assert.equal(cidr.prefixLength, 64);
  assert.equal(cidr.bytes.length, 16);
  assert.equal(parseCidr("10.0.0.0/8").family, 4);
});

Deno.test("parseCidrDetailed: host bits are cleared and reported", () => {
  const detailed = parseCidrDetailed("10.77.0.1/24");
  assert.equal(detailed.cidr.text, "10.77.0.0/24");
  assert.equal(detailed.hostBitsSet, true);
  assert.equal(parseCidrDetailed("10.77.0.0/24").hostBitsSet, false);
  assert.equal(parseCidrDetailed("10.77.0.255/31").cidr.text, "10.77.0.254/31");
  assert.equal(parseCidrDetailed("fd77::1/64").cidr.text, "fd77::/64");
  assert.equal(parseCidrDetailed("fd77::1/64").hostBitsSet, true);
  assert.equal(parseCidrDetailed("255.255.255.255/0").cidr.text, "0.0.0.0/0");
});

Deno.test("parseCidr: rejects bad prefixes and garbage", () => {
  const bad: [string, RegExp][] = [
    ["10.0.0.0/33", /0-32 for IPv4/],
    ["fd77::/129", /0-128 for IPv6/],
    ["10.0.0.0/", /prefix length/],
    ["10.0.0.0/024", /prefix length/],
    ["10.0.0.0/-1", /prefix length/],
    ["10.0.0.0/8/8", /not a CIDR/],
    ["10.0.0.256/24", /larger than 255/],
    ["010.0.0.0/8", /leading zeros/],
    ["garbage", /not a valid address/],
    ["", /not a valid address/],
    [" 10.0.0.0/8", /not a valid address/],
  ];
  for (const [text, reason] of bad) assert.throws(() => parseCidr(text), reason, text);
});

Deno.test("parseInterfaceAddress: keeps the host address", () => {
  const address = parseInterfaceAddress("10.77.0.1/24");
  assert.deepEqual(address, {
    family: 4,
    address: "10.77.0.1",
    prefixLength: 24,
    text: "10.77.0.1/24",
  });
  assert.equal(parseInterfaceAddress("FD77::0001/64").text, "fd77::1/64");
  assert.equal(parseInterfaceAddress("10.77.0.1").text, "10.77.0.1/32");
  assert.equal(parseInterfaceAddress("fd77::1").text, "fd77::1/128");
  assert.equal(interfaceNetwork(address).text, "10.77.0.0/24");
  assert.throws(() => parseInterfaceAddress("10.77.0.1/40"), /prefix length/);
});

Deno.test("cidrContains and cidrContainsIp", () => {
  const net = parseCidr("10.77.0.0/24");
  assert.equal(cidrContains(net, parseCidr("10.77.0.2/32")), true);
  assert.equal(cidrContains(net, parseCidr("10.77.0.0/24")), true);
  assert.equal(cidrContains(net, parseCidr("10.77.0.128/25")), true);
  assert.equal(cidrContains(net, parseCidr("10.77.0.0/23")), false);
  assert.equal(cidrContains(net, parseCidr("10.78.0.1/32")), false);
  assert.equal(cidrContains(parseCidr("0.0.0.0/0"), parseCidr("203.0.113.9")), true);
  assert.equal(cidrContains(parseCidr("::/0"), parseCidr("10.0.0.1")), false);
  assert.equal(cidrContains(parseCidr("fd77::/64"), parseCidr("fd77::2")), true);
  assert.equal(cidrContains(parseCidr("fd77::/64"), parseCidr("fd78::2")), false);
  assert.equal(cidrContainsIp(net, new Uint8Array([10, 77, 0, 200])), true);
  assert.equal(cidrContainsIp(net, new Uint8Array([10, 77, 1, 200])), false);
  assert.equal(cidrContainsIp(net, new Uint8Array(16)), false);
  assert.equal(cidrContainsIp(parseCidr("10.77.0.0/22"), new Uint8Array([10, 77, 3, 1])), true);
});

Deno.test("cidrFromBytes: clears host bits and validates", () => {
  assert.equal(cidrFromBytes(new Uint8Array([10, 77, 0, 9]), 24).text, "10.77.0.0/24");
  assert.equal(cidrFromBytes(new Uint8Array([10, 77, 0, 9]), 29).text, "10.77.0.8/29");
  assert.throws(() => cidrFromBytes(new Uint8Array(4), 33), /0-32/);
  assert.throws(() => cidrFromBytes(new Uint8Array(3), 8), /4 or 16 bytes/);
});
