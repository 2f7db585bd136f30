// Finding agent cards the slow way: every repository of the catalog, every tag, every manifest.
// What discovery shows of a card comes from its bytes, proven by digest: a card's own blob is
// fetched only when no earlier run kept those bytes (the cache), and not at all where a trusted
// index gives its summary. Anything that is not an agent card is passed over without a word.
import { mapLimit } from "../concurrency.ts";
import { parseImageManifest } from "../oci/artifacts.ts";
import { DIGEST_PATTERN, sha256Digest } from "../oci/digest.ts";
import { isOciError, OciError } from "../oci/errors.ts";
import type { Descriptor, ImageManifest } from "../oci/manifest.ts";
import { REPOSITORY_PATTERN, TAG_PATTERN } from "../oci/reference.ts";
import { collect, type Registry, type Repository } from "../oci/registry.ts";
import { readLimited } from "../oci/transport.ts";
import { CARD_TYPE, MAX_CARD_BYTES } from "../cards.ts";
import { isContentFailure } from "../errors.ts";
import { verifyCard } from "../trust/signatures.ts";
import type { TrustStore } from "../trust/store.ts";
import type { DiscoveryCache } from "./cache.ts";
import { byAgentAndTag, type CardEntry, type CardSummary, summariseCard } from "./card-entry.ts";

/** Requests in flight at once: measured against Distribution on 2 cores, 16 and 32 were no faster. */
export const CRAWL_CONCURRENCY = 8;

/**
 * A card manifest and its one layer, or undefined when the manifest holds something other than
 * an agent card: another artifactType (the config's media type where an older client wrote
 * none), an image, an index. A manifest typed as a card that is not one is an error.
 */
export function cardLayer(subject: string, bytes: Uint8Array, mediaType: string): { manifest: ImageManifest; layer: Descriptor } | undefined {
  let manifest;
  try {
    manifest = parseImageManifest(subject, bytes, mediaType);
  } catch (error) {
    if (isOciError(error, "invalid-content") && error.details.reason === "unexpected-media-type") return undefined;
    throw error;
  }
  if ((manifest.artifactType ?? manifest.config.mediaType) !== CARD_TYPE) return undefined;
  if (manifest.layers.length !== 1) {
    throw new OciError("invalid-content", `${subject} is typed as an agent card but holds ${manifest.layers.length} layers, not one card`, { subject });
  }
  return { manifest, layer: manifest.layers[0] };
}

/** A card's bytes, proven to be the ones its layer descriptor names. */
export async function fetchCard(repository: Repository, layer: Descriptor): Promise<Uint8Array> {
  const what = `the card ${layer.digest} in ${repository.reference()}`;
  if (layer.size > MAX_CARD_BYTES) {
    throw new OciError("too-large", `${what} is ${layer.size.toLocaleString("en-US")} bytes; a card may be at most ${MAX_CARD_BYTES.toLocaleString("en-US")}`, { subject: what });
  }
  const bytes = await readLimited(await repository.fetchBlob(layer.digest), layer.size, what);
  if (bytes.byteLength !== layer.size || sha256Digest(bytes) !== layer.digest) {
    throw new OciError("invalid-content", `${what} does not match its descriptor: got ${bytes.byteLength} bytes with digest ${sha256Digest(bytes)}`, {
      subject: what,
      reason: "digest-mismatch",
    });
  }
  return bytes;
}

/** A `sha256-<hex>` tag: where registries without the referrers API keep a manifest's referrers. */
export const isReferrersTag = (tag: string) => DIGEST_PATTERN.test(tag.replace("-", ":"));

/** How a card's bytes are come by: the cache, read afresh where `fresh`, and the keys its signatures are checked against (none: not checked). */
export interface Reading {
  cache: DiscoveryCache;
  trust?: TrustStore;
  /** Read every card from the registry, whatever the cache keeps (still kept for next time). */
  fresh?: boolean;
}

/**
 * The card of a card manifest `descriptor` with these `bytes` (proven by the caller), worked out
 * from the card's own bytes: kept ones when they hash to the digest the manifest names, else
 * fetched. Undefined `entry` for a manifest that holds something else. The manifest is kept too,
 * so that a card the index names by digest needs no request next time.
 */
async function cardFrom(
  repository: Repository,
  tag: string,
  { descriptor, bytes }: { descriptor: Descriptor; bytes: Uint8Array },
  reading: Reading,
  known?: CardSummary,
): Promise<{ entry?: CardEntry; fetched: boolean }> {
  const subject = repository.reference(tag);
  const card = cardLayer(subject, bytes, descriptor.mediaType);
  if (!card) return { fetched: false };
  await reading.cache.keep(descriptor.digest, bytes);
  const { layer } = card;
  const entry = { repository: repository.name, tag, manifest: { mediaType: descriptor.mediaType, digest: descriptor.digest, size: descriptor.size }, layer };
  if (known) return { entry: { ...entry, card: known }, fetched: false };
  const read = await reading.cache.bytes(layer.digest, () => fetchCard(repository, layer), reading.fresh);
  if (read.bytes.byteLength !== layer.size) {
    throw new OciError("invalid-content", `${subject}: the card ${layer.digest} has ${read.bytes.byteLength} bytes, not the ${layer.size} its manifest says`, { subject });
  }
  const summary = summariseCard(read.bytes, subject);
  if ("problem" in summary) throw new OciError("invalid-content", summary.problem, { subject });
  const trust = reading.trust && await verifyCard(summary.card, reading.trust, { registry: repository.registry.host, repository: repository.name });
  return { entry: { ...entry, card: summary.summary, ...(trust && { trust }) }, fetched: read.fetched };
}

