// 3.2 Step 1: list the registry's repositories, then the tags of each agent repository. A
// registry that offers no catalog (many public ones) is said to, and the agents named are listed.
import { isOciError } from "../lib/oci/errors.ts";
import { AGENTS_AT_ONCE, agentRepository } from "../lib/step/options.ts";
import { isMain, main, type Step } from "../lib/step/run.ts";

export const step: Step = {
  name: "list",
  section: "3.2 Verify Storage, Step 1: List Registry Contents",
  runs: "oras repo ls REGISTRY; oras repo tags REGISTRY/agents/<agent>",
  options: ["registry", "agents"],
  example: "make list REGISTRY=localhost:5001",
  async body({ options, remote, out, oras }) {
    let repositories: string[] | undefined;
    try {
      repositories = (await oras`repo ls ${remote} ${options.registry}`).names;
    } catch (error) {
      if (!isOciError(error, "unsupported")) throw error;
      out.warn(error.message);
      out.note(`So listing the agent repositories named by AGENTS instead: ${options.agents.map((agent) => `agents/${agent}`).join(", ")}`);
    }
    const tags = Object.fromEntries(await out.inTurn(options.agents, AGENTS_AT_ONCE, async (agent) => [
      `agents/${agent}`,
      (await oras`repo tags ${remote} ${agentRepository(options, agent)}`).names,
    ]));
    if (options.json) out.json({ repositories: repositories ?? null, catalog: repositories !== undefined, tags });
  },
};

if (isMain(import.meta)) await main(step);
