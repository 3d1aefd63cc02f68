/**
 * The V8 flags centipede runs with. They are not set from inside the process (V8 takes no flags
 * after start-up), so every way of starting it passes them: the `centipede` and `compile` tasks in
 * `deno.json` (a test checks they match this file), the lab and the network-namespace tests
 * (`lib/lab/vpn.ts`) and the side-by-side benchmark (`bench/compare_topology.ts`).
 *
 * `--invocation-count-for-turbofan=300` (V8's default is 3000): the functions a packet passes
 * through reach V8's top tier, TurboFan, instead of staying in its mid tier, Maglev, after a
 * warm-up. With the default, a 5000-packet flood and 500 pings left most of them in Maglev
 * (`--trace-opt`): only the loop, the AEAD calls and the route lookup the warm path runs a
 * thousand times a second had tiered up. Maglev code calls through more inline caches and
 * builtins, and its FFI calls take the slow path (a `write` with a BigInt address: about 440 ns
 * warm against 280 ns from TurboFan code). On a ping at rest, where all of it runs on cold
 * caches, the RTT centipede adds fell to 0.85x (two runs with the builds' tunnels swapped,
 * 12 rounds of 200 pings each; docs/DATAPATH.md, "V8 tiering").
 * @module
 */

/** The flags, one per element. */
export const V8_FLAGS: readonly string[] = ["--invocation-count-for-turbofan=300"];

/** The flags as one `deno run` / `deno compile` argument. */
export const V8_FLAGS_ARG = `--v8-flags=${V8_FLAGS.join(",")}`;
