import { strict as assert } from "node:assert";
import { isDnsName, parseEndpoint } from "./endpoint.ts";

Deno.test("parseEndpoint: IPv4 literal", () => {
  assert.deepEqual(parseEndpoint("203.0.113.1:51820"), {
    host: "203.0.113.1",
    port: 51820,
    family: 4,
    text: "203.0.113.1:51820",
  });
});

Deno.test("parseEndpoint: bracketed IPv6 literal is canonicalised", () => {
  assert.deepEqual(parseEndpoint("[2001:DB8:0::1]:51820"), {
    host: "2001:db8::1",
    port: 51820,
    family: 6,
    text: "[2001:DB8:0::1]:51820",
  });
  assert.equal(parseEndpoint("[::ffff:192.0.2.1]:1").host, "::ffff:192.0.2.1");
});

Deno.test("parseEndpoint: DNS name", () => {
  assert.deepEqual(parseEndpoint("vpn.host.example:65535"), {
    host: "vpn.host.example",
    port: 65535,
    family: 0,
    text: "vpn.host.example:65535",
  });
  assert.equal(parseEndpoint("localhost:1").family, 0);
  assert.equal(parseEndpoint("host.example.:1").host, "host.example.");
  assert.equal(parseEndpoint("1password.example:1").family, 0);
});

Deno.test("parseEndpoint: errors", () => {
  const bad: [string, RegExp][] = [
    ["2001:db8::1:51820", /IPv6 endpoints need brackets: \[addr\]:port/],
    ["::1:51820", /IPv6 endpoints need brackets/],
    ["203.0.113.1", /has no port/],
    ["host.example", /has no port/],
    ["203.0.113.1:0", /port must be a decimal number from 1 to 65535/],
    ["203.0.113.1:65536", /1 to 65535/],
    ["203.0.113.1:051820", /1 to 65535/],
    ["203.0.113.1:+80", /1 to 65535/],
    ["203.0.113.1:0x50", /1 to 65535/],
    ["203.0.113.1:", /1 to 65535/],
    [":51820", /host is missing/],
    ["203.0.113.256:51820", /larger than 255/],
    ["203.0.113:51820", /4 dot-separated numbers/],
    ["01.2.3.4:51820", /leading zeros/],
    ["host_name.example:51820", /not a valid IP address or DNS name/],
    ["-host.example:51820", /not a valid IP address or DNS name/],
    ["host..example:51820", /not a valid IP address or DNS name/],
    ["[2001:db8::1]", /expected ":port"/],
    ["[2001:db8::1]51820", /expected ":port"/],
    ["[2001:db8::1:51820", /missing "\]"/],
    ["[192.0.2.1]:51820", /brackets are only for IPv6/],
    ["[2001:db8::g]:51820", /not a valid IP address/],
    ["[2001:db8::1]:0", /1 to 65535/],
    ["", /empty/],
  ];
  for (const [text, reason] of bad) assert.throws(() => parseEndpoint(text), reason, text);
});

Deno.test("isDnsName", () => {
  assert.equal(isDnsName("a"), true);
  assert.equal(isDnsName("a-b.example"), true);
  assert.equal(isDnsName("x".repeat(63) + ".example"), true);
  assert.equal(isDnsName("x".repeat(64) + ".example"), false);
  assert.equal(isDnsName(("a".repeat(60) + ".").repeat(5)), false);
  assert.equal(isDnsName("a-.example"), false);
  assert.equal(isDnsName("1.2.3"), false);
  assert.equal(isDnsName(""), false);
  assert.equal(isDnsName("."), false);
});
