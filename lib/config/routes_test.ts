import { strict as assert } from "node:assert";
import type { Config, PeerConfig } from "./config.ts";
import { parseCidr, parseInterfaceAddress } from "./cidr.ts";
import { routesToAdd } from "./routes.ts";

function peer(allowedIps: string[]): PeerConfig {
  return {
    publicKey: new Uint8Array(32),
    publicKeyText: "A".repeat(43) + "=",
    endpoints: [],
    allowedIps: allowedIps.map(parseCidr),
    persistentKeepaliveSeconds: 0,
    mode: "duplicate",
    redundancy: 0,
    line: 1,
  };
}

function config(addresses: string[], peers: string[][]): Config {
  return {
    privateKey: new Uint8Array(32),
    addresses: addresses.map(parseInterfaceAddress),
    listenPort: 0,
    mtu: 1420,
    binds: [],
    preUp: [],
    postUp: [],
    preDown: [],
    postDown: [],
    peers: peers.map(peer),
  };
}

Deno.test("routesToAdd: prefixes inside a connected prefix are skipped", () => {
  const c = config(["10.77.0.1/24", "fd77::1/64"], [
    ["10.77.0.2/32", "fd77::2/128"],
    ["10.77.0.3/32", "192.168.5.0/24"],
  ]);
  assert.deepEqual(routesToAdd(c), ["192.168.5.0/24"]);
});

Deno.test("routesToAdd: keeps order and removes duplicates", () => {
  const c = config(["10.77.0.1/32"], [
    ["10.77.0.0/24", "0.0.0.0/0"],
    ["::/0", "10.77.0.0/24"],
  ]);
  assert.deepEqual(routesToAdd(c), ["10.77.0.0/24", "0.0.0.0/0", "::/0"]);
});

Deno.test("routesToAdd: a wider AllowedIPs than the Address prefix still needs a route", () => {
  const c = config(["10.77.0.1/24"], [["10.77.0.0/16"], ["10.77.0.0/24"]]);
  assert.deepEqual(routesToAdd(c), ["10.77.0.0/16"]);
});

Deno.test("routesToAdd: families never cover each other; no addresses means every prefix", () => {
  assert.deepEqual(routesToAdd(config(["fd77::1/64"], [["10.77.0.2/32"]])), ["10.77.0.2/32"]);
  assert.deepEqual(routesToAdd(config([], [["10.77.0.2/32"], []])), ["10.77.0.2/32"]);
  assert.deepEqual(routesToAdd(config(["10.77.0.1/24"], [])), []);
});