/**
 * The card a tag holds, or no entry for anything else, and the manifest's bytes. Its manifest is
 * always read (that is how a moved tag shows); the card itself only when neither `known` (a
 * trusted index) nor the cache has it.
 */
export async function cardAt(
  repository: Repository,
  tag: string,
  reading: Reading,
  known?: (digest: string) => CardSummary | undefined,
): Promise<{ entry?: CardEntry; fetched: boolean; digest: string; bytes: Uint8Array }> {
  const manifest = await repository.fetchManifest(tag);
  const { digest } = manifest.descriptor;
  return { ...await cardFrom(repository, tag, manifest, reading, known?.(digest)), digest, bytes: manifest.bytes };
}

/**
 * The card the index lists as `entry`, worked out from its bytes, fetched by digest (from the
 * cache where kept): what an index that is not signed by a trusted key may still tell.
 */
export async function cardListed(registry: Registry, entry: CardEntry, reading: Reading): Promise<{ entry?: CardEntry; fetched: boolean }> {
  const repository = registry.repository(entry.repository);
  const { digest } = entry.manifest;
  const { bytes } = await reading.cache.bytes(digest, async () => (await repository.fetchManifest(digest)).bytes);
  return await cardFrom(repository, entry.tag, { descriptor: entry.manifest, bytes }, reading);
}

export interface Crawl {
  /** Every card found, by agent and tag. */
  entries: CardEntry[];
  /** Every tag of every repository crawled, referrers tags too. */
  tags: Map<string, Set<string>>;
  /** Cards that could not be read or fail their schema, one line each. */
  problems: string[];
  /** How many cards were fetched because nothing known had their manifest digest. */
  fetched: number;
  /** The digest of every manifest read, card or not, and of every card. */
  digests: Set<string>;
  /** The bytes of every card manifest read, by digest: copying them into the index needs no second read. */
  manifests: Map<string, Uint8Array>;
}

/**
 * Every agent card in `repositories` (the whole catalog by default, less the index's own
 * repository). `known` gives the summaries of a trusted index's entries.
 */
export async function crawl(
  registry: Registry,
  options: { repositories?: string[]; reading: Reading; known?: (digest: string) => CardSummary | undefined; skip?: string },
): Promise<Crawl> {
  const problems: string[] = [];
  const tags = new Map<string, Set<string>>();
  const repositories = options.repositories ?? (await collect(registry.catalog())).filter((name) => name !== options.skip);
  const tagged = (await mapLimit(repositories, CRAWL_CONCURRENCY, async (name) => {
    // Names come from the registry; only valid ones become requests.
    if (!REPOSITORY_PATTERN.test(name)) {
      problems.push(`${registry.host}/${name}: not a valid repository name; passed over`);
      return [];
    }
    const repository = registry.repository(name);
    try {
      const listed = await collect(repository.tags());
      tags.set(name, new Set(listed));
      // A `sha256-<hex>` tag holds the referrers of that manifest (signatures, verification records), never a card.
      return listed.filter((tag) => TAG_PATTERN.test(tag) && !isReferrersTag(tag)).map((tag) => ({ repository, tag }));
    } catch (error) {
      if (isOciError(error, "not-found")) return []; // deleted since the catalog was read
      throw error;
    }
  })).flat();

  let fetched = 0;
  const digests = new Set<string>();
  const manifests = new Map<string, Uint8Array>();
  const found = await mapLimit(tagged, CRAWL_CONCURRENCY, async ({ repository, tag }): Promise<CardEntry | undefined> => {
    try {
      const read = await cardAt(repository, tag, options.reading, options.known);
      if (read.fetched) fetched++;
      digests.add(read.digest);
      if (read.entry?.layer) digests.add(read.entry.layer.digest);
      if (read.entry) manifests.set(read.digest, read.bytes);
      return read.entry;
    } catch (error) {
      if (isOciError(error, "not-found")) return undefined; // the tag went away meanwhile
      if (!isContentFailure(error)) throw error;
      const subject = repository.reference(tag);
      problems.push(error.message.startsWith(subject) ? error.message : `${subject}: ${error.message}`);
      return undefined;
    }
  });
  return { entries: found.filter((entry) => entry !== undefined).sort(byAgentAndTag), tags, problems, fetched, digests, manifests };
}
