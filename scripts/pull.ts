// 3.2 Step 2: pull every card back into OUT_DIR.
import { runStep } from "../lib/cli.ts";
import { agentReference } from "../lib/options.ts";
import { printJson, say, shellLine } from "../lib/output.ts";
import { formatReference } from "../lib/oci/reference.ts";

await runStep({ script: "pull", summary: "3.2 Step 2: pull each agent card into OUT_DIR." }, async (options, oras) => {
  say.banner("3.2 Verify Storage, Step 2: Pull Agent Cards Back");
  say.command(shellLine(["mkdir", "-p", options.outDir]));
  const pulled = [];
  for (const agent of options.agents) {
    const ref = agentReference(options, agent);
    const { digest, files } = await oras.pull(ref, options.outDir);
    for (const file of files) say.line(`Downloaded ${file.title} (${file.size} B) -> ${file.path}`);
    say.line(`Pulled [registry] ${formatReference(ref)}`);
    say.line(`Digest: ${digest}`);
    pulled.push({ agent, reference: formatReference(ref), digest, files });
  }
  if (options.json) printJson({ pulled });
});
