/**
 * The `centipede` command line: argument parsing and dispatch only.
 * Exit codes: 0 success, 1 error, 2 usage error.
 * @module
 */
import { parseArgs } from "node:util";
import { down, reload, resetTimestamp, syncconf } from "./lib/cli/down.ts";
import { genkey, pubkey, stdoutExposureWarning } from "./lib/cli/keys.ts";
import { show } from "./lib/cli/show.ts";
import { up } from "./lib/cli/up.ts";
import { COMMAND_USAGE, MAIN_USAGE, VERSION } from "./lib/cli/usage.ts";

class UsageError extends Error {}

async function main(args: string[]): Promise<number> {
  const [command, ...rest] = args;
  if (command === undefined) throw new UsageError("missing command");
  if (command === "-h" || command === "--help" || command === "help") {
    console.log(MAIN_USAGE);
    return 0;
  }
  if (command === "-V" || command === "--version") {
    console.log(`centipede ${VERSION}`);
    return 0;
  }
  if (!(command in COMMAND_USAGE)) throw new UsageError(`unknown command "${command}"`);
  if (command === "lab") return await runLab(rest);
  const { values, positionals } = parseCommand(rest);
  if (values.help) {
    console.log(COMMAND_USAGE[command]);
    return 0;
  }
  if ((values.json || values.watch) && command !== "show") {
    throw new UsageError(`--json and --watch are options of show, not of ${command}`);
  }
  const upOnly = values.debug || values.udp !== undefined || values.offload !== undefined ||
    values.workers !== undefined;
  if (upOnly && command !== "up") {
    throw new UsageError(
      `--debug, --udp, --offload and --workers are options of up, not of ${command}`,
    );
  }
  const udp = values.udp ?? "ffi";
  if (udp !== "ffi" && udp !== "deno") throw new UsageError(`--udp takes ffi or deno`);
  const offload = values.offload ?? "on";
  if (offload !== "on" && offload !== "off") throw new UsageError(`--offload takes on or off`);
  const workersText = values.workers ??
    (command === "up" ? Deno.env.get("CENTIPEDE_WORKERS") : undefined) ?? "0";
  const workers = Number(workersText);
  if (!/^\d+$/.test(workersText) || workers > MAX_WORKERS) {
    throw new UsageError(`--workers takes a number from 0 to ${MAX_WORKERS}`);
  }
  return await run(command, positionals, {
    debug: values.debug === true,
    json: values.json === true,
    watch: values.watch === true,
    udp,
    offload: offload === "on",
    workers,
  });
}

function parseCommand(rest: string[]) {
  try {
    return parseArgs({
      args: rest,
      allowPositionals: true,
      options: {
        help: { type: "boolean", short: "h" },
        debug: { type: "boolean" },
        json: { type: "boolean" },
        watch: { type: "boolean" },
        udp: { type: "string" },
        offload: { type: "string" },
        workers: { type: "string" },
      },
    });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

/** `centipede lab`: its own options (`--json FILE` takes a value there). */
async function runLab(rest: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: rest,
      allowPositionals: true,
      options: {
        help: { type: "boolean", short: "h" },
        out: { type: "string" },
        json: { type: "string" },
        svg: { type: "string" },
      },
    });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  if (parsed.values.help) {
    console.log(COMMAND_USAGE.lab);
    return 0;
  }
  const [fewest, most, what] = ARITY.lab;
  if (parsed.positionals.length < fewest || parsed.positionals.length > most) {
    throw new UsageError(`lab takes ${what}`);
  }
  // Loaded on demand: `up` and the other commands never load the lab (nor its YAML parser).
  const { lab } = await import("./lib/cli/lab.ts");
  const { out, json, svg } = parsed.values;
  return await lab(parsed.positionals[0], { out, json, svg });
}

/** Most data plane workers `up --workers` takes. */
const MAX_WORKERS = 64;

/** Positional arguments of each command: [fewest, most]. */
const ARITY: Record<string, [number, number, string]> = {
  genkey: [0, 0, "no arguments"],
  pubkey: [0, 0, "no arguments"],
  up: [1, 1, "one file"],
  down: [1, 1, "one interface name or file"],
  reload: [1, 1, "one interface name or file"],
  syncconf: [2, 2, "an interface name and a file"],
  "reset-timestamp": [2, 2, "an interface name and a peer's public key"],
  show: [0, 1, "at most one interface name"],
  lab: [1, 1, "one scenario file"],
};

interface RunOptions {
  readonly debug: boolean;
  readonly json: boolean;
  readonly watch: boolean;
  readonly udp: "ffi" | "deno";
  readonly offload: boolean;
  readonly workers: number;
}

async function run(command: string, positionals: string[], options: RunOptions): Promise<number> {
  const [fewest, most, what] = ARITY[command];
  if (positionals.length < fewest || positionals.length > most) {
    throw new UsageError(`${command} takes ${what}`);
  }
  switch (command) {
    case "genkey": {
      const warning = stdoutExposureWarning();
      if (warning) console.error(warning);
      console.log(genkey());
      return 0;
    }
    case "pubkey":
      console.log(pubkey(await new Response(Deno.stdin.readable).text()));
      return 0;
    case "show":
      return await show({ iface: positionals[0], json: options.json, watch: options.watch });
    case "down":
      return await down(positionals[0]);
    case "reload":
      return await reload(positionals[0]);
    case "syncconf":
      return await syncconf(positionals[0], positionals[1]);
    case "reset-timestamp":
      return await resetTimestamp(positionals[0], positionals[1]);
    default:
      return await up(positionals[0], {
        debug: options.debug || Deno.env.get("CENTIPEDE_LOG") === "debug",
        udp: options.udp,
        offload: options.offload,
        workers: options.workers,
      });
  }
}

if (import.meta.main) {
  try {
    Deno.exit(await main(Deno.args));
  } catch (error) {
    if (error instanceof UsageError) {
      console.error(`centipede: ${error.message}\n\n${MAIN_USAGE}`);
      Deno.exit(2);
    }
    console.error(`centipede: ${(error as Error).message}`);
    Deno.exit(1);
  }
}
