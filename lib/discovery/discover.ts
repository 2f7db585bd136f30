// Discovery: which agent cards a registry holds. The index is read first; the cards a search
// selects are checked against their repositories (one tag list each, one manifest per tag), and
// repositories the index has wrong are shown as the registry has them. Without an index, or
// when asked, every repository is crawled.
import { mapLimit } from "../concurrency.ts";
import { isOciError } from "../oci/errors.ts";
import { hasReferrersApi, referrersTag } from "../oci/referrers.ts";
import { collect, type Registry } from "../oci/registry.ts";
import { isVerified } from "../verification.ts";
import type { DiscoveryCache } from "./cache.ts";
import { byAgentAndTag, type CardEntry, type CardFilter, type CardSummary, entryJson, matches } from "./card-entry.ts";
import { type Index, INDEX_REPOSITORY, isUnusableIndex, readIndex, rebuildIndex } from "./catalog-index.ts";
import { crawl, CRAWL_CONCURRENCY } from "./crawl.ts";

export interface DiscoverOptions {
  filter: CardFilter;
  cache: DiscoveryCache;
  /** Crawl every repository and write the index anew from what was found. */
  refresh?: boolean;
  /** Crawl every repository, whatever the index says; nothing is written. */
  crawl?: boolean;
  /** Trust the index alone: no tag is checked, no verification record asked for. */
  indexOnly?: boolean;
}

export interface Discovery {
  /** Where the cards came from: the index (checked against the registry unless indexOnly), or a crawl. */
  source: "index" | "index-only" | "crawl";
  /** Why there was a crawl: asked for, no index, or an index that cannot be read. */
  crawled?: string;
  entries: CardEntry[];
  /** Repository and digest of each card with a passing verification record; undefined when not asked (indexOnly). */
  verified?: Set<string>;
  /** Repositories the index had out of date (tags moved, gone or new). */
  stale: string[];
  /** Cards that could not be read, one line each. */
  problems: string[];
  /** Cards fetched because nothing known had their manifest digest. */
  fetched: number;
  /** The index as read, where one was. */
  index?: Index;
}

export const verifiedKey = (entry: CardEntry) => `${entry.repository}@${entry.manifest.digest}`;

/** Whether a card has a passing verification record; null where that was not asked (indexOnly). */
export const verifiedOf = (found: Discovery) => (entry: CardEntry) => found.verified ? found.verified.has(verifiedKey(entry)) : null;

/**
 * The one JSON form of what discovery found, `discover --json`'s and the service's `GET /agents`:
 * where the cards came from, and `entries` (those a search selected; all by default) as cards.
 */
export function discoveryJson(
  registry: string,
  found: Discovery,
  entries = found.entries,
  verified = verifiedOf(found),
  /** Of a page: how many cards the search selected in all, and the link to the next page (null: the last). */
  { total, next }: { total: number; next: string | null } = { total: entries.length, next: null },
) {
  return {
    registry,
    source: found.source,
    ...(found.crawled && { crawled: found.crawled }),
    stale: found.stale,
    total,
    next,
    cardsFetched: found.fetched,
    cards: entries.map((entry) => entryJson(entry, verified(entry))),
    problems: found.problems,
  };
}

/**
 * Which cards have a passing verification record for their exact manifest digest (lib/verification.ts).
 * Where the registry keeps referrers under `sha256-<hex>` tags, a card whose tag list lacks that tag
 * has none, and costs no request. Whether it has the referrers API is asked once: a registry
 * offers it for all its repositories or for none.
 */
export async function verifiedCards(registry: Registry, entries: CardEntry[], tags: Map<string, Set<string>>): Promise<Set<string>> {
  const verified = new Set<string>();
  const unique = [...new Map(entries.map((entry) => [verifiedKey(entry), entry])).values()];
  let referrersApi: Promise<boolean> | undefined;
  await mapLimit(unique, CRAWL_CONCURRENCY, async (entry) => {
    const repository = registry.repository(entry.repository);
    const listed = tags.get(entry.repository);
    if (listed && !listed.has(referrersTag(entry.manifest.digest)) && !(await (referrersApi ??= hasReferrersApi(repository)))) return;
    if (await isVerified(repository, entry.manifest.digest)) verified.add(verifiedKey(entry));
  });
  return verified;
}

/** Each repository's tags and their digests, as one comparable string. */
function fingerprints(entries: CardEntry[]): Map<string, string> {
  const tags = new Map<string, string[]>();
  for (const entry of entries) {
    if (!tags.has(entry.repository)) tags.set(entry.repository, []);
    tags.get(entry.repository)!.push(`${entry.tag}@${entry.manifest.digest}`);
  }
  return new Map([...tags].map(([repository, list]) => [repository, list.sort().join(" ")]));
}

/** The repositories whose cards differ between two lists of entries. */
function changedRepositories(repositories: string[], before: CardEntry[], after: CardEntry[]): string[] {
  const [was, is] = [fingerprints(before), fingerprints(after)];
  return repositories.filter((repository) => was.get(repository) !== is.get(repository));
}

