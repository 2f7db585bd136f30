// After a push, a copy or an untag: keeping the discovery index up to date with the tags just
// published or removed.
import { CliError } from "../errors.ts";
import { OciError } from "../oci/errors.ts";
import { sha256Digest } from "../oci/digest.ts";
import type { Registry, Repository } from "../oci/registry.ts";
import type { SigningKey } from "../trust/keys.ts";
import type { DiscoveryCache } from "./cache.ts";
import { agentOf, AGENTS_NAMESPACE, type CardEntry } from "./card-entry.ts";
import { addToIndex, INDEX_REPOSITORY, INDEX_TAG, type IndexState, listedEntry, readListing } from "./catalog-index.ts";
import { cardAt } from "./crawl.ts";

/** What a step saw of an agent's tag a moment ago: the digest it pushed or resolved, and the bytes of the card it pushed there. */
export interface Seen {
  digest: string;
  card?: Uint8Array;
}

/**
 * The entry of a tag the step has just seen: the index's entry for that digest where it lists
 * one (under another tag; a copy), else what the tag holds now, from the card's bytes. A card the
 * step pushed itself is kept by its digest first, so it is not fetched back.
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
  if (seen?.card) await cache.keep(sha256Digest(seen.card), seen.card);
  return await cardAt(repository, tag, { cache });
}

/** The index after an update: the `agent:tag`s the update put in or took out and whether it signed it, or why it could not be updated. */
export type IndexUpdate = { index: string; tags: string[]; signed: boolean } | { index: string; failure: OciError | CliError };

/** Runs an update of the index; a registry failure is an answer, not an exception. */
async function answered(registry: Registry, update: () => Promise<{ tags: string[]; signed: boolean }>): Promise<IndexUpdate> {
  const index = `${registry.host}/${INDEX_REPOSITORY}:${INDEX_TAG}`;
  try {
    return { index, ...await update() };
  } catch (error) {
    if (!(error instanceof OciError || error instanceof CliError)) throw error;
    return { index, failure: error };
  }
}

/**
 * Puts `agents/<agent>:<tag>` of each agent in the discovery index, after a push or a copy;
 * `seen` holds what the step itself learnt of those tags; `signer` signs the index where it may
 * (catalog-index.ts). The cards are published by then, so a registry failure here is an answer,
 * not an exception.
 */
export async function updateIndex(
  registry: Registry,
  cache: DiscoveryCache,
  tag: string,
  agents: string[],
  seen = new Map<string, Seen>(),
  signer?: SigningKey,
): Promise<IndexUpdate> {
  return await answered(registry, async () => {
    const repositories = agents.map((agent) => registry.repository(`${AGENTS_NAMESPACE}/${agent}`));
    const listing = await readListing(registry, repositories.map((repository) => repository.name), cache);
    const entries = [];
    const manifests = new Map<string, Uint8Array>();
    for (const [i, agent] of agents.entries()) {
      const { entry, bytes } = await entryOf(repositories[i], tag, seen.get(agent), listing, cache);
      if (entry) entries.push(entry);
      if (entry && bytes) manifests.set(entry.manifest.digest, bytes);
    }
    const { signed } = await addToIndex(registry, entries, { listing, cache, manifests, signer });
    await cache.save().catch(() => {});
    return { tags: entries.map((entry) => `${agentOf(entry.repository)}:${entry.tag}`), signed };
  });
}

/** Takes `agents/<agent>:<tag>` of each agent out of the discovery index, after an untag. */
export async function dropFromIndex(registry: Registry, cache: DiscoveryCache, tag: string, agents: string[]): Promise<IndexUpdate> {
  return await answered(registry, async () => {
    const { signed } = await addToIndex(registry, [], { cache, dropped: agents.map((agent) => ({ repository: `${AGENTS_NAMESPACE}/${agent}`, tag })) });
    await cache.save().catch(() => {});
    return { tags: agents.map((agent) => `${agent}:${tag}`), signed };
  });
}
