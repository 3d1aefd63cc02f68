/**
 * The `centipede` command line: argument parsing and dispatch only.
 * Exit codes: 0 success, 1 error, 2 usage error.
 * @module
 */
import { parseArgs } from "node:util";
import { genkey, pubkey, stdoutExposureWarning } from "./lib/cli/keys.ts";
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
  const { values, positionals } = parseCommand(rest);
  if (values.help) {
    console.log(COMMAND_USAGE[command]);
    return 0;
  }
  return await run(command, positionals, values.debug === true);
}

function parseCommand(rest: string[]) {
  try {
    return parseArgs({
      args: rest,
      allowPositionals: true,
      options: { help: { type: "boolean", short: "h" }, debug: { type: "boolean" } },
    });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

async function run(command: string, positionals: string[], debug: boolean): Promise<number> {
  const expect = command === "up" ? 1 : 0;
  if (positionals.length !== expect) {
    throw new UsageError(`${command} takes ${expect === 1 ? "one file" : "no arguments"}`);
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
    default:
      return await up(positionals[0], {
        debug: debug || Deno.env.get("CENTIPEDE_LOG") === "debug",
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
