// Copy each agent's TAG to TO_TAG (v1 -> v2), then show that both resolve to one digest.
import { runStep } from "../lib/cli.ts";
import { ContentError } from "../lib/errors.ts";
import { agentReference } from "../lib/options.ts";
import { printJson, say } from "../lib/output.ts";

await runStep({ script: "copy", summary: "Copy each agent's TAG to TO_TAG and check both resolve alike." }, async (options, oras) => {
  say.banner(`Copy to a New Version: ${options.tag} -> ${options.toTag}`);
  const copied = [];
  for (const agent of options.agents) {
    const from = agentReference(options, agent);
    const to = agentReference(options, agent, options.toTag);
    await oras.copy(from, to);
    const [source, target] = [await oras.resolve(from), await oras.resolve(to)];
    if (source !== target) {
      throw new ContentError(`${to.repository}: ${options.tag} is ${source} but ${options.toTag} is ${target}`);
    }
    say.ok(`${to.repository}: ${options.tag} and ${options.toTag} both resolve to ${source}`);
    copied.push({ agent, from: options.tag, to: options.toTag, digest: source });
  }
  if (options.json) printJson({ copied });
});
