// Discovery: which agent cards a registry holds. The index is read first; the cards a search
// selects are checked against their repositories (one tag list each, one manifest per tag), and
// repositories the index has wrong are shown as the registry has them. Without an index, or
// when asked, every repository is crawled. What is shown of a card comes from the index only when
// a trusted key signed it (and VERIFY is not require); else from the card's own bytes, proven by
// digest, whose signatures VERIFY then judges: a card it refuses is a problem, not a card. A card
// is shown as verified only for a verification record that counts (lib/verification.ts) and a
// card the registry still serves intact.
import { mapLimit } from "../concurrency.ts";
import { isOciError } from "../oci/errors.ts";
import { hasReferrersApi, referrersTag } from "../oci/referrers.ts";
import { collect, type Registry, type Repository } from "../oci/registry.ts";
import { isContentFailure } from "../errors.ts";
import type { SigningKey } from "../trust/keys.ts";
import { admits, type CardTrust, describeTrust, type Policy } from "../trust/signatures.ts";
import type { TrustStore } from "../trust/store.ts";
import { type Verification, verificationOf } from "../verification.ts";
import { byAgentAndTag, type CardEntry, type CardFilter, type CardSummary, entryJson, matches } from "./card-entry.ts";
import { type Index, INDEX_REPOSITORY, isUnusableIndex, readIndex, rebuildIndex } from "./catalog-index.ts";
import { cardLayer, cardListed, crawl, CRAWL_CONCURRENCY, fetchCard, type Reading } from "./crawl.ts";

/**
 * VERIFY as discovery applies it to the cards whose bytes it reads, and what is said of a card it
 * refuses: the step's words (lib/step/trust.ts), which name what to do.
 */
export interface CardPolicy {
  verify: Policy;
  refusal: (host: string, entry: CardEntry, trust: CardTrust) => string;
}

/** A reading whose verification records and index are checked against `trust`, and whose cards' signatures too, under `policy`. */
type Checked = Reading & { trust: TrustStore; policy: CardPolicy };

export interface DiscoverOptions extends Checked {
  filter: CardFilter;
  /** Crawl every repository and write the index anew from what was found. */
  refresh?: boolean;
  /** Crawl every repository, whatever the index says; nothing is written. */
  crawl?: boolean;
  /** Trust the index alone: no tag is checked, no verification record asked for. */
  indexOnly?: boolean;
  /** Signs the index a refresh writes. */
  signer?: SigningKey;
}

export interface Discovery {
  /** Where the cards came from: the index (checked against the registry unless indexOnly), or a crawl. */
  source: "index" | "index-only" | "crawl";
  /** Why there was a crawl: asked for, no index, or an index that cannot be read. */
  crawled?: string;
  entries: CardEntry[];
  /** Whether each card (by repository and digest) counts as verified, and why; undefined when not asked (indexOnly). */
  verified?: Map<string, Verification>;
  /** Repositories the index had out of date (tags moved, gone or new). */
  stale: string[];
  /** Cards that could not be read, or that VERIFY refused, one line each. */
  problems: string[];
  /** Cards fetched because nothing known had their manifest digest. */
  fetched: number;
  /** The index as read, where one was. */
  index?: Index;
}

export const verifiedKey = (entry: CardEntry) => `${entry.repository}@${entry.manifest.digest}`;

/** Whether a card counts as verified, and why; null where that was not asked (indexOnly). */
export const verifiedOf = (found: Discovery) => (entry: CardEntry): Verification | null => found.verified?.get(verifiedKey(entry)) ?? null;

/** Whether the index's summaries were shown under `policy`, in a few words: only when a trusted key signed it, and VERIFY is not require. */
export const indexTrustText = (index: Index, policy: Policy) =>
  !isTrusted(index)
    ? `each card shown as its own bytes say, as the index is not signed by a trusted key (${describeTrust(index.signature)})`
    : policy === "require"
    ? `each card shown as its own bytes say, as VERIFY=require checks each card's signature; the index is ${describeTrust(index.signature)}`
    : `its summaries shown, ${describeTrust(index.signature)}`;

/** The index discovery read, and whether its summaries were believed: only when a trusted key signed it. */
const indexJson = (index?: Index) =>
  index ? { digest: index.digest, trusted: index.signature.status === "verified", signature: describeTrust(index.signature) } : null;

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
    index: indexJson(found.index),
  };
}

const NO_RECORD: Verification = { verified: false, reason: "no verification record" };

/**
 * A verified card's verdict once the registry's copy of the card is read again: a record proves
 * what was verified, not that the registry still serves it, so bytes that no longer hash to the
 * card's digest (storage edited behind the registry's back) undo it.
 */
async function stillServed(repository: Repository, entry: CardEntry, verdict: Verification): Promise<Verification> {
  try {
    let { layer } = entry;
    if (!layer) {
      const { descriptor, bytes } = await repository.fetchManifest(entry.manifest.digest);
      layer = cardLayer(repository.reference(entry.manifest.digest), bytes, descriptor.mediaType)?.layer;
    }
    if (layer) await fetchCard(repository, layer);
    return layer ? verdict : { verified: false, reason: `${repository.reference(entry.manifest.digest)} holds no agent card` };
  } catch (error) {
    if (!isContentFailure(error)) throw error;
    return { verified: false, reason: `the registry no longer serves what was verified: ${(error as Error).message}` };
  }
}

