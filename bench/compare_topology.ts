/**
 * The topologies `bench/compare.ts` builds in two network namespaces: the bare veth, wireguard-go
 * and centipede (one or two paths, main-thread loop or workers), each torn down by PID.
 * @module
 */
import { mustRun, Netns, type Proc, sleep } from "./_netns.ts";
import { V8_FLAGS_ARG } from "../lib/host/v8_flags.ts";
import { MAIN_TS, REPO_ROOT } from "./compare_tools.ts";

/** What a built topology offers to the measurements. */
export interface Topology {
  readonly client: string;
  readonly server: string;
  /** Address of the server end that traffic goes to (through the tunnel, if any). */
  readonly target: string;
  /** The VPN processes of both ends (none for bare veth). */
  readonly vpn: readonly Proc[];
  readonly notes: string[];
}

const PORT = 51820;
const MTU = 1420;
const TUN_CLIENT = "10.214.0.1";
const TUN_SERVER = "10.214.0.2";

/** The server end's address on veth pair `k` (from 1): the bare path, without a tunnel. */
export function serverPathAddress(k: number): string {
  return `10.213.${k}.2`;
}

/** Namespaces `a` (client) and `b` (server) joined by `paths` veth pairs p1, p2, ... */
async function buildPaths(net: Netns, paths: number) {
  const client = await net.addNamespace("a");
  const server = await net.addNamespace("b");
  const clientIps: string[] = [];
  const serverIps: string[] = [];
  for (let k = 1; k <= paths; k++) {
    clientIps.push(`10.213.${k}.1`);
    serverIps.push(serverPathAddress(k));
    await net.addVeth(client, server, `p${k}`, `${clientIps[k - 1]}/24`, `${serverIps[k - 1]}/24`);
  }
  return { client, server, clientIps, serverIps };
}

/** Pings `target` from `ns` once a second-ish until a reply comes (at most `tries` tries). */
async function waitForPing(net: Netns, ns: string, target: string, tries = 30): Promise<void> {
  for (let i = 0; i < tries; i++) {
    const r = await net.exec(ns, ["ping", "-c", "1", "-W", "1", target], { timeoutMs: 5_000 });
    if (r.success) return;
    await sleep(200);
  }
  throw new Error(`no ping reply from ${target} within ${tries} tries`);
}

export async function setupVeth(net: Netns): Promise<Topology> {
  const { client, server, serverIps } = await buildPaths(net, 1);
  await waitForPing(net, client, serverIps[0]);
  return { client, server, target: serverIps[0], vpn: [], notes: [] };
}

/** A WireGuard key pair from `wg genkey` / `wg pubkey`. */
export interface WgKeys {
  readonly privateKey: string;
  readonly publicKey: string;
}

export async function wgKeyPair(): Promise<WgKeys> {
  const privateKey = (await mustRun(["wg", "genkey"])).stdout.trim();
  const publicKey = (await mustRun(["wg", "pubkey"], { stdin: `${privateKey}\n` })).stdout.trim();
  return { privateKey, publicKey };
}

/** One end of the wireguard-go tunnel. */
interface WgEnd {
  readonly ns: string;
  /** Interface name, also the name of its UAPI socket in /var/run/wireguard (shared by all). */
  readonly name: string;
  readonly keys: WgKeys;
  readonly peerKey: string;
  /** Own tunnel address and the peer's. */
  readonly addr: string;
  readonly peerAddr: string;
  /** The peer's `ip:port`; the server end has none and learns it. */
  readonly endpoint?: string;
}

