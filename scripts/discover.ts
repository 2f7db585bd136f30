// Phase 4: every agent card in a registry, found without writing a file: from the discovery
// index (REGISTRY/agents:index) where there is one, checked against the registry, else by crawling.
import { openDiscoveryCache, sayUnproven } from "../lib/step/discovery.ts";
import { agentOf } from "../lib/discovery/card-entry.ts";
import { INDEX_REPOSITORY, INDEX_TAG } from "../lib/discovery/catalog-index.ts";
import { discover, type Discovery, discoveryJson, indexTrustText, verifiedOf } from "../lib/discovery/discover.ts";
import { ContentError, UsageError } from "../lib/errors.ts";
import { TAG_PATTERN } from "../lib/oci/reference.ts";
import { rebuildIndexHint } from "../lib/step/advice.ts";
import { isMain, main, type Step } from "../lib/step/run.ts";
import { cardPolicy, readSigningFlags, sayPassedOver, signedByText } from "../lib/step/trust.ts";
import type { Policy } from "../lib/trust/signatures.ts";
import { readTrustStore } from "../lib/trust/store.ts";
import type { Verification } from "../lib/verification.ts";

/** Problems and stale repositories are listed up to this many; a registry full of them should not bury the table. */
const PROBLEMS_SHOWN = 10;

function describeSource(found: Discovery, index: string, policy: Policy): string {
  const cards = `${found.entries.length} agent card${found.entries.length === 1 ? "" : "s"}`;
  if (found.source === "crawl") return `${cards}, found by crawling every repository (${found.crawled}; ${found.fetched} cards fetched, the rest known)`;
  const trust = indexTrustText(found.index!, policy);
  if (found.source === "index-only") return `${cards} from the index ${index} alone (not checked against the registry; ${trust})`;
  return `${cards} from the index ${index}, checked against the registry (${trust})`;
}

const verifiedText = (verification: Verification | null) => (verification === null ? "not asked" : verification.verified ? "yes" : "no");

export const step: Step = {
  name: "discover",
  section: "Phase 4: Discover Agent Cards",
  runs: "no oras command: reads the index REGISTRY/agents:index (an OCI image index), else GET /v2/_catalog, tags and manifests",
  options: ["registry", "verify", "trust"],
  flags: {
    skill: { type: "string", env: "SKILL", help: "only cards with a skill of this id" },
    name: { type: "string", env: "NAME", help: "only agents whose name or card name contains this" },
    tag: { type: "string", env: "DISCOVER_TAG", help: "only this tag" },
    refresh: { type: "boolean", env: "REFRESH", help: "crawl every repository and rebuild the index from what is found" },
    crawl: { type: "boolean", env: "CRAWL", help: "crawl every repository, whatever the index says (writes nothing)" },
    "index-only": { type: "boolean", env: "INDEX_ONLY", help: "read the index alone: no tag checked, verified status not asked" },
    key: { type: "string", env: "KEY", help: "with --refresh: sign the index written with this private key (PEM, from make keygen)" },
  },
  example: "make discover SKILL=create_plan   (or: node_modules/.bin/deno run -A scripts/discover.ts --skill create_plan --json)",
  async body({ options, flags, out, client: registry }) {
    const tag = flags.tag as string | undefined;
    if (tag !== undefined && !TAG_PATTERN.test(tag)) {
      throw new UsageError(`invalid tag ${JSON.stringify(tag)}: tags match [A-Za-z0-9_][A-Za-z0-9._-]{0,127}`, "Set --tag (env DISCOVER_TAG) to a tag such as v1.");
    }
    const modes = ["refresh", "crawl", "index-only"].filter((mode) => flags[mode]);
    if (modes.length > 1) throw new UsageError(`--${modes.join(" and --")} exclude each other`, "Pick one.");

    if (flags.key && !flags.refresh) throw new UsageError("KEY signs the index a refresh writes; without REFRESH=1 nothing is written", "Add REFRESH=1 (or --refresh), or leave KEY out.");
    if (flags.key && options.verify === "off") {
      throw new UsageError("KEY vouches for the cards of the index it signs, and VERIFY=off checks none of their signatures", "Leave VERIFY out (if-present) or set VERIFY=require.");
    }
    const { signer } = await readSigningFlags(flags);
    const cache = openDiscoveryCache();
    const found = await discover(registry, {
      filter: { skill: flags.skill as string | undefined, name: flags.name as string | undefined, tag },
      cache,
      trust: await readTrustStore(options.trustStore),
      policy: cardPolicy(options),
      signer,
      refresh: Boolean(flags.refresh),
      crawl: Boolean(flags.crawl),
      indexOnly: Boolean(flags["index-only"]),
    });
    await cache.save().catch((error: Error) => out.warn(`the discovery cache in ${cache.dir} was not written: ${error.message}`));

    const index = `${options.registry}/${INDEX_REPOSITORY}:${INDEX_TAG}`;
    const verified = verifiedOf(found);
    out.line(describeSource(found, index, options.verify));
    // With --json the JSON carries the table's data; the table would only slow a large answer down.
    if (found.entries.length > 0 && !options.json) {
      out.table(
        ["Agent", "Tag", "Card version", "A2A", "URL", "Skills", "Digest", "Verified", "Signed by"],
        found.entries.map((entry) => [
          agentOf(entry.repository),
          entry.tag,
          entry.card.version,
          entry.card.a2aVersion,
          entry.card.urls[0] ?? "-",
          entry.card.skills.join(", "),
          entry.manifest.digest,
          verifiedText(verified(entry)),
          signedByText(entry),
        ]),
      );
      sayUnproven({ out, options }, found.entries.map(verified));
    }
    if (flags.refresh) out.ok(`rebuilt the index ${index} from the cards read from the registry${signer ? `, signed by ${signer.kid}` : " (unsigned: pass KEY to sign it)"}`);
    if (found.stale.length > 0) {
      const more = found.stale.length - PROBLEMS_SHOWN;
      out.warn(`the index is out of date for ${found.stale.slice(0, PROBLEMS_SHOWN).join(", ")}${more > 0 ? ` and ${more} more repositories` : ""}: shown as the registry has them now`);
      out.note(`  ${rebuildIndexHint(options)}`);
    }
    for (const problem of found.problems.slice(0, PROBLEMS_SHOWN)) sayPassedOver(out, problem);
    if (found.problems.length > PROBLEMS_SHOWN) out.warn(`… and ${found.problems.length - PROBLEMS_SHOWN} more cards that could not be read or were refused`);
    if (options.json) out.json(discoveryJson(options.registry, found));
    // Cards were there, and none could be read: that is no answer, whatever the count says.
    if (found.entries.length === 0 && found.problems.length > 0) {
      throw new ContentError(
        `none of the ${found.problems.length} agent cards found can be shown`,
        `The lines above say why for each (and, for a card VERIFY=${options.verify} refused, what to do); for one that could not be read, check the registry with \`make registry-status REGISTRY=${options.registry}\`, then run again.`,
      );
    }
  },
};

if (isMain(import.meta)) await main(step);
