// 3.2 Step 1, details: each agent's manifest (what the registry stores) and its digest.
import { parseImageManifest } from "../lib/oci/artifacts.ts";
import { AGENTS_AT_ONCE, agentReference } from "../lib/step/options.ts";
import { type OrasTag, shownOras } from "../lib/step/oras.ts";
import { isMain, main, type Step, type StepContext } from "../lib/step/run.ts";

// The step's commands, run by the body or said first by presenter mode.
const fetchManifest = <T>(oras: OrasTag<T>, { options, remote }: StepContext, agent: string) =>
  oras`manifest fetch ${remote} --pretty ${agentReference(options, agent)}`;
const resolve = <T>(oras: OrasTag<T>, { options, remote }: StepContext, agent: string) => oras`resolve ${remote} ${agentReference(options, agent)}`;

export const step: Step = {
  name: "manifest",
  section: "3.2 Verify Storage, Step 1: Manifests and Digests",
  runs: "oras manifest fetch --pretty REGISTRY/agents/<agent>:TAG; oras resolve REGISTRY/agents/<agent>:TAG",
  options: ["registry", "agents", "tag"],
  example: "make manifest AGENTS=plan",
  preview: (context) => context.options.agents.flatMap((agent) => [fetchManifest(shownOras(), context, agent), resolve(shownOras(), context, agent)]),
  async body(context) {
    const { options, out, oras } = context;
    const manifests = await out.inTurn(options.agents, AGENTS_AT_ONCE, async (agent) => {
      const fetched = await fetchManifest(oras, context, agent);
      // What Phase 3 stores is an image manifest; anything else at this tag is named as such.
      const manifest = parseImageManifest(agentReference(options, agent), fetched.content);
      const { digest } = await resolve(oras, context, agent);
      return { agent, digest, manifest };
    });
    if (options.json) out.json({ manifests });
  },
};

if (isMain(import.meta)) await main(step);
