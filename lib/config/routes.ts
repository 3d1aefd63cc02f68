/**
 * Which routes bringing an interface up must add: the peers' AllowedIPs minus what the kernel
 * already routes to the interface through the connected prefix of each Address.
 * @module
 */

import type { Cidr, Config } from "./config.ts";
import { cidrContains, interfaceNetwork } from "./cidr.ts";

/** Canonical CIDR texts of every AllowedIPs prefix not covered by an Address, de-duplicated. */
export function routesToAdd(config: Config): string[] {
  const connected = config.addresses.map(interfaceNetwork);
  const covered = (cidr: Cidr) => connected.some((net) => cidrContains(net, cidr));
  const routes: string[] = [];
  for (const peer of config.peers) {
    for (const cidr of peer.allowedIps) {
      if (!covered(cidr) && !routes.includes(cidr.text)) routes.push(cidr.text);
    }
  }
  return routes;
}
