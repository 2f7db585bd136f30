// 3.1 Publish Agent Cards: every card is validated first; one bad card means nothing is pushed.
import { loadCards } from "../lib/cards.ts";
import { runStep } from "../lib/cli.ts";
import { agentReference } from "../lib/options.ts";
import { printJson, say } from "../lib/output.ts";
import { formatReference } from "../lib/oci/reference.ts";

await runStep({ script: "push", summary: "3.1 Publish agent cards as REGISTRY/agents/<agent>:TAG." }, async (options, oras) => {
  say.banner("3.1 Publish Agent Cards");
  const cards = await loadCards(options.cardsDir, options.agents);
  say.ok(`${cards.length} agent cards in ${options.cardsDir} are valid`);
  const pushed = [];
  for (const card of cards) {
    const ref = agentReference(options, card.agent);
    const digest = await oras.push(ref, { dir: options.cardsDir, fileName: card.fileName, bytes: card.bytes });
    say.line(`Uploaded ${card.fileName} (${card.bytes.byteLength} B, application/json)`);
    say.line(`Pushed [registry] ${formatReference(ref)}`);
    say.line(`Digest: ${digest}`);
    pushed.push({ agent: card.agent, reference: formatReference(ref), digest, size: card.bytes.byteLength });
  }
  if (options.json) printJson({ pushed });
});
