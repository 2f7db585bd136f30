// 3.1 Publish Agent Cards: every card is validated first; one bad card means nothing is pushed.
// With KEY, each card is signed in its file first; with CERT too, its manifest gets a Notary
// Project signature (docs/trust.md).
import path from "node:path";
import { CARD_TYPE, cardFileName, loadCards } from "../lib/cards.ts";
import type { Seen } from "../lib/discovery/publishing.ts";
import { indexPublished } from "../lib/step/discovery.ts";
import { agentReference, createdFlags } from "../lib/step/options.ts";
import { type OrasTag, shownOras } from "../lib/step/oras.ts";
import { isMain, main, type Step, type StepContext } from "../lib/step/run.ts";
import { attachNotarySignature, readSigningFlags, SIGNING_FLAGS, signCardFile } from "../lib/step/trust.ts";

/**
 * One card's push, run by the body or said first by presenter mode. The created time is pinned
 * the way oras documents, so a push is reproducible (SOURCE_DATE_EPOCH).
 */
const pushCard = <T>(oras: OrasTag<T>, { options, remote }: StepContext, agent: string) =>
  oras`push ${remote} --artifact-type ${CARD_TYPE} ${createdFlags()} ${agentReference(options, agent)} ${cardFileName(agent)}:application/json`;

export const step: Step = {
  name: "push",
  section: "3.1 Publish Agent Cards",
  runs: "cd CARDS_DIR && oras push --artifact-type application/a2a-agent-card+json REGISTRY/agents/<agent>:TAG <agent>_agent_card.json:application/json",
  options: ["registry", "agents", "tag", "cards"],
  flags: SIGNING_FLAGS,
  example: "make push TAG=v2 AGENTS=plan",
  preview: (context) => context.options.agents.map((agent) => pushCard(shownOras(context.options.cardsDir), context, agent)),
  async body(context) {
    const { options, out, orasIn, client, flags } = context;
    const { signer, chain } = await readSigningFlags(flags);
    let cards = await loadCards(options.cardsDir, options.agents);
    out.ok(`${cards.length} agent cards in ${options.cardsDir} are valid`);
    for (const warning of cards.flatMap((card) => card.warnings)) out.warn(warning);
    if (signer) {
      const signed = [];
      for (const card of cards) signed.push(await signCardFile(card, signer, out));
      cards = signed;
    }
    // What was validated is what is pushed: the built-in client sends these bytes, not the file read again.
    const oras = orasIn(options.cardsDir, { files: new Map(cards.map((card) => [path.resolve(card.path), card.bytes])) });
    const pushed = [];
    const seen = new Map<string, Seen>();
    for (const card of cards) {
      const { digest } = await pushCard(oras, context, card.agent);
      const ref = agentReference(options, card.agent);
      const notarySignature = signer && chain ? await attachNotarySignature(context, card.agent, digest, signer, chain) : undefined;
      pushed.push({ agent: card.agent, reference: ref, digest, size: card.bytes.byteLength, notarySignature });
      seen.set(card.agent, { digest, card: card.bytes });
    }
    await indexPublished(context, options.tag, options.agents, seen, signer);
    if (options.json) out.json({ pushed });
  },
};

if (isMain(import.meta)) await main(step);
