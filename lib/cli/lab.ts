/**
 * `centipede lab SCENARIO.yaml [--out DIR] [--json FILE] [--svg FILE]`: runs a lab scenario
 * (lib/lab/scenario.ts, docs/LAB.md) in fresh network namespaces, prints a table line per
 * second and a summary, writes the result JSON and an SVG chart, and removes everything it made,
 * also on Ctrl-C (a second Ctrl-C skips writing the results).
 * @module
 */
import { Lab } from "../lab/lab.ts";
import { eventLine, resultJson, summaryLines, tableHeader, tableRow } from "../lab/report.ts";
import { type LabResult, type RunReporter, runScenario } from "../lab/runner.ts";
import { parseScenario, type Scenario, ScenarioError } from "../lab/scenario.ts";
import { renderChart, resultChart } from "../lab/svg_chart.ts";
import { transferArgv } from "../lab/tcp_transfer.ts";
import { requireRoot } from "../lab/tools.ts";
import { MAIN_TS } from "../lab/vpn.ts";

/** The path of the TCP transfer script, as the lab runs it. */
function transferScript(): string {
  const argv = transferArgv("sink", {});
  return argv[argv.indexOf("-A") + 1];
}

/** Where the results go. */
export interface LabCommandOptions {
  /** Directory for NAME.json and NAME.svg; default: a new directory under the temp dir. */
  readonly out?: string;
  /** The result JSON file (overrides --out for it). */
  readonly json?: string;
  /** The SVG chart file (overrides --out for it). */
  readonly svg?: string;
}

/** The live output: everything on stdout, warnings on stderr. */
function consoleReporter(): RunReporter {
  let scenario: Scenario | null = null;
  return {
    note: (text) => console.log(text),
    start: (s) => {
      scenario = s;
      console.log("");
      for (const line of tableHeader(s)) console.log(line);
    },
    row: (sample) => console.log(tableRow(scenario!, sample)),
    event: (e) => console.log(eventLine(e)),
    warning: (text) => console.error(`warning: ${text}`),
  };
}

async function readScenario(file: string): Promise<Scenario> {
  let text: string;
  try {
    text = await Deno.readTextFile(file);
  } catch (e) {
    throw new ScenarioError(file, 0, "", `cannot read the file: ${(e as Error).message}`);
  }
  return parseScenario(text, file);
}

/** The two output files. */
async function outputFiles(s: Scenario, o: LabCommandOptions): Promise<[string, string]> {
  const name = s.name.replace(/[^A-Za-z0-9_.-]/g, "_") || "lab";
  let dir = o.out;
  if (dir === undefined && (o.json === undefined || o.svg === undefined)) {
    dir = await Deno.makeTempDir({ prefix: `centipede-lab-${name}-` });
  }
  if (dir !== undefined) await Deno.mkdir(dir, { recursive: true });
  return [o.json ?? `${dir}/${name}.json`, o.svg ?? `${dir}/${name}.svg`];
}

/** Writes the JSON and the SVG; returns the lines saying where. */
async function writeResults(r: LabResult, files: [string, string]): Promise<string[]> {
  await Deno.writeTextFile(files[0], resultJson(r));
  await Deno.writeTextFile(files[1], renderChart(resultChart(r)));
  return [`wrote ${files[0]}`, `wrote ${files[1]}`];
}

/**
 * The lab starts `main.ts up` and `lib/lab/tcp_transfer.ts` inside the namespaces: it runs from
 * a checkout (or with `CENTIPEDE_MAIN` pointing at one's main.ts), not from a bundle.
 */
async function requireCheckout(): Promise<void> {
  for (const file of [MAIN_TS, transferScript()]) {
    try {
      await Deno.stat(file);
    } catch {
      throw new Error(
        `centipede lab runs from a checkout of centipede: ${file} is missing ` +
          "(run it as `deno task centipede lab ...` in the repository)",
      );
    }
  }
}

/** Runs the command; resolves with the exit code. */
export async function lab(file: string, options: LabCommandOptions = {}): Promise<number> {
  let scenario: Scenario;
  try {
    scenario = await readScenario(file);
  } catch (e) {
    if (e instanceof ScenarioError) {
      console.error(`centipede: ${e.message}`);
      return 1;
    }
    throw e;
  }
  requireRoot("centipede lab", "sudo deno task centipede lab FILE.yaml");
  await requireCheckout();
  const files = await outputFiles(scenario, options);
  console.log(`centipede lab: ${scenario.name} (${scenario.duration} s)`);
  if (scenario.description !== "") console.log(scenario.description.trim());
  const theLab = await Lab.create({ cleanupOnSignal: false });
  const abort = new AbortController();
  let signals = 0;
  const onSignal = (sig: Deno.Signal) => () => {
    signals++;
    if (signals === 1) {
      console.error(`\n${sig}: stopping; cleaning up (again to skip writing the results) ...`);
      abort.abort();
      return;
    }
    theLab.cleanup().catch((e) => console.error(`cleanup: ${e}`)).finally(() =>
      Deno.exit(sig === "SIGINT" ? 130 : 143)
    );
  };
  const handlers = (["SIGINT", "SIGTERM"] as const).map((sig) => [sig, onSignal(sig)] as const);
  for (const [sig, h] of handlers) Deno.addSignalListener(sig, h);
  let code = 0;
  try {
    const result = await runScenario(theLab, scenario, {
      reporter: consoleReporter(),
      signal: abort.signal,
    });
    console.log("");
    for (const line of summaryLines(result)) console.log(line);
    for (const line of await writeResults(result, files)) console.log(line);
    if (result.events.some((e) => e.error !== null)) code = 1;
  } catch (e) {
    console.error(`centipede lab: ${(e as Error).message}`);
    code = 1;
  } finally {
    try {
      await theLab.cleanup();
      console.log(`cleaned up: namespaces ${theLab.id}* deleted, processes ended`);
    } catch (e) {
      console.error(`centipede lab: cleanup failed: ${(e as Error).message}`);
      code = 1;
    }
    for (const [sig, h] of handlers) Deno.removeSignalListener(sig, h);
  }
  if (abort.signal.aborted) return 130;
  return code;
}
