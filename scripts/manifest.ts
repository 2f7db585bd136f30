// 3.2 Step 1, details: each agent's manifest (what the registry stores) and its digest.
import { parseImageManifest } from "../lib/oci/artifacts.ts";
import { AGENTS_AT_ONCE, agentReference } from "../lib/step/options.ts";
import { isMain, main, type Step } from "../lib/step/run.ts";

export const step: Step = {
  name: "manifest",
  section: "3.2 Verify Storage, Step 1: Manifests and Digests",
  runs: "oras manifest fetch --pretty REGISTRY/agents/<agent>:TAG; oras resolve REGISTRY/agents/<agent>:TAG",
  options: ["registry", "agents", "tag"],
  example: "make manifest AGENTS=plan",
  async body({ options, remote, out, oras }) {
    const manifests = await out.inTurn(options.agents, AGENTS_AT_ONCE, async (agent) => {
      const ref = agentReference(options, agent);
      const fetched = await oras`manifest fetch ${remote} --pretty ${ref}`;
      // What Phase 3 stores is an image manifest; anything else at this tag is named as such.
      const manifest = parseImageManifest(ref, fetched.content);
      const { digest } = await oras`resolve ${remote} ${ref}`;
      return { agent, digest, manifest };
    });
    if (options.json) out.json({ manifests });
  },
};

if (isMain(import.meta)) await main(step);
