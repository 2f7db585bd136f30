// Phase 5: what changed between two versions of an agent's card, read straight from the
// registry: both manifest digests, both card digests, and the semantic difference (json-diff).
// Exits 0 when the cards are the same and 1 when they differ, as diff does.
import { AGENTS_NAMESPACE } from "../lib/discovery/card-entry.ts";
import { cardLayer, fetchCard } from "../lib/discovery/crawl.ts";
import { canonicalJson, contentDiff } from "../lib/compare.ts";
import { ContentError, UsageError } from "../lib/errors.ts";
import { parseJson } from "../lib/oci/json.ts";
import { CREATED_ANNOTATION } from "../lib/oci/manifest.ts";
import { REPOSITORY_PATTERN, TAG_PATTERN } from "../lib/oci/reference.ts";
import type { Repository } from "../lib/oci/registry.ts";
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

export const step: Step = {
  name: "diff",
  section: "Phase 5: Compare Two Versions",
  runs: "no oras command: reads REGISTRY/agents/<agent>:FROM and :TO (manifests and cards) and compares the cards with json-diff",
  options: ["registry"],
  flags: {
    agent: { type: "string", env: "AGENT", help: "the agent, as in REGISTRY/agents/<agent> (required)" },
    from: { type: "string", env: "FROM", help: "the older tag (default v1)" },
    to: { type: "string", env: "TO", help: "the newer tag (default v2)" },
  },
  example: "make diff AGENT=plan FROM=v1 TO=v2   (exits 0 when the cards are the same, 1 when they differ)",
  async body({ options, flags, out, client }) {
    const agent = flags.agent as string | undefined;
    if (!agent || !REPOSITORY_PATTERN.test(`${AGENTS_NAMESPACE}/${agent}`)) {
      throw new UsageError(
        agent ? `invalid agent name ${JSON.stringify(agent)}: use lowercase letters and digits, separated by '.', '_' or '-'` : "no agent to compare",
        "Name it with AGENT (or --agent), e.g. make diff AGENT=plan FROM=v1 TO=v2.",
      );
    }
    const [from, to] = [(flags.from as string | undefined) ?? "v1", (flags.to as string | undefined) ?? "v2"];
    for (const [name, tag] of [["from", from], ["to", to]]) {
      if (!TAG_PATTERN.test(tag)) {
        throw new UsageError(`invalid tag ${JSON.stringify(tag)}: tags match [A-Za-z0-9_][A-Za-z0-9._-]{0,127}`, `Set --${name} (env ${name.toUpperCase()}) to a tag such as v1.`);
      }
    }
    const repository = client.repository(`${AGENTS_NAMESPACE}/${agent}`);
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
    if (options.json) {
      const side = ({ tag, digest, card, created }: typeof older) => ({ tag, digest, card, created });
      out.json({ agent, from: side(older), to: side(newer), identical: sameContent, ...(diff && { diff }) });
    }
    return verdict ? 0 : 1;
  },
};

if (isMain(import.meta)) await main(step);
