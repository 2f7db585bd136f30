// Phase 5: go back to the version an agent ran before its last upgrade (or rollback), from the
// package still unpacked here: no registry is needed. It is checked and started as any other,
// and if it never becomes healthy the version it replaced is started again.
import { UsageError } from "../lib/errors.ts";
import { AGENT_FLAG, agentOf, agentRuns, ready, replaceAgent, shortDigest, STARTS_AGENTS } from "../lib/step/agents.ts";
import { isMain, main, type Step } from "../lib/step/run.ts";

export const step: Step = {
  name: "rollback",
  section: "Phase 5: Roll an Agent Back",
  runs: "no oras command: stops the agent and starts the version it ran before, from AGENTS_DIR/<agent>/<digest>",
  options: STARTS_AGENTS.options,
  defaults: STARTS_AGENTS.defaults,
  flags: AGENT_FLAG,
  example: "make rollback AGENT=plan",
  async body(context) {
    const { options, flags, out } = context;
    const agent = agentOf(flags, "make rollback AGENT=plan");
    const runs = agentRuns();
    const state = await runs.withLock(agent, async () => {
      const current = await runs.state(agent);
      if (!current?.previous) throw new UsageError(`${agent} has no earlier version to roll back to`, "make rollback goes back after a make upgrade.");
      const back = await replaceAgent(context, runs, current, await ready(context, runs, agent, current.previous));
      out.ok(`${agent} rolled back from ${current.tag} to ${back.tag}: healthy at ${back.url} (pid ${back.pid}, ${shortDigest(back.digest)})`);
      return back;
    });
    if (options.json) out.json({ agent: state });
  },
};

if (isMain(import.meta)) await main(step);
