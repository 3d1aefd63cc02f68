import { strict as assert } from "node:assert";
import { interfaceNameFromPath } from "./interface_name.ts";

Deno.test("interfaceNameFromPath: valid names", () => {
  assert.equal(interfaceNameFromPath("wg0.conf"), "wg0");
  assert.equal(interfaceNameFromPath("/etc/centipede/wg0.conf"), "wg0");
  assert.equal(interfaceNameFromPath("./examples/phone.conf"), "phone");
  assert.equal(interfaceNameFromPath("a.b=c+d-e_f.conf"), "a.b=c+d-e_f");
  assert.equal(interfaceNameFromPath("x".repeat(15) + ".conf"), "x".repeat(15));
  assert.equal(interfaceNameFromPath("dir.conf/wg1.conf"), "wg1");
});

Deno.test("interfaceNameFromPath: invalid names", () => {
  const bad = [
    "",
    ".conf",
    "wg0",
    "wg0.cfg",
    "wg0.conf.bak",
    "x".repeat(16) + ".conf",
    "wg 0.conf",
    "wg/0",
    "/etc/centipede/",
    "wg0:1.conf",
    "wgé.conf",
  ];
  for (const path of bad) {
    assert.throws(
      () => interfaceNameFromPath(path),
      (err: Error) => {
        assert.ok(err.message.startsWith("the config file must be named after a valid interface"));
        assert.ok(err.message.includes("(1-15 of a-z A-Z 0-9 _ = + . -) followed by .conf"));
        assert.ok(err.message.endsWith(`got "${path}"`));
        return true;
      },
      path,
    );
  }
});
