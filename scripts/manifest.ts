// 3.2 Step 1, details: each agent's manifest (what the registry stores) and its digest.
import { parseImageManifest } from "../lib/oci/artifacts.ts";
import { AGENTS_AT_ONCE, agentReference } from "../lib/step/options.ts";
import { oras } from "../lib/step/oras.ts";
import { inTurn, printJson } from "../lib/step/output.ts";
import { runStep } from "../lib/step/run.ts";

await runStep({
  name: "manifest",
  section: "3.2 Verify Storage, Step 1: Manifests and Digests",
  runs: "oras manifest fetch --pretty REGISTRY/agents/<agent>:TAG; oras resolve REGISTRY/agents/<agent>:TAG",
  options: ["registry", "agents", "tag"],
  example: "make manifest AGENTS=plan",
}, async ({ options, remote }) => {
  const manifests = await inTurn(options.agents, AGENTS_AT_ONCE, async (agent) => {
    const ref = agentReference(options, agent);
    const fetched = await oras`manifest fetch ${remote} --pretty ${ref}`;
    // What Phase 3 stores is an image manifest; anything else at this tag is named as such.
    const manifest = parseImageManifest(ref, new TextEncoder().encode(fetched.stdout));
    const { digest } = await oras`resolve ${remote} ${ref}`;
    return { agent, digest, manifest };
  });
  if (options.json) printJson({ manifests });
});
