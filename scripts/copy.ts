// Copy each agent's TAG to TO_TAG (v1 -> v2), then show that both resolve to one digest.
import type { Seen } from "../lib/discovery/publishing.ts";
import { ContentError } from "../lib/errors.ts";
import { indexPublished } from "../lib/step/discovery.ts";
import { AGENTS_AT_ONCE, agentReference } from "../lib/step/options.ts";
import { type OrasTag, shownOras } from "../lib/step/oras.ts";
import { isMain, main, type Step, type StepContext } from "../lib/step/run.ts";

/** One agent's commands, in order: the copy, then resolving both tags; run by the body or said first by presenter mode. */
function agentCommands<T>(oras: OrasTag<T>, { options, remote }: StepContext, agent: string): (() => T)[] {
  const [source, target] = [agentReference(options, agent), agentReference(options, agent, options.toTag)];
  const side = (prefix: string) => remote.map((flag) => flag.replace("--", `--${prefix}-`));
  return [() => oras`cp ${side("from")} ${side("to")} ${source} ${target}`, () => oras`resolve ${remote} ${source}`, () => oras`resolve ${remote} ${target}`];
}

export const step: Step = {
  name: "copy",
  section: "Copy to a New Version",
  runs: "oras cp REGISTRY/agents/<agent>:TAG REGISTRY/agents/<agent>:TO_TAG; oras resolve … for both",
  options: ["registry", "agents", "tag", "to-tag"],
  example: "make copy TAG=v1 TO_TAG=v3",
  preview: (context) => context.options.agents.flatMap((agent) => agentCommands(shownOras(), context, agent).map((command) => command())),
  async body(context) {
    const { options, out, oras } = context;
    const copied = await out.inTurn(options.agents, AGENTS_AT_ONCE, async (agent) => {
      const [copy, resolveSource, resolveTarget] = agentCommands(oras, context, agent);
      await copy();
      const [{ digest: sourceDigest }, { digest: targetDigest }] = [await resolveSource(), await resolveTarget()];
      if (sourceDigest !== targetDigest) {
        throw new ContentError(`agents/${agent}: ${options.tag} is ${sourceDigest} but ${options.toTag} is ${targetDigest}`);
      }
      out.ok(`agents/${agent}: ${options.tag} and ${options.toTag} both resolve to ${sourceDigest}`);
      return { agent, from: options.tag, to: options.toTag, digest: sourceDigest };
    });
    const seen = new Map<string, Seen>(copied.map(({ agent, digest }) => [agent, { digest }]));
    await indexPublished(context, options.toTag, options.agents, seen);
    if (options.json) out.json({ copied });
  },
};

if (isMain(import.meta)) await main(step);
