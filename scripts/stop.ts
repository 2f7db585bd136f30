// Phase 5: stop an agent `make run` started. One it did not start (an agent that answers at its
// card's URL, from the workshop's Phase 2 say) is not ours to stop: that is refused.
// --all (for `make clean`) stops every agent make run started, before their run directories go.
import { terminate, liveCard } from "../lib/agents/process.ts";
import type { AgentRuns, AgentState } from "../lib/agents/runs.ts";
import { EnvironmentError } from "../lib/errors.ts";
import type { Output } from "../lib/step/output.ts";
import { AGENT_FLAG, agentOf, agentRuns, cardUrl, publishedCard } from "../lib/step/agents.ts";
import { isMain, main, type Step } from "../lib/step/run.ts";

/** Stops `agent` if make run started it and it still runs, and forgets it: what make run had started, running or not. */
function stopStarted(runs: AgentRuns, agent: string, out: Output): Promise<{ state?: AgentState; stopped: boolean }> {
  return runs.withLock(agent, async () => {
    const state = await runs.state(agent);
    if (!state) return { stopped: false };
    await runs.forget(agent);
    if (!runs.isRunning(state)) {
      out.ok(`${agent} ${state.tag} had stopped already (pid ${state.pid} is gone)`);
      return { state, stopped: false };
    }
    await terminate(state.pid, state.port);
    out.ok(`stopped ${agent} ${state.tag} (pid ${state.pid}, ${state.url})`);
    return { state, stopped: true };
  });
}

export const step: Step = {
  name: "stop",
  section: "Phase 5: Stop an Agent",
  runs: "no oras command: SIGTERM to the agent's process group (SIGKILL after 5 s)",
  options: ["registry", "tag"],
  flags: { ...AGENT_FLAG, all: { type: "boolean", help: "stop every agent make run started (make clean does)" } },
  example: "make stop AGENT=plan",
  async body({ options, flags, out, client }) {
    const runs = agentRuns();
    if (flags.all) {
      const stopped = [];
      for (const agent of await runs.known()) {
        const { state, stopped: running } = await stopStarted(runs, agent, out);
        if (running) stopped.push(state);
      }
      if (options.json) out.json({ stopped });
      return;
    }
    const agent = agentOf(flags, "make stop AGENT=plan");
    const { state, stopped } = await stopStarted(runs, agent, out);
    if (!stopped) {
      const published = await publishedCard(client, agent, options.tag);
      const url = published && cardUrl(published);
      if (url && await liveCard(url)) {
        throw new EnvironmentError(
          `an agent answers at ${url}, but make run did not start it; refusing to stop it`,
          "Stop it where it was started. `make agents` shows what make run started.",
        );
      }
      if (!state) out.ok(`${agent} is not running; nothing to stop`);
    }
    if (options.json) out.json({ stopped: stopped ? state : null });
  },
};

if (isMain(import.meta)) await main(step);
