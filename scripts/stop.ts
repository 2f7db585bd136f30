// Phase 5: stop an agent `make run` started. One it did not start (an agent that answers at its
// card's URL, from the workshop's Phase 2 say) is not ours to stop: that is refused.
import { terminate, liveCard } from "../lib/agents/process.ts";
import { EnvironmentError } from "../lib/errors.ts";
import { AGENT_FLAG, agentOf, agentRuns, cardUrl, publishedCard } from "../lib/step/agents.ts";
import { isMain, main, type Step } from "../lib/step/run.ts";

export const step: Step = {
  name: "stop",
  section: "Phase 5: Stop an Agent",
  runs: "no oras command: SIGTERM to the agent's process group (SIGKILL after 5 s)",
  options: ["registry", "tag"],
  flags: AGENT_FLAG,
  example: "make stop AGENT=plan",
  async body({ options, flags, out, client }) {
    const agent = agentOf(flags, "make stop AGENT=plan");
    const runs = agentRuns();
    const stopped = await runs.withLock(agent, async () => {
      const state = await runs.state(agent);
      if (state && runs.isRunning(state)) {
        await terminate(state.pid, state.port);
        await runs.forget(agent);
        out.ok(`stopped ${agent} ${state.tag} (pid ${state.pid}, ${state.url})`);
        return state;
      }
      if (state) {
        await runs.forget(agent);
        out.ok(`${agent} ${state.tag} had stopped already (pid ${state.pid} is gone)`);
      }
      const published = await publishedCard(client, agent, options.tag);
      const url = published && cardUrl(published);
      if (url && await liveCard(url)) {
        throw new EnvironmentError(
          `an agent answers at ${url}, but make run did not start it; refusing to stop it`,
          "Stop it where it was started. `make agents` shows what make run started.",
        );
      }
      if (!state) out.ok(`${agent} is not running; nothing to stop`);
    });
    if (options.json) out.json({ stopped: stopped ?? null });
  },
};

if (isMain(import.meta)) await main(step);
