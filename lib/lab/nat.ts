/**
 * A NAT router between namespaces: forwarding, MASQUERADE on the outside interface, the
 * connection-tracking table, and "rebinding" (what a NAT box reboot or a mapping timeout does:
 * the mappings are forgotten and the next packet of a flow leaves from a new source port).
 * Thin wrappers over iptables and conntrack.
 * @module
 */
import { inNamespace, mustRun } from "./process.ts";
import { ensureCommand } from "./tools.ts";
import { setSysctl, type Veth } from "./netns.ts";

/** Options for `Lab.addNatRouter`. */
export interface NatRouterOptions {
  /** Role of the router namespace; default `nat`. */
  readonly role?: string;
  /** The client (private) side namespace; it gets a default route via the router. */
  readonly clientNs: string;
  /** The server (public) side namespace. */
  readonly serverNs: string;
  /** Client's address on the inside link; default `192.168.77.2/24`. */
  readonly clientAddr?: string;
  /** Router's inside address; default `192.168.77.1/24`. */
  readonly routerInsideAddr?: string;
  /** Router's outside address (what the server sees); default `10.203.0.1/24`. */
  readonly routerOutsideAddr?: string;
  /** Server's address on the outside link; default `10.203.0.2/24`. */
  readonly serverAddr?: string;
  /** Interface names; defaults `nat-in` (client and router) and `nat-out` (router and server). */
  readonly insideDev?: string;
  readonly outsideDev?: string;
}

/** A NAT router namespace made by `Lab.addNatRouter`. */
export interface NatRouter {
  readonly ns: string;
  readonly inside: Veth;
  readonly outside: Veth;
  /** Client address without prefix, e.g. `192.168.77.2`. */
  readonly clientIp: string;
  /** The address the server sees as source of NATed traffic, e.g. `10.203.0.1`. */
  readonly publicIp: string;
  /** Server address without prefix, e.g. `10.203.0.2`. */
  readonly serverIp: string;
}

/** Lets `ns` forward IPv4 packets between its interfaces. */
export async function enableForwarding(ns: string): Promise<void> {
  await setSysctl(ns, "net.ipv4.ip_forward", "1");
}

/**
 * The nat-table rule spec (without `-A`/`-D`) that MASQUERADEs what leaves `outDev`. With
 * `udpPorts`, only UDP matches and its source ports are mapped into that range (`--to-ports`).
 */
export function masqueradeSpec(outDev: string, udpPorts?: readonly [number, number]): string[] {
  const spec = ["POSTROUTING", "-o", outDev];
  if (udpPorts === undefined) return [...spec, "-j", "MASQUERADE"];
  const [lo, hi] = udpPorts;
  if (!(Number.isInteger(lo) && Number.isInteger(hi) && lo >= 1024 && lo <= hi && hi < 65536)) {
    throw new Error(`bad NAT port range ${lo}-${hi}`);
  }
  return [...spec, "-p", "udp", "-j", "MASQUERADE", "--to-ports", `${lo}-${hi}`, "--random"];
}

/**
 * The UDP source-port range of NAT "generation" `n` (0, 1, 2, ...): 100 ports from 20000 on,
 * a new range for each generation, so that every rebinding moves every flow to a new port.
 */
export function natPortRange(generation: number): [number, number] {
  const lo = 20_000 + (generation % 400) * 100;
  return [lo, lo + 99];
}

/** Appends (`add`), inserts first in its chain (`insert`) or deletes one nat-table rule in `ns`. */
export async function iptablesNat(
  ns: string,
  action: "add" | "insert" | "delete",
  spec: readonly string[],
): Promise<void> {
  await ensureCommand("iptables", "iptables");
  const [chain, ...rest] = spec;
  const verb = action === "add" ? ["-A", chain] : action === "insert" ? ["-I", chain, "1"] : [
    "-D",
    chain,
  ];
  await mustRun(inNamespace(ns, ["iptables", "-w", "10", "-t", "nat", ...verb, ...rest]));
}

/**
 * Empties the connection-tracking table of `ns` (`conntrack -F`), so NAT mappings are made
 * anew. The kernel has no /proc file for this; the conntrack tool (Debian package `conntrack`)
 * talks ctnetlink and is installed on demand.
 */
export async function flushConntrack(ns: string): Promise<void> {
  await ensureCommand("conntrack", "conntrack");
  await mustRun(inNamespace(ns, ["conntrack", "-F"]));
}

/** The conntrack entries of `ns`, one per line (`conntrack -L`). */
export async function conntrackEntries(ns: string): Promise<string[]> {
  await ensureCommand("conntrack", "conntrack");
  const r = await mustRun(inNamespace(ns, ["conntrack", "-L"]));
  return r.stdout.split("\n").filter((l) => l.trim() !== "");
}

/**
 * Rebinds every UDP flow through the router `ns`: replaces the UDP MASQUERADE rule of
 * generation `generation` by the one of the next generation (a new port range), then flushes
 * the conntrack table. Returns the new generation.
 */
export async function rebindNat(ns: string, outDev: string, generation: number): Promise<number> {
  const next = generation + 1;
  await iptablesNat(ns, "insert", masqueradeSpec(outDev, natPortRange(next)));
  await iptablesNat(ns, "delete", masqueradeSpec(outDev, natPortRange(generation)));
  await flushConntrack(ns);
  return next;
}