/**
 * Whether each card counts as verified (lib/verification.ts), and why. Where the registry keeps
 * referrers under `sha256-<hex>` tags, a card whose tag list lacks that tag has no record, and
 * costs no request. Whether it has the referrers API is asked once: a registry offers it for all
 * its repositories or for none. A card with a record that counts is read once more, to see that
 * the registry still serves it intact.
 */
export async function verifiedCards(registry: Registry, entries: CardEntry[], tags: Map<string, Set<string>>, trust: TrustStore): Promise<Map<string, Verification>> {
  const verified = new Map<string, Verification>();
  const unique = [...new Map(entries.map((entry) => [verifiedKey(entry), entry])).values()];
  let referrersApi: Promise<boolean> | undefined;
  await mapLimit(unique, CRAWL_CONCURRENCY, async (entry) => {
    const repository = registry.repository(entry.repository);
    const listed = tags.get(entry.repository);
    let verdict = NO_RECORD;
    if (!listed || listed.has(referrersTag(entry.manifest.digest)) || (await (referrersApi ??= hasReferrersApi(repository)))) {
      verdict = await verificationOf(repository, entry.manifest.digest, trust);
      if (verdict.verified) verdict = await stillServed(repository, entry, verdict);
    }
    verified.set(verifiedKey(entry), verdict);
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
 * tag; where the index is `trusted`, cards it knows by digest are not read), and which
 * repositories the index has wrong.
 * Past CATALOG_LOOKUP repositories the catalog is read first: those it does not list are dropped
 * without a request each, and those it lists that the index does not know are crawled too.
 */
async function checkRepositories(registry: Registry, index: Index, repositories: string[], reading: Checked) {
  const indexed = index.entries;
  let wanted = repositories;
  const listed = repositories.length > CATALOG_LOOKUP ? await catalogOf(registry) : undefined;
  if (listed) {
    const [exists, known] = [new Set(listed), new Set(indexed.map((entry) => entry.repository))];
    wanted = [...repositories.filter((name) => exists.has(name)), ...listed.filter((name) => name !== INDEX_REPOSITORY && !known.has(name))];
  }
  const summaries = new Map<string, CardSummary>(believed(index, reading.policy) ? indexed.map((entry) => [entry.manifest.digest, entry.card]) : []);
  const found = await crawl(registry, { repositories: wanted, reading: cardReading(reading), known: (digest) => summaries.get(digest) });
  const checked = [...new Set([...repositories, ...wanted])];
  return { ...found, repositories: checked, stale: changedRepositories(checked, indexed, found.entries) };
}

/** Whether the index's own summaries may be shown: a key of the trust store signed it. */
const isTrusted = (index: Index) => index.signature.status === "verified";

/**
 * Whether the index's summaries stand for the cards under `policy`. A trusted index is written
 * only from cards whose signatures were not proven wrong (a refresh with KEY leaves those out,
 * push and publish with KEY sign the cards they list), which is what if-present asks; require asks
 * more of each card than its signer's index says, so each card's own bytes are read then.
 */
const believed = (index: Index, { verify }: CardPolicy) => isTrusted(index) && verify !== "require";

/** How discovery reads cards: their signatures checked unless VERIFY is off. */
const cardReading = ({ cache, trust, fresh, policy }: Checked): Reading => ({ cache, fresh, trust: policy.verify === "off" ? undefined : trust });

/**
 * The entries that match `filter` and that `policy` lets through, and a problem for each it
 * refuses. One whose signatures were not checked (a trusted index gave it, or VERIFY=off) goes through.
 */
export function admitted(host: string, entries: CardEntry[], policy: CardPolicy, filter: CardFilter = {}): { entries: CardEntry[]; problems: string[] } {
  const shown: CardEntry[] = [];
  const problems: string[] = [];
  for (const entry of entries.filter((entry) => matches(entry, filter))) {
    if (!entry.trust || admits(policy.verify, entry.trust)) shown.push(entry);
    else problems.push(policy.refusal(host, entry, entry.trust));
  }
  return { entries: shown, problems };
}

/**
 * The cards an index lists, as their own bytes say (fetched by digest, or kept in the cache), the
 * tags as the index says: what an index-only search can show of an index no trusted key signed.
 */
async function provenListing(registry: Registry, index: Index, reading: Checked) {
  const problems: string[] = [];
  let fetched = 0;
  const read = await mapLimit(index.entries, CRAWL_CONCURRENCY, async (listed) => {
    try {
      const found = await cardListed(registry, listed, cardReading(reading));
      if (found.fetched) fetched++;
      if (!found.entry) problems.push(`${registry.host}/${listed.repository}@${listed.manifest.digest}, listed by the index as ${listed.tag}, holds no agent card`);
      return found.entry;
    } catch (error) {
      if (!isContentFailure(error) && !isOciError(error, "not-found")) throw error;
      problems.push(`${registry.host}/${listed.repository}:${listed.tag}, as the index lists it: ${(error as Error).message}`);
      return undefined;
    }
  });
  return { entries: read.filter((entry) => entry !== undefined), problems, fetched };
}

export async function discover(registry: Registry, options: DiscoverOptions): Promise<Discovery> {
  const { filter, cache, trust, policy } = options;
  const reading: Checked = { cache, trust, policy, fresh: options.refresh };
  const problems: string[] = [];
  let index;
  if (!options.refresh && !options.crawl) {
    index = await readIndex(registry, trust, cache).catch((error) => {
      if (!isUnusableIndex(error)) throw error;
      problems.push(error.message);
      return undefined;
    });
  }
  if (!index) {
    const found = await crawl(registry, { reading: cardReading(reading), skip: INDEX_REPOSITORY });
    await cache.keepOnly(found.digests);
    // A card whose signature proves it changed since it was signed is not put in an index a key
    // vouches for (every policy that checks signatures refuses it, so it is among the problems);
    // the rest go in whatever this reader's policy shows, as the index is everyone's.
    if (options.refresh) {
      await rebuildIndex(registry, found.entries.filter((entry) => entry.trust?.status !== "invalid"), found.manifests, cache, options.signer);
    }
    const { entries, problems: refused } = admitted(registry.host, found.entries, policy, filter);
    return {
      source: "crawl",
      crawled: options.refresh ? "--refresh" : options.crawl ? "--crawl" : problems.length > 0 ? "unreadable index" : "no index",
      entries,
      verified: await verifiedCards(registry, entries, found.tags, trust),
      stale: [],
      problems: [...problems, ...found.problems, ...refused],
      fetched: found.fetched,
    };
  }
  if (options.indexOnly) {
    const listed = believed(index, policy) ? { entries: index.entries, problems: [], fetched: 0 } : await provenListing(registry, index, reading);
    const { entries, problems: refused } = admitted(registry.host, listed.entries, policy, filter);
    return { source: "index-only", entries, stale: [], problems: [...index.problems, ...listed.problems, ...refused], fetched: listed.fetched, index };
  }
  // Tags are what the check looks at, so a repository is checked when any of its tags matches the
  // rest of the search: a tag the index lacks (pushed or copied behind its back) is then found.
  const repositories = [...new Set(index.entries.filter((entry) => matches(entry, { ...filter, tag: undefined })).map((entry) => entry.repository))];
  const found = await checkRepositories(registry, index, repositories, reading);
  const { entries, problems: refused } = admitted(registry.host, found.entries, policy, filter);
  return {
    source: "index",
    entries,
    verified: await verifiedCards(registry, entries, found.tags, trust),
    stale: found.stale,
    problems: [...index.problems, ...found.problems, ...refused],
    fetched: found.fetched,
    index,
  };
}

/**
 * Every card, `previous` (a discovery of every card) brought up to date with the index as it is
 * now: only the repositories whose entries changed since are checked, so a publish costs the
 * check of one repository. Where either has no index to compare, everything is discovered anew.
 */
export async function recheck(registry: Registry, previous: Discovery, reading: Checked): Promise<Discovery> {
  const { cache, trust, policy } = reading;
  const index = await readIndex(registry, trust, cache).catch((error) => {
    if (!isUnusableIndex(error)) throw error;
    return undefined;
  });
  if (index?.digest === previous.index?.digest) return previous;
  if (!index || !previous.index || previous.source !== "index") return await discover(registry, { filter: {}, cache, trust, policy });
  const all = [...new Set([...previous.index.entries, ...index.entries].map((entry) => entry.repository))];
  const found = await checkRepositories(registry, index, changedRepositories(all, previous.index.entries, index.entries), reading);
  const checked = new Set(found.repositories);
  const kept = previous.entries.filter((entry) => !checked.has(entry.repository));
  // Each problem of a card begins with its reference (host/repository:tag or @digest): those of the repositories not checked again still hold.
  const aboutUnchecked = (problem: string) =>
    problem.startsWith(`${registry.host}/`) && !checked.has(problem.slice(registry.host.length + 1).split(/[:@]/)[0]);
  const indexProblems = new Set(previous.index.problems);
  const keptProblems = previous.problems.filter((problem) => !indexProblems.has(problem) && aboutUnchecked(problem));
  const shown = admitted(registry.host, found.entries, policy);
  const verified = await verifiedCards(registry, shown.entries, found.tags, trust);
  return {
    source: "index",
    entries: [...kept, ...shown.entries].sort(byAgentAndTag),
    verified: new Map([...kept.map((entry) => [verifiedKey(entry), previous.verified?.get(verifiedKey(entry)) ?? NO_RECORD] as const), ...verified]),
    stale: [...previous.stale.filter((repository) => !checked.has(repository)), ...found.stale],
    problems: [...index.problems, ...keptProblems, ...found.problems, ...shown.problems],
    fetched: found.fetched,
    index,
  };
}
