// 3.1 Publish Agent Cards: every card is validated first; one bad card means nothing is pushed.
import path from "node:path";
import { CARD_TYPE, loadCards } from "../lib/cards.ts";
import { summaryOf } from "../lib/discovery/card-entry.ts";
import type { Seen } from "../lib/discovery/publishing.ts";
import { indexPublished } from "../lib/step/discovery.ts";
import { agentReference, createdFlags } from "../lib/step/options.ts";
import { isMain, main, type Step } from "../lib/step/run.ts";

export const step: Step = {
  name: "push",
  section: "3.1 Publish Agent Cards",
  runs: "cd CARDS_DIR && oras push --artifact-type application/a2a-agent-card+json REGISTRY/agents/<agent>:TAG <agent>_agent_card.json:application/json",
  options: ["registry", "agents", "tag", "cards"],
  example: "make push TAG=v2 AGENTS=plan",
  async body({ options, remote, out, orasIn, client }) {
    const cards = await loadCards(options.cardsDir, options.agents);
    out.ok(`${cards.length} agent cards in ${options.cardsDir} are valid`);
    for (const warning of cards.flatMap((card) => card.warnings)) out.warn(warning);
    // The created time is pinned the way oras documents, so a push is reproducible (SOURCE_DATE_EPOCH).
    const pinned = createdFlags();
    // What was validated is what is pushed: the built-in client sends these bytes, not the file read again.
    const oras = orasIn(options.cardsDir, { files: new Map(cards.map((card) => [path.resolve(card.path), card.bytes])) });
    const pushed = [];
    const seen = new Map<string, Seen>();
    for (const card of cards) {
      const ref = agentReference(options, card.agent);
      const { digest } = await oras`push ${remote} --artifact-type ${CARD_TYPE} ${pinned} ${ref} ${card.fileName}:application/json`;
      pushed.push({ agent: card.agent, reference: ref, digest, size: card.bytes.byteLength });
      seen.set(card.agent, { digest, card: summaryOf(card.card, ref) });
    }
    await indexPublished({ client, out, options }, options.tag, options.agents, seen);
    if (options.json) out.json({ pushed });
  },
};

if (isMain(import.meta)) await main(step);
