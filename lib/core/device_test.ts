import { strict as assert } from "node:assert";
import { nobleAead } from "./aead_noble.ts";
import { DATA_HEADER_BYTES } from "./constants.ts";
import { publicKeyOf } from "./crypto.ts";
import { Device, type DevicePeer } from "./device.ts";
import type { Endpoint } from "./path.ts";
import { ipv4Packet, packetId, SeededRng } from "../../tests/_packets.ts";

type Net = Map<string, { device: Device; delivered: Uint8Array[] }>;

const ip = (s: string) => new Uint8Array(s.split(".").map(Number));

/** A device at `addr` (key = `seed` x 32) with `peers`, joined to the others through `net`. */
function node(net: Net, addr: string, seed: number, peers: DevicePeer[]): void {
  const delivered: Uint8Array[] = [];
  const me: Endpoint = { hostname: addr, port: 51820 };
  const device = new Device({
    privateKey: new Uint8Array(32).fill(seed),
    peers,
    locals: [{ family: 4, backup: false, priority: 0 }],
    rng: new SeededRng(seed),
    backend: nobleAead,
    epochOffsetMs: 1.7e12,
    output: {
      transmit: (_local, to, buf, length) => {
        const bytes = buf.slice(0, length);
        queueMicrotask(() => net.get(to.hostname)?.device.handleDatagram(bytes, length, 0, me, 0));
      },
      deliver: (buf, offset, length) => void delivered.push(buf.slice(offset, offset + length)),
    },
  });
  net.set(addr, { device, delivered });
}

function peer(seed: number, endpoint: string | null, ...prefixes: [string, number][]): DevicePeer {
  return {
    publicKey: publicKeyOf(new Uint8Array(32).fill(seed)),
    name: `peer${seed}`,
    endpoints: endpoint ? [{ hostname: endpoint, port: 51820 }] : [],
    persistentKeepaliveSeconds: 0,
    allowedIps: prefixes.map(([p, len]) => ({ bytes: ip(p), prefixLength: len })),
  };
}

function send(device: Device, src: string, dst: string, id: number): void {
  const packet = ipv4Packet(src, dst, id);
  const buf = new Uint8Array(packet.length + 64);
  buf.set(packet, DATA_HEADER_BYTES);
  device.handleOutbound(buf, packet.length, 0);
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 50));

Deno.test("Device routes each packet to the peer owning its destination (longest prefix)", async () => {
  const net: Net = new Map();
  // A knows B (10.77.0.0/16) and C (10.77.5.0/24, more specific); B and C know A.
  node(net, "192.0.2.1", 1, [
    peer(2, "192.0.2.2", ["10.77.0.0", 16]),
    peer(3, "192.0.2.3", ["10.77.5.0", 24]),
  ]);
  node(net, "192.0.2.2", 2, [peer(1, null, ["10.1.0.1", 32])]);
  node(net, "192.0.2.3", 3, [peer(1, null, ["10.1.0.1", 32])]);
  const a = net.get("192.0.2.1")!.device;
  a.start(0);
  await settle();
  send(a, "10.1.0.1", "10.77.9.9", 1); // B's /16
  send(a, "10.1.0.1", "10.77.5.7", 2); // C's /24 beats B's /16
  send(a, "10.1.0.1", "10.99.0.1", 3); // nobody's
  await settle();
  assert.deepEqual(net.get("192.0.2.2")!.delivered.map(packetId), [1]);
  assert.deepEqual(net.get("192.0.2.3")!.delivered.map(packetId), [2]);
  assert.equal(a.drops.noRoute, 1);
});

Deno.test("Device drops a decrypted packet whose source is outside its peer's AllowedIPs", async () => {
  const net: Net = new Map();
  node(net, "192.0.2.1", 1, [peer(2, "192.0.2.2", ["10.77.0.2", 32])]);
  // B accepts from A only 10.77.0.1; 10.77.0.66 belongs to another peer (or nobody).
  node(net, "192.0.2.2", 2, [peer(1, null, ["10.77.0.1", 32]), peer(3, null, ["10.77.0.66", 32])]);
  const a = net.get("192.0.2.1")!.device;
  a.start(0);
  await settle();
  send(a, "10.77.0.1", "10.77.0.2", 1);
  send(a, "10.77.0.66", "10.77.0.2", 2); // spoofs peer 3's address
  send(a, "10.77.0.9", "10.77.0.2", 3); // nobody's address
  await settle();
  const b = net.get("192.0.2.2")!;
  assert.deepEqual(b.delivered.map(packetId), [1]);
  assert.equal(b.device.drops.sourceNotAllowed, 2);
});
