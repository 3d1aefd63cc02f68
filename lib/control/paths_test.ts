import { strict as assert } from "node:assert";
import { CONTROL_DIR, CONTROL_DIR_ENV, controlDir, isInterfaceName, socketPath } from "./paths.ts";

Deno.test("paths: socket path of an interface", () => {
  assert.equal(socketPath("wg0", "/run/centipede"), "/run/centipede/wg0.sock");
  assert.equal(socketPath("wg0", "/tmp/x/"), "/tmp/x/wg0.sock");
  assert.throws(() => socketPath("../../etc/passwd", "/tmp"), TypeError);
  assert.throws(() => socketPath("..", "/tmp"), TypeError);
  assert.throws(() => socketPath("", "/tmp"), TypeError);
  assert.ok(isInterfaceName("a=b+c.d_e-f"));
  assert.ok(!isInterfaceName("sixteen-chars-xx"));
  assert.ok(!isInterfaceName("a/b"));
});

Deno.test("paths: CENTIPEDE_CONTROL_DIR moves the directory", () => {
  const before = Deno.env.get(CONTROL_DIR_ENV);
  try {
    Deno.env.delete(CONTROL_DIR_ENV);
    assert.equal(controlDir(), CONTROL_DIR);
    assert.equal(socketPath("wg0"), "/run/centipede/wg0.sock");
    Deno.env.set(CONTROL_DIR_ENV, "/tmp/ns-a");
    assert.equal(controlDir(), "/tmp/ns-a");
    assert.equal(socketPath("wg0"), "/tmp/ns-a/wg0.sock");
    Deno.env.set(CONTROL_DIR_ENV, "");
    assert.equal(controlDir(), CONTROL_DIR, "empty means unset");
  } finally {
    if (before === undefined) Deno.env.delete(CONTROL_DIR_ENV);
    else Deno.env.set(CONTROL_DIR_ENV, before);
  }
});
