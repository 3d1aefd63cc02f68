import { strict as assert } from "node:assert";
import { nobleAead } from "./aead_noble.ts";
import { AllowedIps } from "./allowed_ips.ts";
import { publicKeyOf } from "./crypto.ts";
import { Device } from "./device.ts";
import { newDropCounters } from "./drops.ts";
import { WarmPath } from "./warm_path.ts";
import { SeededRng } from "../../tests/_packets.ts";

Deno.test("WarmPath: each run seals, checks, opens and accepts one stand-in packet", () => {
  const warm = new WarmPath(nobleAead);
  const table = new AllowedIps<string>();
  table.insert(new Uint8Array(4), 0, "everything");
  for (let i = 0; i < 5; i++) warm.run(table);
  assert.equal(warm.runs, 5, "opened and accepted by the replay window every time");
  assert.deepEqual(warm.drops, newDropCounters(), "routed by the default prefix, nothing dropped");
  warm.run(new AllowedIps<string>());
  assert.equal(warm.runs, 6);
  assert.equal(warm.drops.noRoute, 1, "an empty table drops it: counted in its own counters");
  warm.destroy();
});

Deno.test("Device.warm sends nothing, delivers nothing and counts no drops", () => {
  let outputs = 0;
  const device = new Device({
    privateKey: new Uint8Array(32).fill(1),
    peers: [{
      publicKey: publicKeyOf(new Uint8Array(32).fill(2)),
      name: "b",
      endpoints: [{ hostname: "192.0.2.2", port: 51820 }],
      persistentKeepaliveSeconds: 0,
      allowedIps: [{ bytes: new Uint8Array([10, 0, 0, 0]), prefixLength: 8 }],
    }],
    locals: [{ family: 4, backup: false, priority: 0 }],
    rng: new SeededRng(1),
    backend: nobleAead,
    epochOffsetMs: 1.7e12,
    output: { transmit: () => void outputs++, deliver: () => void outputs++ },
  });
  const deadline = device.nextDeadline(0);
  for (let i = 0; i < 100; i++) device.warm();
  assert.equal(outputs, 0);
  assert.deepEqual(device.drops, newDropCounters());
  assert.equal(device.nextDeadline(0), deadline, "no timer moved");
  device.close();
});
