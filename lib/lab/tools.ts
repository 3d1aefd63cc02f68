/**
 * What the lab needs from the machine: root, and the programs it drives (`ip`, `tc`,
 * `iptables`, `conntrack`, `ping`), installed with apt-get when missing.
 * @module
 */
import { mustRun } from "./process.ts";

/**
 * The user id of this process: `Deno.uid()`, or, without `--allow-sys` (which
 * `deno task centipede` does not grant), the owner of a temporary directory it creates.
 */
export function currentUid(): number | null {
  try {
    return Deno.uid();
  } catch {
    const dir = Deno.makeTempDirSync({ prefix: "centipede-uid-" });
    try {
      return Deno.statSync(dir).uid;
    } finally {
      Deno.removeSync(dir);
    }
  }
}

/**
 * Throws a loud error unless running as root. Tests call this first so that a run without root
 * fails instead of silently passing or skipping.
 */
export function requireRoot(
  what = "tests/netns",
  example = "sudo deno test -A tests/netns/",
): void {
  const uid = currentUid();
  if (uid !== 0) {
    throw new Error(
      `${what} needs root (uid 0) to create network namespaces, veth pairs and TUN devices; ` +
        `it is running as uid ${uid}. Run it as root, e.g. \`${example}\`.`,
    );
  }
}

const SEARCH_PATH = ["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"];

/** Absolute path of an executable found on PATH (or the usual sbin/bin folders), or null. */
export function which(command: string): string | null {
  const path = (Deno.env.get("PATH") ?? "").split(":").filter((d) => d !== "");
  for (const dir of [...path, ...SEARCH_PATH]) {
    const file = `${dir}/${command}`;
    try {
      const st = Deno.statSync(file);
      if (st.isFile && st.mode !== null && (st.mode & 0o111) !== 0) return file;
    } catch {
      // not here
    }
  }
  return null;
}

let aptQueue: Promise<unknown> = Promise.resolve();

/**
 * Makes sure `command` exists, installing Debian package `pkg` with apt-get when it does not
 * (a fresh CI machine runs as root). Installs are serialized within this process and wait for
 * the dpkg lock of other processes.
 */
export function ensureCommand(command: string, pkg: string): Promise<string> {
  const found = which(command);
  if (found !== null) return Promise.resolve(found);
  const job = aptQueue.then(async () => {
    const again = which(command);
    if (again !== null) return again;
    requireRoot(`installing ${pkg} (for ${command})`);
    console.error(`[lab] ${command} is missing; installing Debian package ${pkg} with apt-get`);
    const env = { DEBIAN_FRONTEND: "noninteractive" };
    const lock = ["-o", "DPkg::Lock::Timeout=300"];
    await mustRun(["apt-get", ...lock, "update"], { env, timeoutMs: 600_000 });
    await mustRun(["apt-get", ...lock, "install", "-y", "--no-install-recommends", pkg], {
      env,
      timeoutMs: 600_000,
    });
    const installed = which(command);
    if (installed === null) throw new Error(`installed ${pkg} but ${command} is still missing`);
    return installed;
  });
  aptQueue = job.catch(() => undefined);
  return job;
}
