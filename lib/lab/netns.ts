/**
 * Network namespaces and their links: create and delete namespaces, veth pairs between two
 * namespaces, addresses, routes and source-address rules, link up and down. Thin wrappers over
 * iproute2 (`ip -n NS ...`); they track nothing (the {@link Lab} in lab.ts does).
 * @module
 */
import { inNamespace, mustRun, run, sleep } from "./process.ts";

/** One veth pair between two namespaces (a "path"). */
export interface Veth {
  readonly nsA: string;
  readonly devA: string;
  readonly nsB: string;
  readonly devB: string;
  /** `address/prefix` on the A side, if one was assigned. */
  readonly addrA?: string;
  readonly addrB?: string;
}

/** Options for {@link addVethPair}. */
export interface VethOptions {
  /** Interface name in namespace A (at most 15 characters); default `vethN`. */
  readonly devA?: string;
  /** Interface name in namespace B; default `vethN`. */
  readonly devB?: string;
  /** `address/prefix` for the A side, e.g. `10.201.1.1/24`. */
  readonly addrA?: string;
  readonly addrB?: string;
  readonly mtu?: number;
}

const IFNAME = /^[A-Za-z0-9_.-]{1,15}$/;

/** Throws unless `dev` is a valid interface name (1-15 of `A-Z a-z 0-9 _ . -`). */
export function checkDeviceName(dev: string): void {
  if (!IFNAME.test(dev)) throw new Error(`bad interface name ${JSON.stringify(dev)}`);
}

/** Removes the address prefix: `10.0.0.1/24` → `10.0.0.1`. */
export function ipOf(addr: string): string {
  const slash = addr.indexOf("/");
  return slash < 0 ? addr : addr.slice(0, slash);
}

/** Names of all network namespaces on the machine (`ip netns list`). */
export async function listNamespaces(): Promise<string[]> {
  const r = await mustRun(["ip", "netns", "list"]);
  return r.stdout.split("\n").map((l) => l.trim().split(/\s+/)[0]).filter((n) =>
    n !== undefined && n !== ""
  );
}

/** PIDs of processes whose network namespace is `ns` (`ip netns pids`), except our own. */
export async function namespacePids(ns: string): Promise<number[]> {
  const r = await run(["ip", "netns", "pids", ns]);
  if (!r.success) return [];
  return r.stdout.split(/\s+/).filter((s) => /^\d+$/.test(s)).map(Number).filter((p) =>
    p !== Deno.pid
  );
}

/** Creates namespace `ns` and brings its `lo` up. */
export async function createNamespace(ns: string): Promise<void> {
  await mustRun(["ip", "netns", "add", ns]);
  await mustRun(["ip", "-n", ns, "link", "set", "lo", "up"]);
}

/**
 * Deletes namespace `ns` (which removes its links, routes and iptables rules), retrying for up to
 * 2 s while the kernel still holds it. Returns an error message, or null once it is gone.
 */
export async function deleteNamespace(ns: string): Promise<string | null> {
  let r = await run(["ip", "netns", "del", ns]);
  for (let i = 0; i < 20 && !r.success; i++) {
    await sleep(100);
    if (!(await listNamespaces()).includes(ns)) break;
    r = await run(["ip", "netns", "del", ns]);
  }
  if ((await listNamespaces()).includes(ns)) {
    return `could not delete namespace ${ns}: ${r.stderr.trim()}`;
  }
  return null;
}

/**
 * Creates a veth pair with one end in each namespace, assigns the given addresses and brings
 * both ends up. The devices are created directly inside the namespaces, so names only need to
 * be unique within each namespace.
 */
