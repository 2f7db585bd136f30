// 3.1 Publish Agent Cards: every card is validated first; one bad card means nothing is pushed.
import { loadCards } from "../lib/cards.ts";
import { createdFlags, type Seen, updateIndex } from "../lib/discovery/publishing.ts";
import { agentReference, CARD_TYPE } from "../lib/step/options.ts";
import { orasIn } from "../lib/step/oras.ts";
import { printJson, say } from "../lib/step/output.ts";
import { runStep } from "../lib/step/run.ts";

await runStep({
  name: "push",
  section: "3.1 Publish Agent Cards",
  runs: "cd CARDS_DIR && oras push --artifact-type application/a2a-agent-card+json REGISTRY/agents/<agent>:TAG <agent>_agent_card.json:application/json",
  options: ["registry", "agents", "tag", "cards"],
  example: "make push TAG=v2 AGENTS=plan",
}, async ({ options, remote }) => {
  const cards = await loadCards(options.cardsDir, options.agents);
  say.ok(`${cards.length} agent cards in ${options.cardsDir} are valid`);
  for (const warning of cards.flatMap((card) => card.warnings)) say.warn(warning);
  // SOURCE_DATE_EPOCH pins the created time the way oras documents, so a push is reproducible.
  const pinned = createdFlags();
  const oras = orasIn(options.cardsDir);
  const pushed = [];
  const seen = new Map<string, Seen>();
  for (const card of cards) {
    const ref = agentReference(options, card.agent);
    const { digest } = await oras`push ${remote} --artifact-type ${CARD_TYPE} ${pinned} ${ref} ${card.fileName}:application/json`;
    pushed.push({ agent: card.agent, reference: ref, digest, size: card.bytes.byteLength });
    seen.set(card.agent, { digest, card: card.bytes });
  }
  await updateIndex(options, options.tag, options.agents, seen);
  if (options.json) printJson({ pushed });
});
