// Phase 5: the versions of one agent: every tag of REGISTRY/agents/<agent> with its card's
// version, A2A version, manifest digest and verified status.
import { AGENTS_NAMESPACE, byAgentAndTag, type CardEntry, entryJson } from "../lib/discovery/card-entry.ts";
import { cardAt, CRAWL_CONCURRENCY, isReferrersTag } from "../lib/discovery/crawl.ts";
import { verifiedCards, verifiedKey } from "../lib/discovery/discover.ts";
import { mapLimit } from "../lib/concurrency.ts";
import { isContentFailure, UsageError } from "../lib/errors.ts";
import { REPOSITORY_PATTERN } from "../lib/oci/reference.ts";
import { openDiscoveryCache } from "../lib/step/discovery.ts";
import { agentRepository } from "../lib/step/options.ts";
import { isMain, main, type Step } from "../lib/step/run.ts";

export const step: Step = {
  name: "versions",
  section: "Phase 5: Versions of an Agent",
  runs: "oras repo tags REGISTRY/agents/<agent>, then each tag's manifest and card, read directly",
  options: ["registry"],
  flags: { agent: { type: "string", env: "AGENT", help: "the agent, as in REGISTRY/agents/<agent> (required)" } },
  example: "make versions AGENT=plan",
  async body({ options, remote, flags, out, oras, client: registry }) {
    const agent = flags.agent as string | undefined;
    if (!agent || !REPOSITORY_PATTERN.test(`${AGENTS_NAMESPACE}/${agent}`)) {
      throw new UsageError(
        agent ? `invalid agent name ${JSON.stringify(agent)}: use lowercase letters and digits, separated by '.', '_' or '-'` : "no agent named",
        "Name it with AGENT (or --agent), e.g. make versions AGENT=plan.",
      );
    }
    const tags = (await oras`repo tags ${remote} ${agentRepository(options, agent)}`).names;
    const repository = registry.repository(`${AGENTS_NAMESPACE}/${agent}`);
    const cache = openDiscoveryCache();
    const read = await mapLimit(tags.filter((tag) => !isReferrersTag(tag)), CRAWL_CONCURRENCY, async (tag) => {
      try {
        return (await cardAt(repository, tag, cache)).entry;
      } catch (error) {
        // A broken version is named; the others are still listed.
        if (!isContentFailure(error)) throw error;
        out.warn(`${repository.reference(tag)}: ${error.message}`);
        return undefined;
      }
    });
    await cache.save().catch((error: Error) => out.warn(`the discovery cache in ${cache.dir} was not written: ${error.message}`));
    const entries = read.filter((entry) => entry !== undefined).sort(byAgentAndTag);
    const verified = await verifiedCards(registry, entries, new Map([[repository.name, new Set(tags)]]));
    const isVerified = (entry: CardEntry) => verified.has(verifiedKey(entry));
    out.line();
    out.table(
      ["Tag", "Card version", "A2A", "Digest", "Verified"],
      entries.map((entry) => [entry.tag, entry.card.version, entry.card.a2aVersion, entry.manifest.digest, isVerified(entry) ? "yes" : "no"]),
    );
    const others = tags.filter((tag) => !isReferrersTag(tag)).length - entries.length;
    if (others > 0) out.note(`${others} other tag${others === 1 ? "" : "s"} of ${repository.reference()} hold${others === 1 ? "s" : ""} no agent card`);
    if (options.json) out.json({ agent, versions: entries.map((entry) => entryJson(entry, isVerified(entry))) });
  },
};

if (isMain(import.meta)) await main(step);
