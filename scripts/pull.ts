// 3.2 Step 2: pull every card back into OUT_DIR.
import { AGENTS_AT_ONCE, agentReference } from "../lib/step/options.ts";
import { oras } from "../lib/step/oras.ts";
import { inTurn, printJson, say, shellLine } from "../lib/step/output.ts";
import { runStep } from "../lib/step/run.ts";

await runStep({
  name: "pull",
  section: "3.2 Verify Storage, Step 2: Pull Agent Cards Back",
  runs: "mkdir -p OUT_DIR; oras pull REGISTRY/agents/<agent>:TAG -o OUT_DIR/",
  options: ["registry", "agents", "tag", "out"],
  example: "make pull OUT_DIR=/tmp/cards",
}, async ({ options, remote }) => {
  // oras makes the directory itself; the spec's mkdir is shown so the commands can be pasted in order.
  say.command(shellLine(["mkdir", "-p", options.outDir]));
  const outDir = options.outDir.endsWith("/") ? options.outDir : `${options.outDir}/`;
  const pulled = await inTurn(options.agents, AGENTS_AT_ONCE, async (agent) => {
    const ref = agentReference(options, agent);
    const { digest } = await oras`pull ${remote} ${ref} -o ${outDir}`;
    return { agent, reference: ref, digest };
  });
  if (options.json) printJson({ pulled });
});
