// 3.2 Step 1: list the registry's repositories, then the tags of each agent repository.
import { runStep } from "../lib/cli.ts";
import { agentReference } from "../lib/options.ts";
import { printJson, say } from "../lib/output.ts";

await runStep({ script: "list", summary: "3.2 Step 1: list repositories and the tags of each agent." }, async (options, oras) => {
  say.banner("3.2 Verify Storage, Step 1: List Registry Contents");
  const repositories = await oras.repoList(options.registry);
  for (const repository of repositories) say.line(repository);
  const tags: Record<string, string[]> = {};
  for (const agent of options.agents) {
    const ref = agentReference(options, agent);
    const found = await oras.repoTags({ ...ref, tag: undefined });
    for (const tag of found) say.line(tag);
    tags[ref.repository] = found;
  }
  if (options.json) printJson({ repositories, tags });
});
