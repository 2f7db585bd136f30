// Copy each agent's TAG to TO_TAG (v1 -> v2), then show that both resolve to one digest.
import type { Seen } from "../lib/discovery/publishing.ts";
import { ContentError } from "../lib/errors.ts";
import { indexPublished } from "../lib/step/discovery.ts";
import { AGENTS_AT_ONCE, agentReference } from "../lib/step/options.ts";
import { isMain, main, type Step } from "../lib/step/run.ts";

export const step: Step = {
  name: "copy",
  section: "Copy to a New Version",
  runs: "oras cp REGISTRY/agents/<agent>:TAG REGISTRY/agents/<agent>:TO_TAG; oras resolve … for both",
  options: ["registry", "agents", "tag", "to-tag"],
  example: "make copy TAG=v1 TO_TAG=v3",
  async body({ options, remote, out, oras, client }) {
    const [from, to] = [remote.map((flag) => flag.replace("--", "--from-")), remote.map((flag) => flag.replace("--", "--to-"))];
    const copied = await out.inTurn(options.agents, AGENTS_AT_ONCE, async (agent) => {
      const [source, target] = [agentReference(options, agent), agentReference(options, agent, options.toTag)];
      await oras`cp ${from} ${to} ${source} ${target}`;
      const [{ digest: sourceDigest }, { digest: targetDigest }] = [await oras`resolve ${remote} ${source}`, await oras`resolve ${remote} ${target}`];
      if (sourceDigest !== targetDigest) {
        throw new ContentError(`agents/${agent}: ${options.tag} is ${sourceDigest} but ${options.toTag} is ${targetDigest}`);
      }
      out.ok(`agents/${agent}: ${options.tag} and ${options.toTag} both resolve to ${sourceDigest}`);
      return { agent, from: options.tag, to: options.toTag, digest: sourceDigest };
    });
    const seen = new Map<string, Seen>(copied.map(({ agent, digest }) => [agent, { digest }]));
    await indexPublished({ client, out, options }, options.toTag, options.agents, seen);
    if (options.json) out.json({ copied });
  },
};

if (isMain(import.meta)) await main(step);
