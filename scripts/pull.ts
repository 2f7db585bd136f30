// 3.2 Step 2: pull every card back into OUT_DIR. VERIFY decides which signed cards are kept: a
// card it refuses is removed from OUT_DIR again, and the step fails (docs/trust.md).
import { readFile, rm } from "node:fs/promises";
import path from "node:path";
import { cardFileName } from "../lib/cards.ts";
import { isObject } from "../lib/oci/json.ts";
import { AGENTS_AT_ONCE, agentReference } from "../lib/step/options.ts";
import { pullCard, shownOras } from "../lib/step/oras.ts";
import { shellLine } from "../lib/step/output.ts";
import { isMain, main, type Step, type StepContext } from "../lib/step/run.ts";
import { checkCardTrust } from "../lib/step/trust.ts";

/** oras makes the directory itself; the spec's mkdir is shown so the commands can be pasted in order. */
const mkdir = ({ options }: StepContext) => shellLine(["mkdir", "-p", options.outDir]);

export const step: Step = {
  name: "pull",
  section: "3.2 Verify Storage, Step 2: Pull Agent Cards Back",
  runs: "mkdir -p OUT_DIR; oras pull REGISTRY/agents/<agent>:TAG -o OUT_DIR/",
  options: ["registry", "agents", "tag", "out", "verify", "trust"],
  example: "make pull OUT_DIR=/tmp/cards VERIFY=require",
  preview: (context) => [mkdir(context), ...context.options.agents.map((agent) => pullCard(shownOras(), context, agent))],
  async body(context) {
    const { options, out, oras } = context;
    out.command(mkdir(context));
    const pulled = await out.inTurn(options.agents, AGENTS_AT_ONCE, async (agent) => {
      const ref = agentReference(options, agent);
      const { digest } = await pullCard(oras, context, agent);
      const file = path.join(options.outDir, cardFileName(agent));
      // A file that is not a card's JSON has no signature: VERIFY=require refuses it as unsigned.
      const card = await readFile(file, "utf8").then(JSON.parse).catch(() => undefined);
      try {
        await checkCardTrust(options, out, ref, isObject(card) ? card : {}, { registry: options.registry, repository: `agents/${agent}` });
      } catch (error) {
        await rm(file, { force: true });
        out.note(`removed ${file}, which VERIFY=${options.verify} refused`);
        throw error;
      }
      return { agent, reference: ref, digest };
    });
    if (options.json) out.json({ pulled });
  },
};

if (isMain(import.meta)) await main(step);
