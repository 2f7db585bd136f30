// Phase 5: what changed between two versions of each agent's card, read straight from the
// registry: both manifest digests, both card digests, and the semantic difference (json-diff).
// Exits 0 when every agent's cards are the same and 1 when any differ, as diff does.
import { agentOf, AGENTS_NAMESPACE } from "../lib/discovery/card-entry.ts";
import { cardLayer, fetchCard } from "../lib/discovery/crawl.ts";
import { canonicalJson, contentDiff } from "../lib/compare.ts";
import { ContentError } from "../lib/errors.ts";
import { parseJson } from "../lib/oci/json.ts";
import { CREATED_ANNOTATION } from "../lib/oci/manifest.ts";
import type { Repository } from "../lib/oci/registry.ts";
import type { Output } from "../lib/step/output.ts";
import { isMain, main, type Step } from "../lib/step/run.ts";

async function version(repository: Repository, tag: string) {
  const subject = repository.reference(tag);
  const { descriptor, bytes } = await repository.fetchManifest(tag);
  const found = cardLayer(subject, bytes, descriptor.mediaType);
  if (!found) throw new ContentError(`${subject} holds no agent card (its artifactType is not application/a2a-agent-card+json)`);
  const card = await fetchCard(repository, found.layer);
  return {
    tag,
    digest: descriptor.digest,
    card: found.layer.digest,
    created: found.manifest.annotations?.[CREATED_ANNOTATION],
    bytes: card,
    value: parseJson(card, `the card of ${subject}`) as Record<string, unknown>,
  };
}

/** Compares one agent's two tags, printing both sides and the verdict; what JSON says of it. */
async function compare(repository: Repository, from: string, to: string, out: Output) {
  const [older, newer] = [await version(repository, from), await version(repository, to)];
  for (const side of [older, newer]) {
    out.line(`${repository.reference(side.tag)}  manifest ${side.digest}  card ${side.card}  version ${String(side.value.version)}`);
  }
  const sameContent = canonicalJson(older.value) === canonicalJson(newer.value);
  const verdict = older.digest === newer.digest
    ? `${from} and ${to} are identical: the same manifest, ${older.digest}`
    : older.card === newer.card
    ? `${from} and ${to} hold identical cards; only their manifests differ (created ${older.created ?? "-"} and ${newer.created ?? "-"})`
    : sameContent
    ? `${from} and ${to} hold the same card content, formatted differently`
    : undefined;
  const diff = sameContent ? undefined : await contentDiff(older.value, newer.value);
  if (verdict) {
    out.ok(verdict);
  } else {
    out.line(diff!.trimEnd());
    out.fail(`${from} and ${to} differ (version ${String(older.value.version)} -> ${String(newer.value.version)})`);
  }
  const side = ({ tag, digest, card, created }: typeof older) => ({ tag, digest, card, created });
  return { agent: agentOf(repository.name), from: side(older), to: side(newer), identical: sameContent, ...(diff && { diff }) };
}

export const step: Step = {
  name: "diff",
  section: "Phase 5: Compare Two Versions",
  runs: "no oras command: reads REGISTRY/agents/<agent>:TAG and :TO_TAG (manifests and cards) and compares the cards with json-diff",
  options: ["registry", "agents", "tag", "to-tag"],
  example: "make diff AGENTS=plan TAG=v1 TO_TAG=v3   (exits 0 when the cards are the same, 1 when they differ)",
  async body({ options, out, client }) {
    const diffs = [];
    for (const agent of options.agents) diffs.push(await compare(client.repository(`${AGENTS_NAMESPACE}/${agent}`), options.tag, options.toTag, out));
    if (options.json) out.json({ diffs });
    return diffs.every((diff) => diff.identical) ? 0 : 1;
  },
};

if (isMain(import.meta)) await main(step);
