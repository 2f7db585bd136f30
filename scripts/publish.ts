// Phase 5: publish a card, changed or new, under a tag of its own. A tag that already holds a
// different card is left alone unless FORCE=1: a version, once published, is what others pulled.
// With KEY the card is signed first, and VERIFY decides whether a card signed so may go out.
import path from "node:path";
import { setTimeout } from "node:timers/promises";
import { CARD_TYPE, loadCards } from "../lib/cards.ts";
import { AGENTS_NAMESPACE } from "../lib/discovery/card-entry.ts";
import { cardLayer } from "../lib/discovery/crawl.ts";
import { ContentError } from "../lib/errors.ts";
import { sha256Digest } from "../lib/oci/digest.ts";
import { isOciError } from "../lib/oci/errors.ts";
import { type Repository } from "../lib/oci/registry.ts";
import { indexPublished } from "../lib/step/discovery.ts";
import { agentReference, createdFlags, namedCard } from "../lib/step/options.ts";
import { isMain, main, type Step } from "../lib/step/run.ts";
import { attachNotarySignature, checkCardTrust, readSigningFlags, SIGNING_FLAGS, signCardFile } from "../lib/step/trust.ts";

/** The least time a publish waits before reading its tag back. */
const MIN_SETTLE_MS = 50;

/** What a tag holds now: nothing, a card (its manifest and card digests), or something else. */
async function published(repository: Repository, tag: string): Promise<{ digest: string; card?: string } | undefined> {
  try {
    const { descriptor, bytes } = await repository.fetchManifest(tag);
    return { digest: descriptor.digest, card: cardLayer(repository.reference(tag), bytes, descriptor.mediaType)?.layer.digest };
  } catch (error) {
    if (isOciError(error, "not-found")) return undefined;
    throw error;
  }
}

export const step: Step = {
  name: "publish",
  section: "Phase 5: Publish a Card Version",
  runs: "cd <the card's directory> && oras push --artifact-type application/a2a-agent-card+json REGISTRY/agents/<agent>:TAG <agent>_agent_card.json:application/json",
  options: ["registry", "tag", "verify", "trust"],
  flags: {
    card: { type: "string", env: "CARD", help: "the card to publish, a file named <agent>_agent_card.json (required)" },
    force: { type: "boolean", env: "FORCE", help: "replace a tag that holds a different card" },
    ...SIGNING_FLAGS,
  },
  example: "make publish CARD=fixtures/agent_cards/plan_agent_card.json TAG=v2",
  async body(context) {
    const { options, remote, flags, out, orasIn, client } = context;
    const { file, agent } = namedCard(flags, "publish", "make publish CARD=fixtures/agent_cards/plan_agent_card.json TAG=v2");
    const { signer, chain } = await readSigningFlags(flags);
    let [card] = await loadCards(path.dirname(file), [agent], "the card is set by CARD or --card");
    out.ok(`${card.path} is a valid agent card (${card.card.name} ${card.card.version})`);
    for (const warning of card.warnings) out.warn(warning);
    if (signer) card = await signCardFile(card, signer, out);
    await checkCardTrust(options, out, card.path, card.card, { registry: options.registry, repository: `${AGENTS_NAMESPACE}/${agent}` });

    const ref = agentReference(options, agent);
    const repository = client.repository(`${AGENTS_NAMESPACE}/${agent}`);
    const started = performance.now();
    const before = await published(repository, options.tag);
    const result = { agent, reference: ref, card: sha256Digest(card.bytes), digest: before?.digest, replaced: undefined as string | undefined, notarySignature: undefined as string | undefined };
    if (before?.card === result.card) {
      out.ok(`${ref} already holds this card (${before.digest}); nothing to publish`);
    } else {
      if (before && !flags.force) {
        throw new ContentError(
          `${ref} already holds ${before.card ? `a different card (${before.card})` : "something that is not an agent card"}; refusing to replace it`,
          `Publish it under a tag not used yet (\`make versions AGENTS=${agent}\` lists the used ones), or replace ${options.tag} with FORCE=1.`,
        );
      }
      if (before) out.warn(`replacing ${ref} (${before.digest}), as FORCE asks`);
      result.replaced = before?.digest;
      const checked = new Map([[path.resolve(card.path), card.bytes]]);
      result.digest = (await orasIn(path.dirname(file), { files: checked })`push ${remote} --artifact-type ${CARD_TYPE} ${createdFlags()} ${ref} ${card.fileName}:application/json`).digest;
      // The registry keeps a tag's last PUT and has no conditional one (Distribution ignores
      // If-Match): a publisher who looked before ours landed can land after it. Such a push ends
      // within the time ours took from looking to landing, so after as long again the tag tells who won.
      await setTimeout(Math.max(MIN_SETTLE_MS, performance.now() - started));
      const after = await published(repository, options.tag);
      if (after?.card !== result.card) {
        throw new ContentError(
          `${ref} was published by someone else while this push ran: it now holds ${after ? `${after.card ? `the card ${after.card}` : "something that is not an agent card"} (manifest ${after.digest})` : "nothing"}, not this card`,
          `This card was not kept. See what is there with \`make versions AGENTS=${agent}\`, then publish under a tag not used yet, or replace it with FORCE=1.`,
        );
      }
      if (signer && chain) result.notarySignature = await attachNotarySignature(context, agent, result.digest, signer, chain);
    }
    await indexPublished({ client, out, options }, options.tag, [agent], undefined, signer);
    if (options.json) out.json({ published: result });
  },
};

if (isMain(import.meta)) await main(step);
