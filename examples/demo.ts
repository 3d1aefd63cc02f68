/**
 * Local demo of centipede's multipath tunnel (`deno task demo`, as root; about 15 s).
 *
 * Builds two network namespaces A and B joined by two veth paths, generates keys with the real
 * `genkey`/`pubkey`, writes both configs and runs `main.ts up` in each namespace. Then it pings
 * B's tunnel address from A at 100 Hz, prints a line per second, cuts path 1, restores it, cuts
 * path 2, restores it, and prints a summary: with centipede every packet travels over every path,
 * so a cut path costs no packet.
 *
 * Everything it makes (namespaces, processes, temp files) is removed at the end, on errors, and
 * on Ctrl-C / SIGTERM. All traffic stays inside the two namespaces.
 * @module
 */

import {
  ensureCommand,
  Lab,
  parsePing,
  type Proc,
  setupTwoPathTunnel,
  type TwoPathTunnel,
} from "../tests/netns/lab.ts";

const PING_HZ = 100;
const PING_SECONDS = 12;
const SCHEDULE: { at: number; path: 0 | 1; up: boolean }[] = [
  { at: 3, path: 0, up: false },
  { at: 5, path: 0, up: true },
  { at: 7, path: 1, up: false },
  { at: 9, path: 1, up: true },
];

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Follows ping's output lines and reports per-interval figures. */
class PingWatcher {
  #next = 0;
  #seen = new Set<number>();
  #maxSeq = 0;
  #dups = 0;

  constructor(readonly ping: Proc) {}

