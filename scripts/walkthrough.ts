// make walkthrough: all of Phase 3 in the spec's order, each step as its own `make <step>`, timed;
// the summary sets the times against the workshop's budget. PAUSE=1 waits for Enter before each.
import { $ } from "zx";
import { env } from "../lib/env.ts";
import { BUILTIN_NOTE, orasCli } from "../lib/step/oras.ts";
import type { Output } from "../lib/step/output.ts";
import { isMain, mainScript } from "../lib/step/run.ts";

const STEPS = ["registry", "push", "list", "manifest", "pull", "verify", "copy"];

const HELP = [
  "All of Phase 3, step by step: registry, push, list, manifest, pull, verify, copy, then the summary.",
  "",
  "Usage: make walkthrough [REGISTRY=host:port] [PAUSE=1] [JSON=1]   or   node_modules/.bin/deno run -A scripts/walkthrough.ts [--json]",
  "",
  "Each step is `make <step>` and takes the same variables (REGISTRY, AGENTS, TAG, TO_TAG, CARDS_DIR,",
  "OUT_DIR, RUNTIME, SOURCE_DATE_EPOCH); PAUSE=1 shows each step's commands and waits for Enter before running it.",
  "",
  "Options:",
  "  --json   every step's JSON result, as {\"steps\": [{\"step\", \"exitCode\", \"seconds\", \"result\"}]} on stdout;",
  "           people's output on stderr (env JSON=1)",
  "  --help   show this help and do nothing else (env HELP=1)",
  "",
  "Example: make walkthrough PAUSE=1",
].join("\n");

/** Runs every step, the summary last; in JSON, each step's result too. Returns the exit code. */
async function walkthrough(out: Output, json: boolean): Promise<number> {
  env.pause; // a PAUSE that is neither yes nor no is refused before the first step
  const started = String(Date.now());
  // Each step gets the walkthrough's values in its environment, not as make's command line,
  // where a step that does not read one of them would refuse it.
  const { MAKEFLAGS: _flags, MFLAGS: _mflags, ...outside } = process.env;
  const make = (step: string, extra: Record<string, string> = {}) =>
    $({
      stdio: ["inherit", json ? "pipe" : "inherit", "inherit"],
      nothrow: true,
      env: { ...outside, WALKTHROUGH_STARTED: started, ...(json && { JSON: "1" }), ...extra },
    })`make --no-print-directory ${step}`;
  // Said once here rather than by every step.
  if (!orasCli()) out.note(BUILTIN_NOTE);
  const times: Record<string, number> = {};
  const steps = [];
  for (const step of [...STEPS, "summary"]) {
    const stepStarted = performance.now();
    const ran = await make(step, step === "summary" ? { STEP_TIMES: JSON.stringify(times) } : {});
    const seconds = (performance.now() - stepStarted) / 1000;
    if (step !== "summary") times[step] = seconds;
    const exitCode = ran.exitCode ?? 1;
    steps.push({ step, exitCode, seconds, ...(json && { result: ran.stdout.trim() ? JSON.parse(ran.stdout) : null }) });
    if (exitCode !== 0 && step !== "summary") {
      out.error(`the walkthrough stopped at \`make ${step}\` (exit ${exitCode}); the lines above say why`);
      break;
    }
  }
  if (json) out.json({ steps });
  return steps.at(-1)!.exitCode;
}

if (isMain(import.meta)) await mainScript(HELP, walkthrough, { json: true });
