// Finding agent cards the slow way: every repository of the catalog, every tag, every manifest.
// A card's own blob is fetched only when no earlier run (the cache) or the index knows its
// manifest digest. Anything that is not an agent card is passed over without a word.
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
import type { DiscoveryCache, Outcome } from "./cache.ts";
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

async function classify(repository: Repository, subject: string, bytes: Uint8Array, mediaType: string): Promise<Outcome> {
  const card = cardLayer(subject, bytes, mediaType);
  if (!card) return { kind: "other" };
  const summary = summariseCard(await fetchCard(repository, card.layer), subject);
  if ("problem" in summary) throw new OciError("invalid-content", summary.problem, { subject });
  return { kind: "card", card: summary.summary };
}

/**
 * The card a tag holds, or no entry for anything else, and the manifest's bytes. Its manifest is
 * always read (that is how a moved tag shows); the card itself only when neither `known` nor the
 * cache knows the digest.
 */
export async function cardAt(
  repository: Repository,
  tag: string,
  cache: DiscoveryCache,
  known?: (digest: string) => CardSummary | undefined,
): Promise<{ entry?: CardEntry; fetched: boolean; digest: string; bytes: Uint8Array }> {
  const { descriptor, bytes } = await repository.fetchManifest(tag);
  const knownCard = known?.(descriptor.digest);
  const { outcome, learnt } = knownCard
    ? { outcome: { kind: "card", card: knownCard } as Outcome, learnt: false }
    : await cache.outcome(descriptor.digest, () => classify(repository, repository.reference(tag), bytes, descriptor.mediaType));
  const fetched = learnt && outcome.kind === "card";
  const { digest } = descriptor;
  if (outcome.kind !== "card") return { fetched, digest, bytes };
  const manifest = { mediaType: descriptor.mediaType, digest, size: descriptor.size };
  return { entry: { repository: repository.name, tag, manifest, card: outcome.card }, fetched, digest, bytes };
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
  /** The digest of every manifest read, card or not. */
  digests: Set<string>;
  /** The bytes of every card manifest read, by digest: copying them into the index needs no second read. */
  manifests: Map<string, Uint8Array>;
}

/**
 * Every agent card in `repositories` (the whole catalog by default, less the index's own
 * repository). `known` answers for manifests read before: the cache, and the index's entries.
 */
export async function crawl(
  registry: Registry,
  options: { repositories?: string[]; cache: DiscoveryCache; known?: (digest: string) => CardSummary | undefined; skip?: string },
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
      const read = await cardAt(repository, tag, options.cache, options.known);
      if (read.fetched) fetched++;
      digests.add(read.digest);
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
