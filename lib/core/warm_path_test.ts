import { strict as assert } from "node:assert";
import { nobleAead } from "./aead_noble.ts";
import { AllowedIps } from "./allowed_ips.ts";
import { publicKeyOf } from "./crypto.ts";
import { Device } from "./device.ts";
import { newDropCounters } from "./drops.ts";
import { Lane } from "./lane.ts";
import { laneStatsMemory } from "./lane_plan.ts";
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

Deno.test("Lane.warm sends nothing, delivers nothing, raises no event and counts nothing", () => {
  let effects = 0;
  const effect = () => void effects++;
  const stats = new Float64Array(laneStatsMemory());
  const lane = new Lane({
    backend: nobleAead,
    output: { transmit: effect, deliver: effect },
    stats,
    clockOffsetMs: 0,
    events: {
      datagram: effect,
      packet: effect,
      arrival: effect,
      frame: effect,
      rekey: effect,
      traffic: effect,
    },
  });
  lane.apply({
    peers: [{
      slot: 1,
      mode: "duplicate",
      redundancy: 0,
      allowedIps: [{ bytes: new Uint8Array([10, 0, 0, 0]), prefixLength: 8 }],
      paths: [{
        slot: 2,
        local: 0,
        hostname: "192.0.2.2",
        port: 51820,
        backup: false,
        priority: 0,
        state: "active",
        stateSince: 0,
        srttMs: 1,
        rttvarMs: 0.5,
        minRttMs: 1,
        lossRate: 0,
        deliveryRate: 0,
        probeId: 0,
        probeSentAt: 0,
      }],
      sessions: [],
      current: -1,
      failover: -1,
    }],
  });
  for (let i = 0; i < 100; i++) lane.warm();
  assert.equal(effects, 0);
  assert.deepEqual(lane.drops, newDropCounters());
  assert.ok(stats.every((x) => x === 0), "no counter in the lane's statistics moved");
  lane.close();
});
