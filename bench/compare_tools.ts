/**
 * What `bench/compare.ts` needs from the machine: the Debian packages it installs when missing,
 * the versions and facts it reports, and its log lines.
 * @module
 */
import { run, which } from "./_netns.ts";

/** Facts about the machine and the run, printed above the table. */
export interface MachineInfo {
  readonly date: string;
  readonly command: string;
  readonly nproc: number;
  readonly cpu: string;
  readonly kernel: string;
  readonly deno: string;
  readonly wireguardGo: string;
  readonly iperf3: string;
  readonly commit: string;
}

/** Repository root, with a trailing slash. */
export const REPO_ROOT = decodeURIComponent(new URL("../", import.meta.url).pathname);
export const MAIN_TS = `${REPO_ROOT}main.ts`;

const PACKAGES: readonly [string, string][] = [
  ["iperf3", "iperf3"],
  ["ping", "iputils-ping"],
  ["wg", "wireguard-tools"],
  ["wireguard-go", "wireguard-go"],
  ["tcpdump", "tcpdump"],
];

/** Installs the Debian packages of missing tools (apt-get update && apt-get install -y ...). */
export async function ensureTools(): Promise<void> {
  const missing = PACKAGES.filter(([cmd]) => which(cmd) === null).map(([, pkg]) => pkg);
  if (missing.length === 0) return;
  log(`installing ${missing.join(" ")} with apt-get`);
  const env = { DEBIAN_FRONTEND: "noninteractive" };
  const lock = ["-o", "DPkg::Lock::Timeout=300"];
  const update = await run(["apt-get", ...lock, "update"], { env, timeoutMs: 600_000 });
  const install = update.success
    ? await run(["apt-get", ...lock, "install", "-y", "--no-install-recommends", ...missing], {
      env,
      timeoutMs: 600_000,
    })
    : update;
  if (!install.success) log(`apt-get failed:\n${(install.stderr || install.stdout).slice(-1500)}`);
  for (const cmd of ["iperf3", "ping"]) {
    if (which(cmd) === null) throw new Error(`${cmd} is missing and could not be installed`);
  }
}

async function firstLine(argv: string[]): Promise<string> {
  const r = await run(argv, { timeoutMs: 30_000, cwd: REPO_ROOT }).catch(() => null);
  return (r?.stdout || r?.stderr || "").trim().split("\n")[0] || "unknown";
}

export async function machineInfo(args: readonly string[], wgGo: string): Promise<MachineInfo> {
  const cpuinfo = await Deno.readTextFile("/proc/cpuinfo").catch(() => "");
  const dirty = (await run(["git", "status", "--porcelain"], { cwd: REPO_ROOT })).stdout.trim();
  return {
    date: new Date().toISOString().replace(/\.\d+Z$/, "Z"),
    command: ["deno", "run", "-A", "bench/compare.ts", ...args].join(" "),
    nproc: navigator.hardwareConcurrency,
    cpu: cpuinfo.match(/^model name\s*:\s*(.*)$/m)?.[1] ?? "unknown CPU",
    kernel: Deno.osRelease(),
    deno: Deno.version.deno,
    wireguardGo: programExists(wgGo) ? await firstLine([wgGo, "--version"]) : `${wgGo} missing`,
    iperf3: (await firstLine(["iperf3", "--version"])).replace(/ \(.*\)$/, ""),
    commit: `${await firstLine(["git", "rev-parse", "--short", "HEAD"])}${
      dirty ? " (with uncommitted changes)" : ""
    }`,
  };
}

/** True when `program` is a command on PATH or an executable file path. */
export function programExists(program: string): boolean {
  if (!program.includes("/")) return which(program) !== null;
  try {
    return ((Deno.statSync(program).mode ?? 0) & 0o111) !== 0;
  } catch {
    return false;
  }
}

export function log(message: string): void {
  console.error(`[compare] ${message}`);
}

export function loud(message: string): void {
  const bar = "!".repeat(78);
  console.error(`\n${bar}\n!! ${message.split("\n").join("\n!! ")}\n${bar}\n`);
}
