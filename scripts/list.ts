// 3.2 Step 1: list the registry's repositories, then the tags of each agent repository. A
// registry that offers no catalog (many public ones) is said to, and the agents named are listed.
import { isOciError } from "../lib/oci/errors.ts";
import { AGENTS_AT_ONCE, agentRepository } from "../lib/step/options.ts";
import { type OrasTag, shownOras } from "../lib/step/oras.ts";
import { isMain, main, type Step, type StepContext } from "../lib/step/run.ts";

// The step's commands, run by the body or said first by presenter mode.
const repoLs = <T>(oras: OrasTag<T>, { options, remote }: StepContext) => oras`repo ls ${remote} ${options.registry}`;
const repoTags = <T>(oras: OrasTag<T>, { options, remote }: StepContext, agent: string) => oras`repo tags ${remote} ${agentRepository(options, agent)}`;

export const step: Step = {
  name: "list",
  section: "3.2 Verify Storage, Step 1: List Registry Contents",
  runs: "oras repo ls REGISTRY; oras repo tags REGISTRY/agents/<agent>",
  options: ["registry", "agents"],
  example: "make list REGISTRY=localhost:5001",
  preview: (context) => [repoLs(shownOras(), context), ...context.options.agents.map((agent) => repoTags(shownOras(), context, agent))],
  async body(context) {
    const { options, out, oras } = context;
    let repositories: string[] | undefined;
    try {
      repositories = (await repoLs(oras, context)).names;
    } catch (error) {
      if (!isOciError(error, "unsupported")) throw error;
      out.warn(error.message);
      out.note(`So listing the agent repositories named by AGENTS instead: ${options.agents.map((agent) => `agents/${agent}`).join(", ")}`);
    }
    const tags = Object.fromEntries(await out.inTurn(options.agents, AGENTS_AT_ONCE, async (agent) => [`agents/${agent}`, (await repoTags(oras, context, agent)).names]));
    if (options.json) out.json({ repositories: repositories ?? null, catalog: repositories !== undefined, tags });
  },
};

if (isMain(import.meta)) await main(step);
