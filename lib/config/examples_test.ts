import { strict as assert } from "node:assert";
import type { Config } from "./config.ts";
import { parseConfig } from "./parse.ts";
import { routesToAdd } from "./routes.ts";

const EXAMPLES = new URL("../../examples/", import.meta.url);
const canRead = Deno.permissions.querySync({ name: "read", path: EXAMPLES }).state === "granted";

async function readExamples(): Promise<Map<string, Config>> {
  const configs = new Map<string, Config>();
  for await (const entry of Deno.readDir(EXAMPLES)) {
    if (!entry.isFile || !entry.name.endsWith(".conf")) continue;
    const text = await Deno.readTextFile(new URL(entry.name, EXAMPLES));
    const { config, warnings } = parseConfig(text, `examples/${entry.name}`);
    assert.deepEqual(warnings, [], entry.name);
    configs.set(entry.name, config);
  }
  return configs;
}

Deno.test({
  name: "examples: every examples/*.conf parses without warnings",
  ignore: !canRead,
  async fn() {
    const configs = await readExamples();
    for (
      const name of [
        "uplinks-cli.conf",
        "uplinks-srv.conf",
        "phone.conf",
        "many-peers.conf",
        "ipv6-ends.conf",
        "failover.conf",
      ]
    ) {
      assert.ok(configs.has(name), `missing examples/${name}`);
    }
  },
});

Deno.test({
  name: "examples: each file shows what it is named for",
  ignore: !canRead,
  async fn() {
    const configs = await readExamples();
    const get = (name: string): Config => {
      const config = configs.get(name);
      assert.ok(config, `missing examples/${name}`);
      return config;
    };
    const site = get("uplinks-cli.conf");
    assert.deepEqual(site.binds, [
      { address: "192.0.2.10", backup: false, priority: 0 },
      { address: "198.51.100.7", backup: false, priority: 0 },
      { address: "100.64.7.2", backup: true, priority: 0 },
    ]);
    assert.equal(site.peers[0].mode, "adaptive");
    assert.deepEqual(routesToAdd(site), []);
    assert.equal(get("uplinks-srv.conf").addresses.filter((a) => a.family === 4).length, 1);
    const phone = get("phone.conf");
    assert.deepEqual(phone.binds, []);
    assert.ok(phone.peers.every((peer) => peer.persistentKeepaliveSeconds > 0));
    assert.deepEqual(routesToAdd(phone), ["10.77.0.0/24", "fd77::/64"]);
    const server = get("many-peers.conf");
    assert.ok(server.peers.length >= 3);
    assert.ok(server.peers.every((peer) => peer.endpoints.length === 0));
    assert.ok(server.peers.every((peer) => peer.allowedIps.length > 0));
    assert.ok(server.peers.every((peer) => peer.mode === "duplicate" && peer.redundancy === 0));
    assert.ok(server.postUp.some((hook) => hook.includes("%i")));
    const v6 = get("ipv6-ends.conf");
    assert.ok(v6.peers[0].endpoints.length >= 2);
    assert.ok(v6.peers[0].endpoints.every((e) => e.family === 6 && e.text.startsWith("[")));
    const failover = get("failover.conf");
    assert.ok(failover.binds.some((bind) => !bind.backup && bind.priority === 0));
    assert.ok(failover.binds.some((bind) => bind.backup));
    assert.ok(failover.peers.every((peer) => peer.mode === "failover"));
  },
});
