/**
 * Builds a scenario's network in a {@link Lab} from its {@link TopologyPlan}, and changes it
 * while it runs: a path's link up or down, its rate, its loss, a NAT rebinding. Rates and losses
 * apply in both directions: on the client's end of the path and on the far end (server or
 * router), each on egress.
 * @module
 */
import { burstFor } from "./impair.ts";
import type { Lab } from "./lab.ts";
import { enableForwarding, iptablesNat, masqueradeSpec, natPortRange, rebindNat } from "./nat.ts";
import { addRoute, addSourceRule, replaceRoute } from "./netns.ts";
import type { Scenario } from "./scenario.ts";
import type { PathPlan, TopologyPlan } from "./topology.ts";

/** The tbf queue bound: what a rate-limited path adds to the RTT at most. */
export const TBF_LATENCY = "100ms";

/** A built network: the namespaces of the hosts. */
export interface Network {
  readonly plan: TopologyPlan;
  readonly client: string;
  readonly server: string;
  readonly router: string | null;
  /** The namespace at the far end of every path: the router, or the server without one. */
  readonly far: string;
}

/** Creates the namespaces, paths, addresses, routes, impairments and NAT of a scenario. */
export async function buildNetwork(lab: Lab, s: Scenario, plan: TopologyPlan): Promise<Network> {
  const client = await lab.addNamespace(plan.roles.client);
  const server = await lab.addNamespace(plan.roles.server);
  const router = plan.router === null ? null : await lab.addNamespace(plan.roles.router);
  const net: Network = { plan, client, server, router, far: router ?? server };
  for (const p of plan.paths) {
    await lab.addVeth(client, net.far, {
      devA: p.dev,
      devB: p.dev,
      addrA: `${p.clientIp}/${p.prefixLength}`,
      addrB: `${p.farIp}/${p.prefixLength}`,
    });
    if (router !== null) {
      await addSourceRule(client, p.clientIp, p.table, 1000 + p.index);
      await routePath(net, p);
    }
  }
  if (router !== null) await buildRouter(lab, net, router);
  for (const spec of s.paths) {
    if (spec.rate !== null) await setPathRate(lab, net, spec.name, spec.rate);
    if (spec.loss > 0) await setPathLoss(lab, net, spec.name, spec.loss);
  }
  return net;
}

async function buildRouter(lab: Lab, net: Network, router: string): Promise<void> {
  const r = net.plan.router!;
  await lab.addVeth(router, net.server, {
    devA: r.outsideDev,
    devB: r.outsideDev,
    addrA: `${r.outsideIp}/24`,
    addrB: `${net.plan.serverIps[0]}/24`,
  });
  await enableForwarding(router);
  if (r.nat) {
    // UDP (the tunnel) gets a port range that a rebinding changes; the rest plain MASQUERADE.
    await iptablesNat(router, "add", masqueradeSpec(r.outsideDev, natPortRange(0)));
    await iptablesNat(router, "add", masqueradeSpec(r.outsideDev));
  } else {
    for (const p of net.plan.paths) {
      await addRoute(net.server, `${p.clientIp}/32`, { gateway: r.outsideIp });
    }
  }
}

/**
 * With a router: the client's route to the server through path `p` (in the path's own table).
 * The kernel drops it when the link goes down, so bringing the link up adds it again.
 */
async function routePath(net: Network, p: PathPlan): Promise<void> {
  if (net.router === null) return;
  await replaceRoute(net.client, `${p.serverIp}/32`, {
    gateway: p.farIp,
    dev: p.dev,
    table: p.table,
  });
}

function pathPlan(net: Network, name: string): PathPlan {
  const p = net.plan.paths.find((q) => q.name === name);
  if (p === undefined) throw new Error(`no path ${name}`);
  return p;
}

/** Sets path `name` administratively up or down on the client's end. */
export async function setPathLink(lab: Lab, net: Network, name: string, up: boolean) {
  const p = pathPlan(net, name);
  await lab.setLink(net.client, p.dev, up);
  if (up) await routePath(net, p);
}

/** Rate-limits path `name` in both directions (tbf at both ends); null removes the limit. */
export async function setPathRate(lab: Lab, net: Network, name: string, rate: string | null) {
  const p = pathPlan(net, name);
  for (const ns of [net.client, net.far]) {
    if (rate === null) await lab.clearRateLimit(ns, p.dev);
    else await lab.rateLimit(ns, p.dev, { rate, burst: burstFor(rate), latency: TBF_LATENCY });
  }
}

/** Drops `percent` % of the packets of path `name` in each direction; 0 removes the loss. */
export async function setPathLoss(lab: Lab, net: Network, name: string, percent: number) {
  const p = pathPlan(net, name);
  for (const ns of [net.client, net.far]) await lab.setLoss(ns, p.dev, percent / 100, "egress");
}

/** Rebinds the NAT (new port range, conntrack flushed); returns the new generation. */
export async function rebind(net: Network, generation: number): Promise<number> {
  if (net.router === null || net.plan.router?.nat !== true) throw new Error("no NAT router");
  return await rebindNat(net.router, net.plan.router.outsideDev, generation);
}
