import { strict as assert } from "node:assert";
import { parseInterfaceName } from "./interface_of.ts";

Deno.test("parseInterfaceName reads the device of `ip -o address` output", () => {
  const cases: [string, string | undefined][] = [
    ["2: eth0    inet 192.0.2.10/24 brd 192.0.2.255 scope global eth0\\       valid_lft", "eth0"],
    ["14: p1@if13    inet 10.201.1.1/24 scope global p1\\ ...", "p1"],
    ["3: wlan0    inet6 2001:db8::5/64 scope global", "wlan0"],
    ["", undefined],
  ];
  for (const [output, want] of cases) assert.equal(parseInterfaceName(output), want, output);
});
