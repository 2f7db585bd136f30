// What every command that publishes a card shares: the created time it pins, and keeping the
// discovery index up to date afterwards.
import { env } from "../env.ts";
import { CliError } from "../errors.ts";
import { OciError } from "../oci/errors.ts";
import { CREATED_ANNOTATION, createdTimestamp } from "../oci/manifest.ts";
import type { Repository } from "../oci/registry.ts";
import { registryFor } from "../oras/command.ts";
import { type StepOptions } from "../step/options.ts";
import { say } from "../step/output.ts";
import { DiscoveryCache } from "./cache.ts";
import { agentOf, AGENTS_NAMESPACE, type CardEntry, summariseCard } from "./card-entry.ts";
import { addToIndex, INDEX_REPOSITORY, INDEX_TAG, type IndexState, listedEntry, readListing } from "./catalog-index.ts";
import { cardAt } from "./crawl.ts";

/**
 * The created time `make walkthrough` pins unless SOURCE_DATE_EPOCH says otherwise, so that every
 * participant gets the digests the README prints: 2026-01-01T00:00:00Z.
 */
export const WALKTHROUGH_EPOCH = 1767225600;

/** What `make walkthrough` passes its steps as SOURCE_DATE_EPOCH: the user's, else WALKTHROUGH_EPOCH. */
export const walkthroughEpoch = () => env.sourceDateEpoch ?? WALKTHROUGH_EPOCH;

/**
 * `--annotation org.opencontainers.image.created=…` when SOURCE_DATE_EPOCH is set, the way oras
 * documents a reproducible push; nothing otherwise, so oras stamps the time of the push.
 */
export function createdFlags(): string[] {
  const epoch = env.sourceDateEpoch;
  return epoch === undefined ? [] : ["--annotation", `${CREATED_ANNOTATION}=${createdTimestamp(new Date(epoch * 1000))}`];
}

/** What a step saw of an agent's tag a moment ago: the digest it pushed or resolved, and the card bytes it pushed there. */
export interface Seen {
  digest: string;
  card?: Uint8Array;
}

/**
 * The entry of a tag the step has just seen: the index's entry for that digest where it lists
 * one (under another tag; a copy), else what the tag holds now. A card the step pushed itself
 * is known by its manifest digest, so it is not fetched back.
 */
async function entryOf(
  repository: Repository,
  tag: string,
  seen: Seen | undefined,
  listing: IndexState,
  cache: DiscoveryCache,
): Promise<{ entry?: CardEntry; bytes?: Uint8Array }> {
  const listed = seen && listedEntry(listing, seen.digest);
  if (listed) return { entry: { ...listed, repository: repository.name, tag } };
  const pushed = seen?.card && summariseCard(seen.card, repository.reference(tag));
  if (pushed && "summary" in pushed) await cache.outcome(seen.digest, () => Promise.resolve({ kind: "card", card: pushed.summary }));
  return await cardAt(repository, tag, cache);
}

/**
 * Puts `agents/<agent>:<tag>` of each agent in the discovery index, after a push or a copy;
 * `seen` holds what the step itself learnt of those tags. The cards are published by then, so
 * a failure here only warns, and says how to catch up.
 */
export async function updateIndex(options: StepOptions, tag = options.tag, agents = options.agents, seen = new Map<string, Seen>()): Promise<void> {
  const registry = registryFor(options.registry, options.remote);
  const index = `${options.registry}/${INDEX_REPOSITORY}:${INDEX_TAG}`;
  try {
    const cache = await DiscoveryCache.open();
    const repositories = agents.map((agent) => registry.repository(`${AGENTS_NAMESPACE}/${agent}`));
    const listing = await readListing(registry, repositories.map((repository) => repository.name), cache);
    const entries = [];
    const manifests = new Map<string, Uint8Array>();
    for (const [i, agent] of agents.entries()) {
      const { entry, bytes } = await entryOf(repositories[i], tag, seen.get(agent), listing, cache);
      if (entry) entries.push(entry);
      if (entry && bytes) manifests.set(entry.manifest.digest, bytes);
    }
    await addToIndex(registry, entries, { listing, cache, manifests });
    await cache.save().catch(() => {});
    say.ok(`discovery index ${index} lists ${entries.map((entry) => `${agentOf(entry.repository)}:${entry.tag}`).join(", ")}`);
  } catch (error) {
    if (!(error instanceof OciError || error instanceof CliError)) throw error;
    say.warn(`the discovery index ${index} was not updated: ${error.message}`);
    say.note("  `make discover REFRESH=1` rebuilds it; until then `make discover CRAWL=1` finds every card.");
  }
}