/** Selections of more repositories than this are looked up in the catalog first: one page of it lists as many. */
const CATALOG_LOOKUP = 1000;

/** A registry's repositories, or undefined where it offers no catalog. */
const catalogOf = (registry: Registry) =>
  collect(registry.catalog()).catch((error) => {
    if (isOciError(error, "unsupported")) return undefined;
    throw error;
  });

/**
 * The cards of `repositories` as the registry has them now (one tag list each, one manifest per
 * tag, cards the index knows by digest not fetched), and which repositories the index has wrong.
 * Past CATALOG_LOOKUP repositories the catalog is read first: those it does not list are dropped
 * without a request each, and those it lists that the index does not know are crawled too.
 */
async function checkRepositories(registry: Registry, indexed: CardEntry[], repositories: string[], cache: DiscoveryCache) {
  let wanted = repositories;
  const listed = repositories.length > CATALOG_LOOKUP ? await catalogOf(registry) : undefined;
  if (listed) {
    const [exists, known] = [new Set(listed), new Set(indexed.map((entry) => entry.repository))];
    wanted = [...repositories.filter((name) => exists.has(name)), ...listed.filter((name) => name !== INDEX_REPOSITORY && !known.has(name))];
  }
  const summaries = new Map<string, CardSummary>(indexed.map((entry) => [entry.manifest.digest, entry.card]));
  const found = await crawl(registry, { repositories: wanted, cache, known: (digest) => summaries.get(digest) });
  const checked = [...new Set([...repositories, ...wanted])];
  return { ...found, repositories: checked, stale: changedRepositories(checked, indexed, found.entries) };
}

export async function discover(registry: Registry, options: DiscoverOptions): Promise<Discovery> {
  const { filter, cache } = options;
  const problems: string[] = [];
  let index;
  if (!options.refresh && !options.crawl) {
    index = await readIndex(registry, cache).catch((error) => {
      if (!isUnusableIndex(error)) throw error;
      problems.push(error.message);
      return undefined;
    });
  }
  if (!index) {
    const found = await crawl(registry, { cache, skip: INDEX_REPOSITORY });
    await cache.keepOnly(found.digests);
    if (options.refresh) await rebuildIndex(registry, found.entries, found.manifests, cache);
    const entries = found.entries.filter((entry) => matches(entry, filter));
    return {
      source: "crawl",
      crawled: options.refresh ? "--refresh" : options.crawl ? "--crawl" : problems.length > 0 ? "unreadable index" : "no index",
      entries,
      verified: await verifiedCards(registry, entries, found.tags),
      stale: [],
      problems: [...problems, ...found.problems],
      fetched: found.fetched,
    };
  }
  if (options.indexOnly) {
    return { source: "index-only", entries: index.entries.filter((entry) => matches(entry, filter)), stale: [], problems: index.problems, fetched: 0, index };
  }
  // Tags are what the check looks at, so a repository is checked when any of its tags matches the
  // rest of the search: a tag the index lacks (pushed or copied behind its back) is then found.
  const repositories = [...new Set(index.entries.filter((entry) => matches(entry, { ...filter, tag: undefined })).map((entry) => entry.repository))];
  const found = await checkRepositories(registry, index.entries, repositories, cache);
  const entries = found.entries.filter((entry) => matches(entry, filter));
  return {
    source: "index",
    entries,
    verified: await verifiedCards(registry, entries, found.tags),
    stale: found.stale,
    problems: [...index.problems, ...found.problems],
    fetched: found.fetched,
    index,
  };
}

/**
 * Every card, `previous` (a discovery of every card) brought up to date with the index as it is
 * now: only the repositories whose entries changed since are checked, so a publish costs the
 * check of one repository. Where either has no index to compare, everything is discovered anew.
 */
export async function recheck(registry: Registry, previous: Discovery, cache: DiscoveryCache): Promise<Discovery> {
  const index = await readIndex(registry, cache).catch((error) => {
    if (!isUnusableIndex(error)) throw error;
    return undefined;
  });
  if (index?.digest === previous.index?.digest) return previous;
  if (!index || !previous.index || previous.source !== "index") return await discover(registry, { filter: {}, cache });
  const all = [...new Set([...previous.index.entries, ...index.entries].map((entry) => entry.repository))];
  const found = await checkRepositories(registry, index.entries, changedRepositories(all, previous.index.entries, index.entries), cache);
  const checked = new Set(found.repositories);
  const kept = previous.entries.filter((entry) => !checked.has(entry.repository));
  const verified = await verifiedCards(registry, found.entries, found.tags);
  return {
    source: "index",
    entries: [...kept, ...found.entries].sort(byAgentAndTag),
    verified: new Set([...kept.map(verifiedKey).filter((key) => previous.verified?.has(key)), ...verified]),
    stale: [...previous.stale.filter((repository) => !checked.has(repository)), ...found.stale],
    problems: [...index.problems, ...found.problems],
    fetched: found.fetched,
    index,
  };
}