  /** Figures for the lines printed since the last call. */
  tick(): { replies: number; dups: number; rttAvg: number | null; missing: number } {
    const lines = this.ping.stdoutLines;
    let replies = 0;
    let dups = 0;
    let rttSum = 0;
    for (; this.#next < lines.length; this.#next++) {
      const m = lines[this.#next].match(/icmp_seq=(\d+) .*time=([\d.]+) ms( \(DUP!\))?/);
      if (!m) continue;
      if (m[3] !== undefined) {
        dups++;
        continue;
      }
      const seq = Number(m[1]);
      this.#seen.add(seq);
      this.#maxSeq = Math.max(this.#maxSeq, seq);
      replies++;
      rttSum += Number(m[2]);
    }
    this.#dups += dups;
    // Sequence numbers below the highest answered one that have no reply (yet).
    const missing = this.#maxSeq - this.#seen.size;
    return { replies, dups, rttAvg: replies > 0 ? rttSum / replies : null, missing };
  }
}

function pathState(up: [boolean, boolean]): string {
  return up.map((u, i) => `path${i + 1} ${u ? "up  " : "DOWN"}`).join(" ");
}

async function demo(lab: Lab): Promise<boolean> {
  console.log("centipede demo: two namespaces, two paths, one tunnel\n");
  await ensureCommand("ping", "iputils-ping");
  console.log("building namespaces and paths, generating keys, starting both peers ...");
  const tun: TwoPathTunnel = await setupTwoPathTunnel(lab);
  console.log(
    `  ns ${tun.a}: ${tun.iface} ${tun.tunA}/24, p1 ${tun.paths[0].ipA}, p2 ${tun.paths[1].ipA}`,
  );
  console.log(
    `  ns ${tun.b}: ${tun.iface} ${tun.tunB}/24, p1 ${tun.paths[0].ipB}, p2 ${tun.paths[1].ipB}`,
  );
  console.log(
    `  both peers up after ${tun.startupMs} ms (configs in ${tun.confA.replace(/\/[^/]+$/, "")})\n`,
  );

  // `ping -i 0.01` is rounded up to kernel timer ticks (about 16 ms with HZ=250), so measure the
  // real interval on loopback and size the count to take PING_SECONDS.
  const c0 = performance.now();
  await lab.mustExec(tun.a, [
    "ping",
    "-n",
    "-q",
    "-i",
    String(1 / PING_HZ),
    "-c",
    "21",
    "127.0.0.1",
  ]);
  const intervalMs = Math.max(1000 / PING_HZ, (performance.now() - c0) / 20);
  const count = Math.round((PING_SECONDS * 1000) / intervalMs);
  console.log(
    `ping ${tun.tunB} from ${tun.a} with -i ${1 / PING_HZ} for ${PING_SECONDS} s: ${count} pings ` +
      `(${(1000 / intervalMs).toFixed(0)} Hz measured on this machine)`,
  );
  const ping = lab.spawn(tun.a, [
    "ping",
    "-n",
    "-i",
    String(1 / PING_HZ),
    "-c",
    String(count),
    tun.tunB,
  ], { name: "ping" });
  const watcher = new PingWatcher(ping);
  const up: [boolean, boolean] = [true, true];
  const t0 = performance.now();
  const events = [...SCHEDULE];
  for (let second = 1; second <= PING_SECONDS + 1 && !ping.exited; second++) {
    await sleep(Math.max(0, t0 + second * 1000 - performance.now()));
    const f = watcher.tick();
    const rtt = f.rttAvg === null ? "   -   " : `${f.rttAvg.toFixed(2)} ms`;
    console.log(
      `[${String(second).padStart(2)} s] ${pathState(up)} | ${
        String(f.replies).padStart(3)
      } replies` +
        `  rtt avg ${rtt}  lost so far ${f.missing}  dup ${f.dups}`,
    );
    while (events.length > 0 && events[0].at <= second) {
      const e = events.shift()!;
      const p = tun.paths[e.path];
      await lab.setLink(tun.a, p.devA, e.up);
      up[e.path] = e.up;
      console.log(
        `       ${e.up ? "restored" : "cut     "} path ${e.path + 1} ` +
          `(ip link set ${p.devA} ${e.up ? "up" : "down"} in ${tun.a})`,
      );
    }
  }
  // Make sure both paths are up again, whatever happened above.
  for (const p of tun.paths) await lab.linkUp(tun.a, p.devA);
  await ping.wait(15_000);
  const s = parsePing(ping.stdout);
  const lost = s.transmitted - s.received;
  console.log(
    `\nsummary: ${s.transmitted} sent, ${s.received} received, ${lost} lost, ` +
      `${s.duplicates} duplicates` + (s.rtt ? `, rtt avg ${s.rtt.avg} ms` : ""),
  );

  console.log("\nstopping both peers (SIGTERM) ...");
  const [sa, sb] = await Promise.all([tun.peerA.stop(10_000), tun.peerB.stop(10_000)]);
  console.log(`  peer A exited with ${sa.code}, peer B exited with ${sb.code}`);
  const ok = lost === 0 && s.duplicates === 0 && s.transmitted === count && sa.success &&
    sb.success;
  if (!ok) console.log("\nFAILED: the tunnel lost or duplicated packets, or a peer did not exit 0");
  return ok;
}

async function main(): Promise<number> {
  if (Deno.uid() !== 0) {
    console.error(
      "the centipede demo needs root: it creates network namespaces, veth pairs and TUN devices.\n" +
        "run it as root, e.g. `sudo deno task demo`",
    );
    return 1;
  }
  const lab = await Lab.create({ cleanupOnSignal: false });
  let interrupted = false;
  const onSignal = (sig: Deno.Signal) => () => {
    if (interrupted) Deno.exit(sig === "SIGINT" ? 130 : 143); // second signal: give up at once
    interrupted = true;
    console.error(`\n${sig}: cleaning up ...`);
    lab.cleanup()
      .then(() => console.error("cleaned up"), (e) => console.error(`cleanup: ${e}`))
      .finally(() => Deno.exit(sig === "SIGINT" ? 130 : 143));
  };
  const handlers = (["SIGINT", "SIGTERM"] as const).map((sig) => [sig, onSignal(sig)] as const);
  for (const [sig, h] of handlers) Deno.addSignalListener(sig, h);
  let code = 1;
  try {
    code = (await demo(lab)) ? 0 : 1;
  } catch (e) {
    if (!interrupted) console.error(`\ndemo failed: ${e instanceof Error ? e.message : e}`);
  }
  if (interrupted) await new Promise<never>(() => {}); // the signal handler cleans up and exits
  try {
    await lab.cleanup();
    console.log(`cleaned up (namespaces ${lab.id}a and ${lab.id}b deleted)`);
  } catch (e) {
    console.error(`cleanup failed: ${e instanceof Error ? e.message : e}`);
    code = 1;
  }
  for (const [sig, h] of handlers) Deno.removeSignalListener(sig, h);
  return code;
}

if (import.meta.main) Deno.exit(await main());
