// Copy each agent's TAG to TO_TAG (v1 -> v2), then show that both resolve to one digest.
import { type Seen, updateIndex } from "../lib/discovery/publishing.ts";
import { ContentError } from "../lib/errors.ts";
import { AGENTS_AT_ONCE, agentReference } from "../lib/step/options.ts";
import { oras } from "../lib/step/oras.ts";
import { inTurn, printJson, say } from "../lib/step/output.ts";
import { runStep } from "../lib/step/run.ts";

await runStep({
  name: "copy",
  section: "Copy to a New Version",
  runs: "oras cp REGISTRY/agents/<agent>:TAG REGISTRY/agents/<agent>:TO_TAG; oras resolve … for both",
  options: ["registry", "agents", "tag", "to-tag"],
  example: "make copy TAG=v1 TO_TAG=v3",
}, async ({ options, remote }) => {
  const [from, to] = [remote.map((flag) => flag.replace("--", "--from-")), remote.map((flag) => flag.replace("--", "--to-"))];
  const copied = await inTurn(options.agents, AGENTS_AT_ONCE, async (agent) => {
    const [source, target] = [agentReference(options, agent), agentReference(options, agent, options.toTag)];
    await oras`cp ${from} ${to} ${source} ${target}`;
    const [{ digest: sourceDigest }, { digest: targetDigest }] = [await oras`resolve ${remote} ${source}`, await oras`resolve ${remote} ${target}`];
    if (sourceDigest !== targetDigest) {
      throw new ContentError(`agents/${agent}: ${options.tag} is ${sourceDigest} but ${options.toTag} is ${targetDigest}`);
    }
    say.ok(`agents/${agent}: ${options.tag} and ${options.toTag} both resolve to ${sourceDigest}`);
    return { agent, from: options.tag, to: options.toTag, digest: sourceDigest };
  });
  const seen = new Map<string, Seen>(copied.map(({ agent, digest }) => [agent, { digest }]));
  await updateIndex(options, options.toTag, options.agents, seen);
  if (options.json) printJson({ copied });
});
