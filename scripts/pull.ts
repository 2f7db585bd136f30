// 3.2 Step 2: pull every card back into OUT_DIR.
import { AGENTS_AT_ONCE, agentReference } from "../lib/step/options.ts";
import { shellLine } from "../lib/step/output.ts";
import { isMain, main, type Step } from "../lib/step/run.ts";

export const step: Step = {
  name: "pull",
  section: "3.2 Verify Storage, Step 2: Pull Agent Cards Back",
  runs: "mkdir -p OUT_DIR; oras pull REGISTRY/agents/<agent>:TAG -o OUT_DIR/",
  options: ["registry", "agents", "tag", "out"],
  example: "make pull OUT_DIR=/tmp/cards",
  async body({ options, remote, out, oras }) {
    // oras makes the directory itself; the spec's mkdir is shown so the commands can be pasted in order.
    out.command(shellLine(["mkdir", "-p", options.outDir]));
    const outDir = options.outDir.endsWith("/") ? options.outDir : `${options.outDir}/`;
    const pulled = await out.inTurn(options.agents, AGENTS_AT_ONCE, async (agent) => {
      const ref = agentReference(options, agent);
      const { digest } = await oras`pull ${remote} ${ref} -o ${outDir}`;
      return { agent, reference: ref, digest };
    });
    if (options.json) out.json({ pulled });
  },
};

if (isMain(import.meta)) await main(step);
