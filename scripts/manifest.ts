// 3.2 Step 1, details: each agent's manifest (what the registry stores) and its digest.
import { runStep } from "../lib/cli.ts";
import { agentReference } from "../lib/options.ts";
import { printJson, say } from "../lib/output.ts";

await runStep({ script: "manifest", summary: "Show each agent's manifest and resolve its digest." }, async (options, oras) => {
  say.banner("3.2 Verify Storage, Step 1: Manifests and Digests");
  const manifests = [];
  for (const agent of options.agents) {
    const ref = agentReference(options, agent);
    const fetched = await oras.manifestFetch(ref);
    say.line(JSON.stringify(fetched.manifest, null, 2));
    const digest = await oras.resolve(ref);
    say.line(digest);
    manifests.push({ agent, digest, size: fetched.bytes.byteLength, manifest: fetched.manifest });
  }
  if (options.json) printJson({ manifests });
});
