/**
 * Interface setup with iproute2's `ip` command, and wg-quick style hooks.
 *
 * Every command runs without a shell (arguments are passed as an array), so names and addresses
 * cannot inject commands; hooks are the exception and run through `bash -c` on purpose.
 * @module
 */

import type { InterfaceOptions, InterfaceSetup } from "../engine/ports.ts";

/**
 * Packets the kernel queues for us on the TUN device (its default is 500). A TUN device drops,
 * rather than pushes back, when the queue is full: at 500 a saturating TCP flow through the tunnel
 * overflowed it and a ping beside it lost 2-5%; at 1000 nothing was dropped, at the same
 * throughput and RTT (measured in network namespaces on the 2-core test machine).
 */
const TUN_TX_QUEUE_PACKETS = 1000;

/** The outcome of one finished command. */
interface CommandResult {
  readonly code: number;
  readonly stderr: string;
}

const decoder = new TextDecoder();

/** Runs `ip` with `args` and collects its exit code and stderr (stdout is discarded). */
async function runIp(args: readonly string[]): Promise<CommandResult> {
  const output = await new Deno.Command("ip", {
    args: [...args],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).output();
  return { code: output.code, stderr: decoder.decode(output.stderr).trim() };
}

/** Runs `ip` with `args` and returns its stdout; throws when it fails. */
async function queryIp(args: readonly string[]): Promise<string> {
  const output = await new Deno.Command("ip", { args: [...args], stdin: "null" }).output();
  if (!output.success) throw commandError(args, output.code, decoder.decode(output.stderr));
  return decoder.decode(output.stdout);
}

/** An Error naming the failed command and quoting what `ip` printed on stderr. */
function commandError(args: readonly string[], code: number, stderr: string): Error {
  const detail = stderr.trim() === "" ? `exit code ${code}` : stderr.trim();
  return new Error(`\`ip ${args.join(" ")}\` failed: ${detail}`);
}

/** Runs `ip` with `args`; throws an Error naming the command and quoting its stderr. */
async function ip(args: readonly string[]): Promise<void> {
  const result = await runIp(args);
  if (result.code !== 0) throw commandError(args, result.code, result.stderr);
}

/** `-6` for an IPv6 address or prefix, else `-4`. */
function familyFlag(addressOrPrefix: string): "-4" | "-6" {
  return addressOrPrefix.includes(":") ? "-6" : "-4";
}

/**
 * Adds a route to `prefix` through `name`. An identical route on the same device (e.g. the
 * kernel's route for the interface's own subnet) counts as success; one on another device fails.
 */
async function addRoute(name: string, prefix: string): Promise<void> {
  const args = [familyFlag(prefix), "route", "add", prefix, "dev", name];
  const result = await runIp(args);
  if (result.code === 0) return;
  if (result.stderr.includes("File exists")) {
    const existing = await queryIp([familyFlag(prefix), "route", "show", "exact", prefix]);
    const devices = [...existing.matchAll(/\bdev (\S+)/g)].map((match) => match[1]);
    if (devices.includes(name)) return;
  }
  throw commandError(args, result.code, result.stderr);
}

/** Assigns each address, sets the MTU, brings the link up, then adds each route. */
async function configure(name: string, options: InterfaceOptions): Promise<void> {
  for (const address of options.addresses) {
    await ip([familyFlag(address), "address", "add", address, "dev", name]);
  }
  const qlen = String(TUN_TX_QUEUE_PACKETS);
  await ip(["link", "set", "dev", name, "mtu", String(options.mtu), "txqueuelen", qlen, "up"]);
  for (const prefix of options.routes) await addRoute(name, prefix);
}

/** True when `ip link show dev NAME` finds the interface; throws when `ip` cannot run. */
async function exists(name: string): Promise<boolean> {
  const result = await runIp(["link", "show", "dev", name]);
  if (result.code === 0) return true;
  if (result.stderr.includes("does not exist")) return false;
  throw commandError(["link", "show", "dev", name], result.code, result.stderr);
}

/** The {@link InterfaceSetup} that uses the `ip` command (needs `--allow-run=ip`). */
export const ipLink: InterfaceSetup = { configure, exists };

/**
 * Runs a PreUp/PostUp/PreDown/PostDown hook as wg-quick does: replaces every `%i` with `iface`,
 * prints `[#] <command>` to stderr, runs it with `bash -c`, and throws on a non-zero exit code.
 */
export async function runHook(command: string, iface: string): Promise<void> {
  const expanded = command.replaceAll("%i", iface);
  console.error(`[#] ${expanded}`);
  const status = await new Deno.Command("bash", {
    args: ["-c", expanded],
    stdin: "null",
    stdout: "inherit",
    stderr: "inherit",
  }).spawn().status;
  if (!status.success) throw new HookError(expanded, status.code, status.signal);
}

/** A hook that exited with a non-zero code or was killed by a signal. */
export class HookError extends Error {
  /** The hook after `%i` substitution. */
  readonly command: string;
  /** The exit code (128 + signal number when killed by a signal). */
  readonly code: number;

  /** Builds the error for `command` ending with `code` (and `signal`, if one killed it). */
  constructor(command: string, code: number, signal: Deno.Signal | null = null) {
    const how = signal === null ? `exit code ${code}` : `signal ${signal}`;
    super(`Hook \`${command}\` failed with ${how}`);
    this.name = "HookError";
    this.command = command;
    this.code = code;
  }
}
