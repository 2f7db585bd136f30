// Phase 5: replace a running agent by another version of its package: pull and check the new one
// first, then stop the old, start the new on the same port, and wait until it is healthy. If it
// never is (within HEALTH_TIMEOUT), the old version is started again, and the step says so.
import { UsageError } from "../lib/errors.ts";
import { TAG_PATTERN } from "../lib/oci/reference.ts";
import { AGENT_FLAG, agentOf, agentRuns, fetchPackage, ready, replaceAgent, shortDigest, STARTS_AGENTS } from "../lib/step/agents.ts";
import { isMain, main, type Step } from "../lib/step/run.ts";

export const step: Step = {
  name: "upgrade",
  section: "Phase 5: Upgrade an Agent",
  runs: "oras resolve REGISTRY/agents/<agent>/package:TO; oras pull …@<digest>; then stop, start, check health, or roll back",
  options: ["registry", ...STARTS_AGENTS.options],
  defaults: STARTS_AGENTS.defaults,
  flags: { ...AGENT_FLAG, to: { type: "string", env: "TO", help: "the tag to upgrade to (required)" } },
  example: "make upgrade AGENT=plan TO=v2   (HEALTH_TIMEOUT=seconds: how long v2 has to become healthy)",
  async body(context) {
    const { options, flags, out } = context;
    const agent = agentOf(flags, "make upgrade AGENT=plan TO=v2");
    const to = flags.to as string | undefined;
    if (!to || !TAG_PATTERN.test(to)) {
      throw new UsageError(to ? `invalid tag ${JSON.stringify(to)}` : "no tag to upgrade to", `Name it with TO (or --to), e.g. make upgrade AGENT=${agent} TO=v2.`);
    }
    const runs = agentRuns();
    const state = await runs.withLock(agent, async () => {
      const current = await runs.state(agent);
      if (!current || !runs.isRunning(current)) throw new UsageError(`${agent} is not running, so there is nothing to upgrade`, `Start it: make run AGENT=${agent} TAG=${to}`);
      const version = await fetchPackage(context, runs, agent, to);
      if (version.digest === current.digest) {
        out.ok(`${agent} runs ${shortDigest(current.digest)} already, which is what ${to} names; nothing to do`);
        return current;
      }
      const upgraded = await replaceAgent(context, runs, current, await ready(context, runs, agent, version));
      out.ok(`${agent} upgraded from ${current.tag} to ${to}: healthy at ${upgraded.url} (pid ${upgraded.pid}, ${shortDigest(upgraded.digest)}); make rollback AGENT=${agent} goes back`);
      return upgraded;
    });
    if (options.json) out.json({ agent: state });
  },
};

if (isMain(import.meta)) await main(step);
