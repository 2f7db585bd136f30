// 3.2 Step 2: pull every card back into OUT_DIR.
import { AGENTS_AT_ONCE, agentReference } from "../lib/step/options.ts";
import { pullCard, shownOras } from "../lib/step/oras.ts";
import { shellLine } from "../lib/step/output.ts";
import { isMain, main, type Step, type StepContext } from "../lib/step/run.ts";

/** oras makes the directory itself; the spec's mkdir is shown so the commands can be pasted in order. */
const mkdir = ({ options }: StepContext) => shellLine(["mkdir", "-p", options.outDir]);

export const step: Step = {
  name: "pull",
  section: "3.2 Verify Storage, Step 2: Pull Agent Cards Back",
  runs: "mkdir -p OUT_DIR; oras pull REGISTRY/agents/<agent>:TAG -o OUT_DIR/",
  options: ["registry", "agents", "tag", "out"],
  example: "make pull OUT_DIR=/tmp/cards",
  preview: (context) => [mkdir(context), ...context.options.agents.map((agent) => pullCard(shownOras(), context, agent))],
  async body(context) {
    const { options, out, oras } = context;
    out.command(mkdir(context));
    const pulled = await out.inTurn(options.agents, AGENTS_AT_ONCE, async (agent) => {
      const { digest } = await pullCard(oras, context, agent);
      return { agent, reference: agentReference(options, agent), digest };
    });
    if (options.json) out.json({ pulled });
  },
};

if (isMain(import.meta)) await main(step);
