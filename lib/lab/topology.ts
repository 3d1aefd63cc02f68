/**
 * The concrete network of a scenario, before anything is built: namespace roles, one veth pair
 * per path with its addresses, the server's addresses, the optional router, and both centipede
 * config files. Pure: {@link planTopology} and {@link hostConfig} only compute.
 *
 * ```
 *  client (c)                                   server (s)
 *  cpl0 10.77.0.1/24                            cpl0 10.77.0.2/24
 *  PATH1 10.201.1.1/24 <------ PATH1 ------>    PATH1 10.201.1.2/24
 *  PATH2 10.201.2.1/24 <------ PATH2 ------>    PATH2 10.201.2.2/24
 *
 *  with a router (r) between the client's paths and the server's one link:
 *  PATH1 192.168.1.2/24 <-> PATH1 192.168.1.1/24  router  wan 10.203.0.1/24 <-> wan 10.203.0.2/24
 *  PATH2 192.168.2.2/24 <-> PATH2 192.168.2.1/24
 * ```
 *
 * The client binds one address per path. centipede ties each bound socket to the interface that
 * holds its address (SO_BINDTODEVICE), so a path's datagrams always leave through that path.
 * Without a router the server binds its address on every path and the client lists them all as
 * endpoints: the pairs of one path validate, the crossed ones (client end of one path, server
 * end of another) cannot be reached and stay `down`. With a router the server has one address;
 * a source-address rule per path (`from CLIENT_IP lookup 100+i`) gives the client a route to it
 * through each path. The server has no endpoint: it learns the client's paths from its
 * authenticated traffic (through the NAT, as mapped addresses).
 * @module
 */
import type { HostSpec, Scenario } from "./scenario.ts";
import type { InterfaceConfig } from "./vpn.ts";

/** One lab path as built. */
export interface PathPlan {
  readonly name: string;
  readonly index: number;
  /** Interface name at both ends (the path's name). */
  readonly dev: string;
  /** The client's address on the path, without prefix. */
  readonly clientIp: string;
  /** The far end's address (server, or router with one), without prefix. */
  readonly farIp: string;
  /** The server address the client reaches through this path: its endpoint for the path. */
  readonly serverIp: string;
  readonly prefixLength: number;
  /** The client's policy-routing table for this path. */
  readonly table: number;
}

/** The router between the client's paths and the server. */
export interface RouterPlan {
  readonly nat: boolean;
  /** The router's end of the link to the server. */
  readonly outsideDev: string;
  /** The router's address on that link: the source the server sees with NAT. */
  readonly outsideIp: string;
}

/** Everything {@link planTopology} decides. */
export interface TopologyPlan {
  /** Namespace roles (suffixes of the lab id). */
  readonly roles: { readonly client: string; readonly server: string; readonly router: string };
  /** Tunnel interface (and config file) name on both hosts. */
  readonly iface: string;
  /** UDP port of both peers. */
  readonly port: number;
  /** The server's addresses: its `Bind`s, and the client's `Endpoint`s. */
  readonly serverIps: readonly string[];
  readonly clientTunnelIp: string;
  readonly serverTunnelIp: string;
  readonly paths: readonly PathPlan[];
  readonly router: RouterPlan | null;
}

/** First policy-routing table number (path i uses this + i). */
export const FIRST_TABLE = 100;

/** The addresses and names of a scenario's network. */
export function planTopology(s: Scenario): TopologyPlan {
  const routed = s.router !== null;
  const wanIp = "10.203.0.2";
  const paths = s.paths.map((p, i): PathPlan => ({
    name: p.name,
    index: i,
    dev: p.name,
    clientIp: routed ? `192.168.${i + 1}.2` : `10.201.${i + 1}.1`,
    farIp: routed ? `192.168.${i + 1}.1` : `10.201.${i + 1}.2`,
    serverIp: routed ? wanIp : `10.201.${i + 1}.2`,
    prefixLength: 24,
    table: FIRST_TABLE + i,
  }));
  return {
    roles: { client: "c", server: "s", router: "r" },
    iface: "cpl0",
    port: 51820,
    serverIps: routed ? [wanIp] : paths.map((p) => p.serverIp),
    clientTunnelIp: "10.77.0.1",
    serverTunnelIp: "10.77.0.2",
    paths,
    router: s.router === null
      ? null
      : { nat: s.router.nat, outsideDev: "wan", outsideIp: "10.203.0.1" },
  };
}

/** Keys of a host, as `genkey`/`pubkey` printed them. */
export interface HostKeys {
  readonly privateKey: string;
  readonly publicKey: string;
}

/**
 * The config file of `role`: the client binds one address per path (with the path's `backup`
 * and `priority` flags) and has the server's addresses as endpoints; the server binds its
 * addresses and waits to be contacted. `host` gives mode, redundancy and keepalive.
 */
export function hostConfig(
  s: Scenario,
  plan: TopologyPlan,
  role: "client" | "server",
  host: HostSpec,
  own: HostKeys,
  peer: HostKeys,
): InterfaceConfig {
  const client = role === "client";
  const binds = client
    ? s.paths.map((p, i) => {
      const flags = [p.backup ? "backup" : "", p.priority > 0 ? `priority=${p.priority}` : ""];
      return [plan.paths[i].clientIp, ...flags.filter((f) => f !== "")].join(" ");
    })
    : [...plan.serverIps];
  return {
    privateKey: own.privateKey,
    address: `${client ? plan.clientTunnelIp : plan.serverTunnelIp}/24`,
    listenPort: plan.port,
    binds,
    peers: [{
      publicKey: peer.publicKey,
      endpoints: client ? plan.serverIps.map((ip) => `${ip}:${plan.port}`) : [],
      allowedIps: [`${client ? plan.serverTunnelIp : plan.clientTunnelIp}/32`],
      persistentKeepalive: host.keepalive ?? undefined,
      mode: host.mode,
      redundancy: host.redundancy ?? undefined,
    }],
  };
}
