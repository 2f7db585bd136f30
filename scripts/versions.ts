// Phase 5: the versions of each agent: every tag of REGISTRY/agents/<agent> with its card's
// version, A2A version, manifest digest, verified status (a signed record that counts, and the
// card still served intact) and who signed the card; a version VERIFY refuses is named, not listed.
import { agentOf, AGENTS_NAMESPACE, byAgentAndTag, type CardEntry, entryJson } from "../lib/discovery/card-entry.ts";
import { cardAt, CRAWL_CONCURRENCY, isReferrersTag } from "../lib/discovery/crawl.ts";
import { admitted, verifiedCards, verifiedKey } from "../lib/discovery/discover.ts";
import { cardPolicy, sayPassedOver, signedByText } from "../lib/step/trust.ts";
import { readTrustStore } from "../lib/trust/store.ts";
import { mapLimit } from "../lib/concurrency.ts";
import { isContentFailure } from "../lib/errors.ts";
import { openDiscoveryCache, sayUnproven } from "../lib/step/discovery.ts";
import { AGENTS_AT_ONCE, agentRepository } from "../lib/step/options.ts";
import { isMain, main, type Step } from "../lib/step/run.ts";

export const step: Step = {
  name: "versions",
  section: "Phase 5: Versions of an Agent",
  runs: "oras repo tags REGISTRY/agents/<agent>, then each tag's manifest and card, read directly",
  options: ["registry", "agents", "verify", "trust"],
  example: "make versions AGENTS=plan",
  async body({ options, remote, out, oras, client: registry }) {
    const trust = await readTrustStore(options.trustStore);
    const reading = { cache: openDiscoveryCache(), trust: options.verify === "off" ? undefined : trust };
    const problems: string[] = [];
    const tagsOf = new Map<string, Set<string>>();
    const read = await out.inTurn(options.agents, AGENTS_AT_ONCE, async (agent) => {
      const tags = (await oras`repo tags ${remote} ${agentRepository(options, agent)}`).names;
      const repository = registry.repository(`${AGENTS_NAMESPACE}/${agent}`);
      tagsOf.set(repository.name, new Set(tags));
      const cards = tags.filter((tag) => !isReferrersTag(tag));
      const entries = await mapLimit(cards, CRAWL_CONCURRENCY, async (tag) => {
        try {
          return (await cardAt(repository, tag, reading)).entry;
        } catch (error) {
          // A broken version is named; the others are still listed.
          if (!isContentFailure(error)) throw error;
          problems.push(`${repository.reference(tag)}: ${error.message}`);
          out.warn(problems.at(-1)!);
          return undefined;
        }
      });
      const others = entries.filter((entry) => entry === undefined).length;
      if (others > 0) out.note(`${others} other tag${others === 1 ? "" : "s"} of ${repository.reference()} hold${others === 1 ? "s" : ""} no agent card`);
      return entries.filter((entry) => entry !== undefined);
    });
    const { cache } = reading;
    await cache.save().catch((error: Error) => out.warn(`the discovery cache in ${cache.dir} was not written: ${error.message}`));
    const shown = admitted(registry.host, read.flat().sort(byAgentAndTag), cardPolicy(options));
    const { entries } = shown;
    for (const problem of shown.problems) sayPassedOver(out, problem);
    problems.push(...shown.problems);
    const verified = await verifiedCards(registry, entries, tagsOf, trust);
    const verification = (entry: CardEntry) => verified.get(verifiedKey(entry))!;
    out.line();
    out.table(
      ["Agent", "Tag", "Card version", "A2A", "Digest", "Verified", "Signed by"],
      entries.map((entry) => [
        agentOf(entry.repository),
        entry.tag,
        entry.card.version,
        entry.card.a2aVersion,
        entry.manifest.digest,
        verification(entry).verified ? "yes" : "no",
        signedByText(entry),
      ]),
    );
    sayUnproven({ out, options }, entries.map(verification));
    if (options.json) out.json({ versions: entries.map((entry) => entryJson(entry, verification(entry))), problems });
  },
};

if (isMain(import.meta)) await main(step);