/** Starts `wireguard-go -f NAME` in the end's namespace and configures it. */
async function startWireguardGoEnd(
  net: Netns,
  end: WgEnd,
  program: string,
  keyDir: string,
): Promise<Proc> {
  const sock = `/var/run/wireguard/${end.name}.sock`;
  net.removeAtCleanup(sock);
  const proc = net.spawn(end.ns, end.name, [program, "-f", end.name], {
    env: { WG_PROCESS_FOREGROUND: "1", LOG_LEVEL: "error" },
  });
  await waitForFile(sock, proc, 10_000);
  const keyFile = `${keyDir}/${end.name}.key`;
  await Deno.writeTextFile(keyFile, `${end.keys.privateKey}\n`, { mode: 0o600 });
  const peer = ["peer", end.peerKey, "allowed-ips", `${end.peerAddr}/32`];
  if (end.endpoint) peer.push("endpoint", end.endpoint);
  const listen = ["listen-port", String(PORT)];
  await net.mustExec(end.ns, ["wg", "set", end.name, "private-key", keyFile, ...listen, ...peer]);
  await net.mustExec(end.ns, ["ip", "addr", "add", `${end.addr}/24`, "dev", end.name]);
  await net.mustExec(end.ns, ["ip", "link", "set", "dev", end.name, "mtu", String(MTU), "up"]);
  const link = (await net.mustExec(end.ns, ["ip", "-d", "link", "show", "dev", end.name])).stdout;
  if (!/\btun\b/.test(link)) {
    throw new Error(`${end.name} is not a TUN device (not wireguard-go?):\n${link}`);
  }
  return proc;
}

/** wireguard-go in both namespaces over one path; interface names are unique per script run. */
export async function setupWireguardGo(
  net: Netns,
  keys: readonly [WgKeys, WgKeys],
  hex: string,
  program: string,
): Promise<Topology> {
  const { client, server, serverIps } = await buildPaths(net, 1);
  const keyDir = await net.tempDir();
  const clientEnd: WgEnd = {
    ns: client,
    name: `wg${hex}a`,
    keys: keys[0],
    peerKey: keys[1].publicKey,
    addr: TUN_CLIENT,
    peerAddr: TUN_SERVER,
    endpoint: `${serverIps[0]}:${PORT}`,
  };
  const serverEnd: WgEnd = {
    ns: server,
    name: `wg${hex}b`,
    keys: keys[1],
    peerKey: keys[0].publicKey,
    addr: TUN_SERVER,
    peerAddr: TUN_CLIENT,
  };
  const vpn = [
    await startWireguardGoEnd(net, clientEnd, program, keyDir),
    await startWireguardGoEnd(net, serverEnd, program, keyDir),
  ];
  await waitForPing(net, client, TUN_SERVER);
  return {
    client,
    server,
    target: TUN_SERVER,
    vpn,
    notes: ["userspace (TUN device), one path; kernel WireGuard not used"],
  };
}

/** The last `n` lines a process wrote to stdout, then to stderr (wireguard-go logs to stdout). */
export function outputOf(p: Proc, n = 15): string {
  return [...p.stdoutLines.slice(-n), ...p.stderrLines.slice(-n)].join("\n");
}

async function waitForFile(path: string, proc: Proc, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (proc.exited) {
      const { code, signal } = await proc.finished;
      const how = signal ? `signal ${signal}` : `code ${code}`;
      throw new Error(`${proc.name} exited with ${how} at start; output:\n${outputOf(proc)}`);
    }
    try {
      await Deno.stat(path);
      return;
    } catch {
      await sleep(100);
    }
  }
  throw new Error(`${proc.name} made no ${path} within ${timeoutMs} ms:\n${outputOf(proc)}`);
}

/** A centipede key pair from `main.ts genkey` / `main.ts pubkey`. */
export async function centipedeKeyPair(): Promise<WgKeys> {
  const deno = Deno.execPath();
  const gen = await mustRun([deno, "run", "-A", MAIN_TS, "genkey"], {
    cwd: REPO_ROOT,
    timeoutMs: 120_000,
  });
  const privateKey = gen.stdout.trim();
  const pub = await mustRun([deno, "run", "-A", MAIN_TS, "pubkey"], {
    cwd: REPO_ROOT,
    stdin: `${privateKey}\n`,
    timeoutMs: 60_000,
  });
  return { privateKey, publicKey: pub.stdout.trim() };
}

