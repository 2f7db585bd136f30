// make walkthrough: all of Phase 3 in the spec's order, each step as its own `make <step>`, timed;
// the summary sets the times against the workshop's budget. PAUSE=1 waits for Enter before each.
import { $ } from "zx";
import { env } from "../lib/env.ts";
import { BUILTIN_NOTE, orasCli } from "../lib/step/oras.ts";
import { createOutput } from "../lib/step/output.ts";
import { reportFailure } from "../lib/step/run.ts";

const STEPS = ["registry", "push", "list", "manifest", "pull", "verify", "copy"];

if (process.argv.includes("--help") || process.argv.includes("-h")) {
  console.log([
    "All of Phase 3, step by step: registry, push, list, manifest, pull, verify, copy, then the summary.",
    "",
    "Usage: make walkthrough [REGISTRY=host:port] [PAUSE=1]",
    "",
    "Each step is `make <step>` and takes the same variables (REGISTRY, AGENTS, TAG, TO_TAG, CARDS_DIR,",
    "OUT_DIR, RUNTIME); PAUSE=1 shows each step's commands and waits for Enter before running it.",
    "",
    "Example: make walkthrough PAUSE=1",
  ].join("\n"));
} else {
  const out = createOutput({ stdout: process.stdout, stderr: process.stderr, color: !env.noColor });
  try {
    const started = String(Date.now());
    const make = (step: string, env: Record<string, string> = {}) =>
      $({ stdio: "inherit", nothrow: true, env: { ...process.env, WALKTHROUGH_STARTED: started, ...env } })`make --no-print-directory ${step}`;
    // Said once here rather than by every step.
    if (!orasCli()) out.note(BUILTIN_NOTE);
    const times: Record<string, number> = {};
    for (const step of STEPS) {
      const stepStarted = performance.now();
      const { exitCode } = await make(step);
      times[step] = (performance.now() - stepStarted) / 1000;
      if (exitCode !== 0) {
        out.error(`the walkthrough stopped at \`make ${step}\` (exit ${exitCode}); the lines above say why`);
        process.exitCode = exitCode ?? 1;
        break;
      }
    }
    if (!process.exitCode) process.exitCode = (await make("summary", { STEP_TIMES: JSON.stringify(times) })).exitCode ?? 1;
  } catch (error) {
    process.exitCode = await reportFailure(error, out);
  }
}
