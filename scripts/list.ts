// 3.2 Step 1: list the registry's repositories, then the tags of each agent repository.
import { agentRepository } from "../lib/options.ts";
import { oras } from "../lib/oras.ts";
import { printJson } from "../lib/output.ts";
import { runStep } from "../lib/step.ts";

const lines = (text: string) => text.split("\n").filter(Boolean);

await runStep({
  name: "list",
  section: "3.2 Verify Storage, Step 1: List Registry Contents",
  runs: "oras repo ls REGISTRY; oras repo tags REGISTRY/agents/<agent>",
  options: ["registry", "agents"],
  example: "make list REGISTRY=localhost:5001",
}, async ({ options, remote }) => {
  const repositories = lines((await oras`repo ls ${remote} ${options.registry}`).stdout);
  const tags: Record<string, string[]> = {};
  for (const agent of options.agents) {
    tags[`agents/${agent}`] = lines((await oras`repo tags ${remote} ${agentRepository(options, agent)}`).stdout);
  }
  if (options.json) printJson({ repositories, tags });
});