/** The text of a centipede config file. */
export function centipedeConfig(c: {
  privateKey: string;
  address: string;
  binds: readonly string[];
  peerKey: string;
  endpoints: readonly string[];
  allowed: string;
}): string {
  const lines = [
    "[Interface]",
    `PrivateKey = ${c.privateKey}`,
    `Address = ${c.address}`,
    `ListenPort = ${PORT}`,
    `MTU = ${MTU}`,
    `Bind = ${c.binds.join(", ")}`,
    "",
    "[Peer]",
    `PublicKey = ${c.peerKey}`,
    `AllowedIPs = ${c.allowed}`,
    "Mode = duplicate",
  ];
  if (c.endpoints.length > 0) lines.push(`Endpoint = ${c.endpoints.join(", ")}`);
  return lines.join("\n") + "\n";
}

const CENTIPEDE_IFACE = "cpbench0";

/** Which centipede to run: a checkout, and what to add to its `deno run` and environment. */
export interface CentipedeBuild {
  /** The checkout's root, with a trailing slash (default: this one). */
  readonly root?: string;
  /** Arguments for `deno run`, before the script (after this checkout's V8 flags). */
  readonly denoArgs?: readonly string[];
  readonly env?: Readonly<Record<string, string>>;
}

/** centipede in both namespaces over `paths` veth pairs; the client alone knows the endpoints. */
export async function setupCentipede(
  net: Netns,
  keys: readonly [WgKeys, WgKeys],
  paths: number,
  flags: readonly string[] = [],
  build: CentipedeBuild = {},
): Promise<Topology> {
  const root = build.root ?? REPO_ROOT;
  const { client, server, clientIps, serverIps } = await buildPaths(net, paths);
  const dir = await net.tempDir();
  const ends = [
    {
      ns: client,
      side: "a",
      text: centipedeConfig({
        privateKey: keys[0].privateKey,
        address: `${TUN_CLIENT}/24`,
        binds: clientIps,
        peerKey: keys[1].publicKey,
        endpoints: serverIps.map((ip) => `${ip}:${PORT}`),
        allowed: `${TUN_SERVER}/32`,
      }),
    },
    {
      ns: server,
      side: "b",
      text: centipedeConfig({
        privateKey: keys[1].privateKey,
        address: `${TUN_SERVER}/24`,
        binds: serverIps,
        peerKey: keys[0].publicKey,
        endpoints: [],
        allowed: `${TUN_CLIENT}/32`,
      }),
    },
  ];
  const procs = await Promise.all(ends.map(async (end) => {
    const sideDir = `${dir}/${end.side}`;
    await Deno.mkdir(`${sideDir}/run`, { recursive: true, mode: 0o700 });
    const conf = `${sideDir}/${CENTIPEDE_IFACE}.conf`;
    await Deno.writeTextFile(conf, end.text, { mode: 0o600 });
    await Deno.chmod(conf, 0o600);
    const proc = net.spawn(end.ns, `centipede-${end.side}`, [
      Deno.execPath(),
      "run",
      "-A",
      V8_FLAGS_ARG,
      ...build.denoArgs ?? [],
      `${root}main.ts`,
      "up",
      ...flags,
      conf,
    ], { cwd: root, env: { ...build.env, CENTIPEDE_CONTROL_DIR: `${sideDir}/run` } });
    const ready = await proc.waitForLine(new RegExp(`interface ${CENTIPEDE_IFACE} is up`), 60_000);
    return { proc, ready };
  }));
  await waitForPing(net, client, TUN_SERVER);
  const backends = procs[0].ready.match(/backends: (.*)$/)?.[1];
  return {
    client,
    server,
    target: TUN_SERVER,
    vpn: procs.map((p) => p.proc),
    notes: [...(backends ? [`backends ${backends}`] : []), `deno run ${V8_FLAGS_ARG}`],
  };
}