export async function addVethPair(
  nsA: string,
  nsB: string,
  devA: string,
  devB: string,
  options: VethOptions = {},
): Promise<Veth> {
  checkDeviceName(devA);
  checkDeviceName(devB);
  if (nsA === nsB && devA === devB) {
    throw new Error("both ends of a veth in one namespace need two names");
  }
  await mustRun([
    "ip",
    "link",
    "add",
    devA,
    "netns",
    nsA,
    "type",
    "veth",
    "peer",
    "name",
    devB,
    "netns",
    nsB,
  ]);
  for (const [ns, dev, addr] of [[nsA, devA, options.addrA], [nsB, devB, options.addrB]] as const) {
    if (options.mtu !== undefined) {
      await mustRun(["ip", "-n", ns, "link", "set", dev, "mtu", String(options.mtu)]);
    }
    if (addr !== undefined) await addAddress(ns, dev, addr);
    await setLink(ns, dev, true);
  }
  return { nsA, devA, nsB, devB, addrA: options.addrA, addrB: options.addrB };
}

/** `ip -n NS addr add ADDR dev DEV`. */
export async function addAddress(ns: string, dev: string, addr: string): Promise<void> {
  await mustRun(["ip", "-n", ns, "addr", "add", addr, "dev", dev]);
}

/** Sets a link administratively up or down (`ip link set DEV up|down`). */
export async function setLink(ns: string, dev: string, up: boolean): Promise<void> {
  await mustRun(["ip", "-n", ns, "link", "set", dev, up ? "up" : "down"]);
}

/** The kernel's default `gso_max_segs` of a device. */
export const GSO_MAX_SEGMENTS_DEFAULT = 65535;

/**
 * Sets how many segments a socket buffer sent through `dev` may carry; 1 makes the kernel cut
 * every offloaded burst (TSO, UDP GSO) into wire packets before the device.
 */
export async function setGsoMaxSegments(ns: string, dev: string, segments: number): Promise<void> {
  await mustRun(["ip", "-n", ns, "link", "set", dev, "gso_max_segs", String(segments)]);
}

/** True when `dev` exists in `ns`. */
export async function linkExists(ns: string, dev: string): Promise<boolean> {
  return (await run(["ip", "-n", ns, "link", "show", dev])).success;
}

/** Where a route goes: a gateway, a device, or both; `table` for a policy-routing table. */
export interface RouteVia {
  readonly gateway?: string;
  readonly dev?: string;
  readonly table?: number;
}

/** Adds a route in `ns`: `ip route add PREFIX via GW dev DEV [table N]`. */
export async function addRoute(ns: string, prefix: string, via: RouteVia): Promise<void> {
  await mustRun(routeArgv(ns, "add", prefix, via));
}

/** Adds or replaces a route (`ip route replace`), e.g. again after its link came back up. */
export async function replaceRoute(ns: string, prefix: string, via: RouteVia): Promise<void> {
  await mustRun(routeArgv(ns, "replace", prefix, via));
}

function routeArgv(ns: string, verb: string, prefix: string, via: RouteVia): string[] {
  const argv = ["ip", "-n", ns, "route", verb, prefix];
  if (via.gateway !== undefined) argv.push("via", via.gateway);
  if (via.dev !== undefined) argv.push("dev", via.dev);
  if (via.table !== undefined) argv.push("table", String(via.table));
  return argv;
}

/**
 * Source-address policy routing: packets from `source` look up routing table `table`
 * (`ip rule add from SOURCE lookup TABLE priority PRIORITY`). A host with several uplinks needs
 * it so that a socket bound to one uplink's address leaves through that uplink.
 */
export async function addSourceRule(
  ns: string,
  source: string,
  table: number,
  priority: number,
): Promise<void> {
  await mustRun([
    "ip",
    "-n",
    ns,
    "rule",
    "add",
    "from",
    source,
    "lookup",
    String(table),
    "priority",
    String(priority),
  ]);
}

/** Writes a sysctl inside `ns`, e.g. `net.ipv4.ip_forward` = `1`. */
export async function setSysctl(ns: string, key: string, value: string): Promise<void> {
  if (!/^[a-z0-9_.]+$/.test(key) || !/^[\w.-]+$/.test(value)) {
    throw new Error(`bad sysctl ${key}=${value}`);
  }
  const file = `/proc/sys/${key.replaceAll(".", "/")}`;
  await mustRun(inNamespace(ns, ["sh", "-c", `echo ${value} > ${file}`]));
}
