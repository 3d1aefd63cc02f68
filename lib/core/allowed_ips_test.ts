import { strict as assert } from "node:assert";
import { AllowedIps } from "./allowed_ips.ts";

const v4 = (s: string) => new Uint8Array(s.split(".").map(Number));

Deno.test("AllowedIps.lookup picks the longest matching prefix (table)", () => {
  const t = new AllowedIps<string>();
  t.insert(v4("10.0.0.0"), 8, "a");
  t.insert(v4("10.77.0.0"), 16, "b");
  t.insert(v4("10.77.0.2"), 32, "c");
  t.insert(v4("0.0.0.0"), 0, "default");
  const cases: [string, string][] = [
    ["10.1.2.3", "a"],
    ["10.77.9.9", "b"],
    ["10.77.0.2", "c"],
    ["10.77.0.3", "b"],
    ["192.0.2.1", "default"],
  ];
  for (const [addr, want] of cases) assert.equal(t.lookup(v4(addr), 0, 4), want, addr);
});

Deno.test("AllowedIps keeps families apart and finds addresses at an offset", () => {
  const t = new AllowedIps<number>();
  const six = new Uint8Array(16);
  six[0] = 0xfd;
  six[1] = 0x77;
  t.insert(six, 16, 6);
  t.insert(v4("10.0.0.0"), 8, 4);
  const packet = new Uint8Array(40);
  packet.set(six, 24);
  packet[39] = 2;
  assert.equal(t.lookup(packet, 24, 6), 6);
  assert.equal(t.lookup(packet, 24, 4), undefined);
  assert.equal(t.lookup(v4("11.0.0.1"), 0, 4), undefined);
});

Deno.test("AllowedIps: the last answer is reused only for the same address, family and table", () => {
  const t = new AllowedIps<string>();
  t.insert(v4("10.0.0.0"), 8, "a");
  const packet = v4("10.77.0.2");
  assert.equal(t.lookup(packet, 0, 4), "a");
  assert.equal(t.lookup(packet, 0, 4), "a", "again, from the last answer");
  packet[3] = 3; // the same bytes, changed in place: a new address
  t.insert(v4("10.77.0.3"), 32, "c");
  assert.equal(t.lookup(packet, 0, 4), "c", "an insert forgets the last answer");
  packet[0] = 11;
  assert.equal(t.lookup(packet, 0, 4), undefined, "a miss is answered too");
  packet[0] = 10;
  assert.equal(t.lookup(packet, 0, 4), "c");
  const six = new Uint8Array(16);
  six.set(packet); // 10.77.0.3 then zeros, as an IPv6 address: no IPv6 prefix holds it
  assert.equal(t.lookup(six, 0, 6), undefined, "the family is part of the key");
  assert.equal(t.lookup(packet, 0, 4), "c");
});
