/**
 * The standard two-path topology of the tests: namespaces A and B joined by two veth paths,
 * keys from the real `genkey`/`pubkey`, and `main.ts up` running in both.
 *
 * ```
 *   ns A                                   ns B
 *   cpt0 10.77.0.1/24                      cpt0 10.77.0.2/24
 *   p1   10.201.1.1/24 <--- path 1 --->    p1   10.201.1.2/24
 *   p2   10.201.2.1/24 <--- path 2 --->    p2   10.201.2.2/24
 * ```
 * @module
 */
import type { Lab } from "./lab.ts";
import type { Proc } from "./process.ts";
import {
  CONTROL_DIR_ENV,
  controlDirFor,
  genKeyPair,
  type KeyPair,
  startPeer,
  writeConfig,
} from "./vpn.ts";

/** One path of {@link TwoPathTunnel}: a veth pair and its two addresses (without prefix). */
export interface TunnelPath {
  readonly devA: string;
  readonly devB: string;
  readonly ipA: string;
  readonly ipB: string;
}

/** Two namespaces, two veth paths and a running centipede peer in each. */
export interface TwoPathTunnel {
  readonly a: string;
  readonly b: string;
  /** Interface (and config) name in both namespaces, e.g. `cpt0`. */
  readonly iface: string;
  readonly confA: string;
  readonly confB: string;
  readonly keysA: KeyPair;
  readonly keysB: KeyPair;
  readonly peerA: Proc;
  readonly peerB: Proc;
  /** Tunnel addresses without prefix: 10.77.0.1 (A) and 10.77.0.2 (B). */
  readonly tunA: string;
  readonly tunB: string;
  readonly paths: readonly [TunnelPath, TunnelPath];
  /** `{ CENTIPEDE_CONTROL_DIR }` of each peer ({@link controlDirFor}); pass it to commands. */
  readonly envA: Record<string, string>;
  readonly envB: Record<string, string>;
  /** Milliseconds from spawning both peers until both printed their ready line. */
  readonly startupMs: number;
}

/** Options for {@link setupTwoPathTunnel}. */
export interface TwoPathOptions {
  /** Interface and config name; default `cpt0`. */
  readonly iface?: string;
  /** Echo the peers' output lines to the console. */
  readonly echo?: boolean;
  readonly port?: number;
  /** `Mode` of both peers; absent: no Mode line (duplicate). */
  readonly mode?: "duplicate" | "failover" | "aggregate" | "adaptive";
  /** Runs after the namespaces and paths exist and before the peers start (impairments). */
  readonly beforeStart?: (a: string, b: string, paths: readonly TunnelPath[]) => Promise<void>;
}

/**
 * The standard topology: namespaces A and B joined by path 1 (10.201.1.1/24 <-> 10.201.1.2/24,
 * devices `p1`) and path 2 (10.201.2.1/24 <-> 10.201.2.2/24, devices `p2`); keys made with the
 * real `genkey`/`pubkey`; configs written to a lab temp dir (0600); `main.ts up` running in both
 * namespaces with tunnel addresses 10.77.0.1/24 (A) and 10.77.0.2/24 (B).
 *
 * The addresses are fixed: each lab's namespaces have their own routing tables, so parallel runs
 * using the same subnets do not see each other.
 */
export async function setupTwoPathTunnel(
  lab: Lab,
  options: TwoPathOptions = {},
): Promise<TwoPathTunnel> {
  const iface = options.iface ?? "cpt0";
  const port = options.port ?? 51820;
  const a = await lab.addNamespace("a");
  const b = await lab.addNamespace("b");
  const paths: [TunnelPath, TunnelPath] = [
    { devA: "p1", devB: "p1", ipA: "10.201.1.1", ipB: "10.201.1.2" },
    { devA: "p2", devB: "p2", ipA: "10.201.2.1", ipB: "10.201.2.2" },
  ];
  for (const p of paths) {
    await lab.addVeth(a, b, {
      devA: p.devA,
      devB: p.devB,
      addrA: `${p.ipA}/24`,
      addrB: `${p.ipB}/24`,
    });
  }
  // genkey runs on the host first, which also fills Deno's module cache: inside the
  // namespaces there is no route to any registry.
  const keysA = await genKeyPair();
  const keysB = await genKeyPair();
  const dir = await lab.tempDir();
  const confA = await writeConfig(dir, iface, {
    privateKey: keysA.privateKey,
    address: "10.77.0.1/24",
    listenPort: port,
    binds: paths.map((p) => p.ipA),
    peers: [{
      publicKey: keysB.publicKey,
      endpoints: paths.map((p) => `${p.ipB}:${port}`),
      allowedIps: ["10.77.0.2/32"],
      persistentKeepalive: 25,
      mode: options.mode,
    }],
  });
  // B's config goes to its own directory: both files are named after the interface.
  const dirB = `${dir}/b`;
  await Deno.mkdir(dirB, { mode: 0o700 });
  const confB = await writeConfig(dirB, iface, {
    privateKey: keysB.privateKey,
    address: "10.77.0.2/24",
    listenPort: port,
    binds: paths.map((p) => p.ipB),
    peers: [{
      publicKey: keysA.publicKey,
      endpoints: paths.map((p) => `${p.ipA}:${port}`),
      allowedIps: ["10.77.0.1/32"],
      persistentKeepalive: 25,
      mode: options.mode,
    }],
  });
  if (options.beforeStart) await options.beforeStart(a, b, paths);
  const envA = { [CONTROL_DIR_ENV]: controlDirFor(confA) };
  const envB = { [CONTROL_DIR_ENV]: controlDirFor(confB) };
  const t0 = performance.now();
  const [peerA, peerB] = await Promise.all([
    startPeer(lab, a, confA, { echo: options.echo, env: envA }),
    startPeer(lab, b, confB, { echo: options.echo, env: envB }),
  ]);
  const ready = performance.now() - t0;
  return {
    a,
    b,
    iface,
    confA,
    confB,
    keysA,
    keysB,
    peerA,
    peerB,
    envA,
    envB,
    tunA: "10.77.0.1",
    tunB: "10.77.0.2",
    paths,
    startupMs: Math.round(ready),
  };
}
