/**
 * Which network interface holds a local address (`ip -o address show to ADDRESS`), so a path
 * end's socket can be tied to its uplink.
 * @module
 */

/** The name of the interface that has `address`, or undefined when none does. */
export async function interfaceOfAddress(address: string): Promise<string | undefined> {
  const family = address.includes(":") ? "-6" : "-4";
  const output = await new Deno.Command("ip", {
    args: ["-o", family, "address", "show", "to", address],
    stdin: "null",
    stderr: "null",
  }).output();
  if (!output.success) return undefined;
  return parseInterfaceName(new TextDecoder().decode(output.stdout));
}

/** The interface name of the first line of `ip -o address` output (`2: eth0    inet ...`). */
export function parseInterfaceName(output: string): string | undefined {
  const match = output.match(/^\d+:\s+([^\s@:]+)/m);
  return match?.[1];
}
