/**
 * The network-namespace test lab. The lab itself lives in lib/lab/ (it is also what
 * `centipede lab` runs on); this module gathers the names the tests use:
 *
 * | From                   | What                                                               |
 * | ---------------------- | ------------------------------------------------------------------ |
 * | lib/lab/lab.ts         | {@link Lab}: namespaces, veth paths, impairments, processes, cleanup |
 * | lib/lab/process.ts     | {@link run}, {@link mustRun}, {@link Proc}, {@link withTimeout}    |
 * | lib/lab/tools.ts       | {@link requireRoot}, {@link which}, {@link ensureCommand}          |
 * | lib/lab/netns.ts       | {@link listNamespaces}, {@link namespacePids}, {@link ipOf}        |
 * | lib/lab/ping.ts        | {@link parsePing}                                                  |
 * | lib/lab/vpn.ts         | keys, configs and peers of the VPN under test                      |
 * | lib/lab/two_path.ts    | {@link setupTwoPathTunnel}, the standard two-namespace topology    |
 *
 * Needs root (uid 0), `ip` (iproute2) and, for some helpers, `tc`, `iptables` and `conntrack`
 * (installed with apt-get when missing). A lab only ever sends traffic to loopback or to
 * namespaces it created. Set `CENTIPEDE_LAB_VERBOSE=1` to echo every command and output line.
 * @module
 */

export { Lab, type LabOptions } from "../../lib/lab/lab.ts";
export {
  type ExecOptions,
  type ExecResult,
  mustRun,
  Proc,
  run,
  type SpawnOptions,
  withTimeout,
} from "../../lib/lab/process.ts";
export { ensureCommand, requireRoot, which } from "../../lib/lab/tools.ts";
export {
  ipOf,
  listNamespaces,
  namespacePids,
  type Veth,
  type VethOptions,
} from "../../lib/lab/netns.ts";
export { type LossDirection, type RateLimitOptions } from "../../lib/lab/impair.ts";
export { type NatRouter, type NatRouterOptions } from "../../lib/lab/nat.ts";
export { parsePing, type PingSummary } from "../../lib/lab/ping.ts";
export {
  centipede,
  centipedeArgv,
  CONTROL_DIR_ENV,
  controlDirFor,
  genKeyPair,
  type InterfaceConfig,
  type KeyPair,
  MAIN_TS,
  type PeerSection,
  renderConfig,
  REPO_ROOT,
  startPeer,
  type StartPeerOptions,
  writeConfig,
} from "../../lib/lab/vpn.ts";
export {
  setupTwoPathTunnel,
  type TunnelPath,
  type TwoPathOptions,
  type TwoPathTunnel,
} from "../../lib/lab/two_path.ts";
