// 3.2 Step 1: list the registry's repositories, then the tags of each agent repository. A
// registry that offers no catalog (many public ones) is said to, and the agents named are listed.
import { isOciError } from "../lib/oci/errors.ts";
import { AGENTS_AT_ONCE, agentRepository } from "../lib/step/options.ts";
import { oras } from "../lib/step/oras.ts";
import { inTurn, printJson, say } from "../lib/step/output.ts";
import { runStep } from "../lib/step/run.ts";

const lines = (text: string) => text.split("\n").filter(Boolean);

await runStep({
  name: "list",
  section: "3.2 Verify Storage, Step 1: List Registry Contents",
  runs: "oras repo ls REGISTRY; oras repo tags REGISTRY/agents/<agent>",
  options: ["registry", "agents"],
  example: "make list REGISTRY=localhost:5001",
}, async ({ options, remote }) => {
  let repositories: string[] | undefined;
  try {
    repositories = lines((await oras`repo ls ${remote} ${options.registry}`).stdout);
  } catch (error) {
    if (!isOciError(error, "unsupported")) throw error;
    say.warn(error.message);
    say.note(`So listing the agent repositories named by AGENTS instead: ${options.agents.map((agent) => `agents/${agent}`).join(", ")}`);
  }
  const tags = Object.fromEntries(await inTurn(options.agents, AGENTS_AT_ONCE, async (agent) => [
    `agents/${agent}`,
    lines((await oras`repo tags ${remote} ${agentRepository(options, agent)}`).stdout),
  ]));
  if (options.json) printJson({ repositories: repositories ?? null, catalog: repositories !== undefined, tags });
});
