// Phase 5: publish a card, changed or new, under a tag of its own. A tag that already holds a
// different card is left alone unless FORCE=1: a version, once published, is what others pulled.
import path from "node:path";
import { CARD_TYPE, loadCards } from "../lib/cards.ts";
import { AGENTS_NAMESPACE } from "../lib/discovery/card-entry.ts";
import { cardLayer } from "../lib/discovery/crawl.ts";
import { ContentError, UsageError } from "../lib/errors.ts";
import { sha256Digest } from "../lib/oci/digest.ts";
import { isOciError } from "../lib/oci/errors.ts";
import { PATH_COMPONENT_PATTERN } from "../lib/oci/reference.ts";
import { type Repository } from "../lib/oci/registry.ts";
import { indexPublished } from "../lib/step/discovery.ts";
import { agentReference, createdFlags } from "../lib/step/options.ts";
import { isMain, main, type Step } from "../lib/step/run.ts";

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
  options: ["registry", "tag"],
  flags: {
    card: { type: "string", env: "CARD", help: "the card to publish, a file named <agent>_agent_card.json (required)" },
    force: { type: "boolean", env: "FORCE", help: "replace a tag that holds a different card" },
  },
  example: "make publish CARD=fixtures/agent_cards/plan_agent_card.json TAG=v2",
  async body({ options, remote, flags, out, orasIn, client }) {
    const file = flags.card as string | undefined;
    if (!file) {
      throw new UsageError("no card to publish", "Name it with CARD (or --card), e.g. make publish CARD=fixtures/agent_cards/plan_agent_card.json TAG=v2.");
    }
    const agent = path.basename(file).match(/^(.+)_agent_card\.json$/)?.[1];
    if (!agent || !PATH_COMPONENT_PATTERN.test(agent)) {
      throw new UsageError(
        `${file}: a card file is named <agent>_agent_card.json, with the agent in lowercase letters and digits`,
        "Rename it, e.g. plan_agent_card.json: the name says which agent it publishes, and pull writes it back under that name.",
      );
    }
    const [card] = await loadCards(path.dirname(file), [agent], "the card is set by CARD or --card");
    out.ok(`${card.path} is a valid agent card (${card.card.name} ${card.card.version})`);
    for (const warning of card.warnings) out.warn(warning);

    const ref = agentReference(options, agent);
    const before = await published(client.repository(`${AGENTS_NAMESPACE}/${agent}`), options.tag);
    const result = { agent, reference: ref, card: sha256Digest(card.bytes), digest: before?.digest, replaced: undefined as string | undefined };
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
    }
    await indexPublished({ client, out, options }, options.tag, [agent]);
    if (options.json) out.json({ published: result });
  },
};

if (isMain(import.meta)) await main(step);
