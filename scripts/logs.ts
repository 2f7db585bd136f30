// Phase 5: what an agent `make run` started has printed: this start's output, and the start
// before it (a failed upgrade's, say).
import { readFile } from "node:fs/promises";
import { UsageError } from "../lib/errors.ts";
import { AGENT_FLAG, agentOf, agentRuns } from "../lib/step/agents.ts";
import { isMain, main, type Step } from "../lib/step/run.ts";

export const step: Step = {
  name: "logs",
  section: "Phase 5: Agent Logs",
  runs: "no oras command: prints AGENTS_DIR/<agent>/agent.log",
  options: [],
  flags: AGENT_FLAG,
  example: "make logs AGENT=plan",
  async body({ options, flags, out }) {
    const agent = agentOf(flags, "make logs AGENT=plan");
    const file = agentRuns().logFile(agent);
    const log = await readFile(file, "utf8").catch(() => undefined);
    if (log === undefined) throw new UsageError(`no log for ${agent}: make run has not started it here (${file})`, `Start it: make run AGENT=${agent}`);
    out.text(log);
    if (options.json) out.json({ agent, file, log });
  },
};

if (isMain(import.meta)) await main(step);
