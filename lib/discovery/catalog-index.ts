// The discovery index: an OCI image index tagged `index` in the repository `agents`, listing
// every agent card of the registry with what discovery shows of it, so that a search reads a few
// manifests instead of every repository, tag and card. Any OCI tool reads it
// (`oras manifest fetch localhost:5000/agents:index`, `skopeo inspect --raw …`).
//
// It has two levels. The tagged index lists up to 64 shard indexes, by the first six bits of the
// sha256 of a card's repository name, and each shard lists its cards: one descriptor per card
// manifest, annotated with agent, tag, name, version, A2A version, URLs and skill ids. A single
// level would stop at about 6,400 cards (650 bytes each), where it reaches the 4 MiB registries
// accept for a manifest; and a registry checks every manifest an index lists when it is pushed,
// so a publish, which rewrites the shards of its cards, costs in proportion to a shard's size:
// 64 shards keep it at 160 cards at 10,000. Registries also accept an index only when every manifest it lists is in the
// same repository, so each listed card manifest is copied into `agents` (its blobs mounted).
//
// Anyone who can push can write an index, so its summaries are believed only when the tagged index
// carries a signature (A2A-style JWS over its RFC 8785 form, in `signatures`) by a key the
// reader's trust store holds for this repository. It names every shard by digest, so that one
// signature covers the shards and what they say of each card.
import { createHash } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { mapLimit } from "../concurrency.ts";
import { EnvironmentError } from "../errors.ts";
import { copyArtifact } from "../oci/artifacts.ts";
import { sha256Digest } from "../oci/digest.ts";
import { isOciError, OciError } from "../oci/errors.ts";
import { type Descriptor, encodeIndex, MEDIA_TYPE, parseIndex } from "../oci/manifest.ts";
import { REPOSITORY_PATTERN, TAG_PATTERN } from "../oci/reference.ts";
import type { Registry, Repository } from "../oci/registry.ts";
import { CARD_TYPE } from "../cards.ts";
import type { SigningKey } from "../trust/keys.ts";
import { type CardTrust, signDocument, verifyDocument } from "../trust/signatures.ts";
import type { TrustStore } from "../trust/store.ts";
import type { DiscoveryCache } from "./cache.ts";
import { AGENTS_NAMESPACE, brief, byAgentAndTag, type CardEntry } from "./card-entry.ts";
import { CRAWL_CONCURRENCY } from "./crawl.ts";

export const INDEX_REPOSITORY = AGENTS_NAMESPACE;
export const INDEX_TAG = "index";
export const INDEX_ARTIFACT_TYPE = "application/vnd.pallet.agent-card-index.v1+json";

/** The annotations of a card's descriptor. The tag is OCI's own ref.name. */
export const ANNOTATION = {
  repository: "dev.pallet.card.repository",
  tag: "org.opencontainers.image.ref.name",
  name: "dev.pallet.card.name",
  version: "dev.pallet.card.version",
  a2aVersion: "dev.pallet.card.a2a-version",
  /** JSON arrays of strings: a skill id or URL may hold any character. */
  urls: "dev.pallet.card.urls",
  skills: "dev.pallet.card.skills",
  description: "dev.pallet.card.description",
  shard: "dev.pallet.index.shard",
  cards: "dev.pallet.index.cards",
} as const;

/** Shard ids are two hex digits, 00 to 3f. */
const SHARDS = 64;
const SHARD_ID = /^[0-3][0-9a-f]$/;
/** Shards read or written at once. */
const SHARDS_AT_ONCE = 16;
/**
 * The most index discovery reads: its shards' sizes added up, about 25,000 cards of 650 bytes.
 * A larger one is refused before any shard is fetched, and discovery crawls instead.
 */
const MAX_INDEX_BYTES = 16 * 1024 * 1024;
export const shardOf = (repository: string) =>
  (createHash("sha256").update(repository).digest()[0] >> 2).toString(16).padStart(2, "0");

function cardDescriptor(entry: CardEntry): Descriptor {
  const { card } = entry;
  return {
    mediaType: entry.manifest.mediaType,
    digest: entry.manifest.digest,
    size: entry.manifest.size,
    annotations: {
      [ANNOTATION.repository]: entry.repository,
      [ANNOTATION.tag]: entry.tag,
      [ANNOTATION.name]: card.name,
      [ANNOTATION.version]: card.version,
      [ANNOTATION.a2aVersion]: card.a2aVersion,
      [ANNOTATION.urls]: JSON.stringify(card.urls),
      [ANNOTATION.skills]: JSON.stringify(card.skills),
      [ANNOTATION.description]: card.description,
    },
    artifactType: CARD_TYPE,
  };
}

function stringList(text: string | undefined): string[] | undefined {
  try {
    const list = JSON.parse(text ?? "");
    return Array.isArray(list) && list.every((item) => typeof item === "string") ? list : undefined;
  } catch {
    return undefined;
  }
}

/** A card's descriptor read back, or why it cannot be: the index is as untrusted as any registry content. */
function entryOf(descriptor: Descriptor): CardEntry | string {
  const get = (key: string) => descriptor.annotations?.[key];
  const [repository, tag, name, version, a2aVersion] = [
    get(ANNOTATION.repository),
    get(ANNOTATION.tag),
    get(ANNOTATION.name),
    get(ANNOTATION.version),
    get(ANNOTATION.a2aVersion),
  ];
  const [urls, skills] = [stringList(get(ANNOTATION.urls)), stringList(get(ANNOTATION.skills))];
  if (!repository || !REPOSITORY_PATTERN.test(repository) || !tag || !TAG_PATTERN.test(tag)) {
    return `the index lists ${descriptor.digest} without a valid repository and tag`;
  }
  if (name === undefined || version === undefined || (a2aVersion !== "0.3" && a2aVersion !== "1.0") || !urls || !skills) {
    return `the index entry of ${repository}:${tag} lacks the card's name, version, A2A version, URLs or skills`;
  }
  return {
    repository,
    tag,
    manifest: { mediaType: descriptor.mediaType, digest: descriptor.digest, size: descriptor.size },
    card: { name, version, description: brief(get(ANNOTATION.description) ?? ""), a2aVersion, urls, skills },
  };
}

/** What the tagged index says, with the entries of the shards that were read. */
export interface IndexState {
  /** The tagged index's digest; undefined when there is none yet. */
  digest?: string;
  /** Shard id -> the shard index's descriptor, for every shard. */
  shards: Map<string, Descriptor>;
  /** Shard id -> its cards, for the shards read. */
  entries: Map<string, CardEntry[]>;
  /** The shard ids asked for; undefined: all of them. */
  asked?: Set<string>;
  problems: string[];
  /** The tagged index as JSON, signatures and all. */
  document?: Record<string, unknown>;
}

/** A shard's bytes, from wherever a copy of them is kept, else `fetch`'s: a shard never changes under its digest. */
type ShardBytes = (digest: string, fetch: () => Promise<Uint8Array>) => Promise<Uint8Array>;

const shardBytesFrom = (cache?: DiscoveryCache): ShardBytes => (digest, fetch) => cache ? cache.shard(digest, fetch) : fetch();

const mebibytes = (bytes: number) => `${+(bytes / 1024 / 1024).toFixed(1)} MiB`;

/** An index discovery cannot use: not one, broken, or larger than it reads. Crawling does without it. */
export const isUnusableIndex = (error: unknown) => isOciError(error, "invalid-content") || isOciError(error, "too-large");

/** The tagged index and the shards asked for (all by default); no index is an empty state. */
async function readState(repository: Repository, only?: Set<string>, shardBytes: ShardBytes = shardBytesFrom()): Promise<IndexState> {
  const state: IndexState = { shards: new Map(), entries: new Map(), asked: only, problems: [] };
  let fetched;
  try {
    fetched = await repository.fetchManifest(INDEX_TAG);
  } catch (error) {
    if (isOciError(error, "not-found")) return state;
    throw error;
  }
  const subject = repository.reference(INDEX_TAG);
  const top = parseIndex(fetched.bytes, fetched.descriptor.mediaType);
  if (top.artifactType !== INDEX_ARTIFACT_TYPE) {
    throw new OciError("invalid-content", `${subject} is not a discovery index (its artifactType is ${JSON.stringify(top.artifactType ?? null)})`, {
      subject,
      reason: "not-an-index",
    });
  }
  const bytes = top.manifests.reduce((sum, shard) => sum + shard.size, 0);
  if (top.manifests.length > SHARDS || bytes > MAX_INDEX_BYTES) {
    throw new OciError(
      "too-large",
      `${subject} is ${mebibytes(bytes)} in ${top.manifests.length} shards; discovery reads an index of at most ${mebibytes(MAX_INDEX_BYTES)} in ${SHARDS}`,
      { subject },
    );
  }
  state.digest = fetched.descriptor.digest;
  state.document = top as unknown as Record<string, unknown>;
  for (const shard of top.manifests) {
    const id = shard.annotations?.[ANNOTATION.shard];
    if (id && SHARD_ID.test(id)) state.shards.set(id, shard);
    else if (id && /^[0-9a-f]$/.test(id)) throw new OciError("invalid-content", `${subject} has 16 shards, as an older version wrote it`, { subject });
    else state.problems.push(`${subject} lists ${shard.digest} without a shard number`);
  }
  const wanted = [...state.shards].filter(([id]) => !only || only.has(id));
  await mapLimit(wanted, SHARDS_AT_ONCE, async ([id, descriptor]) => {
    const bytes = await shardBytes(descriptor.digest, async () => (await repository.fetchManifest(descriptor.digest)).bytes);
    if (bytes.byteLength !== descriptor.size) {
      throw new OciError("invalid-content", `${subject} says its shard ${descriptor.digest} has ${descriptor.size} bytes, but it has ${bytes.byteLength}`, { subject });
    }
    const entries: CardEntry[] = [];
    for (const card of parseIndex(bytes, descriptor.mediaType).manifests) {
      const entry = entryOf(card);
      if (typeof entry === "string") state.problems.push(entry);
      else entries.push(entry);
    }
    state.entries.set(id, entries);
  });
  return state;
}

export interface Index {
  /** The tagged index's digest. */
  digest: string;
  entries: CardEntry[];
  /** Entries that could not be read, one line each. */
  problems: string[];
  /** What its signatures came to against the reader's trust store: its summaries count only when "verified". */
  signature: CardTrust;
}

/** A trust store with no keys: whoever signed the index, it is not believed. */
const NO_KEYS: TrustStore = { path: "(no trust store)", keys: [] };

/** Every card the index lists, and whether a key of `trust` signed it; undefined when the registry has no index. */
export async function readIndex(registry: Registry, trust = NO_KEYS, cache?: DiscoveryCache): Promise<Index | undefined> {
  const state = await readState(registry.repository(INDEX_REPOSITORY), undefined, shardBytesFrom(cache));
  if (!state.digest) return undefined;
  await cache?.keepShards([...state.shards.values()].map((shard) => shard.digest));
  const signature = await verifyDocument(state.document!, trust, { registry: registry.host, repository: INDEX_REPOSITORY });
  return { digest: state.digest, entries: [...state.entries.values()].flat().sort(byAgentAndTag), problems: state.problems, signature };
}

const shardIndex = (id: string, entries: CardEntry[]) =>
  encodeIndex({
    schemaVersion: 2,
    mediaType: MEDIA_TYPE.ociIndex,
    artifactType: INDEX_ARTIFACT_TYPE,
    manifests: [...entries].sort(byAgentAndTag).map(cardDescriptor),
    annotations: { [ANNOTATION.shard]: id },
  });

/**
 * Pushes the shards by digest (their cards must be in the repository already); returns their
 * descriptors, and hands each shard's bytes to `keep`.
 */
async function writeShards(
  repository: Repository,
  entries: Map<string, CardEntry[]>,
  keep: (digest: string, bytes: Uint8Array) => void | Promise<void> = () => {},
): Promise<Map<string, Descriptor>> {
  const written = new Map<string, Descriptor>();
  await mapLimit([...entries].filter(([, cards]) => cards.length > 0), SHARDS_AT_ONCE, async ([id, cards]) => {
    const bytes = shardIndex(id, cards);
    const descriptor = await repository.pushManifest(sha256Digest(bytes), bytes, MEDIA_TYPE.ociIndex);
    await keep(descriptor.digest, bytes);
    written.set(id, { ...descriptor, annotations: { [ANNOTATION.cards]: String(cards.length), [ANNOTATION.shard]: id }, artifactType: INDEX_ARTIFACT_TYPE });
  });
  return written;
}

/** The tagged index: its shards, and how many cards they list together; signed by `signer` where there is one. */
async function topIndex(shards: Map<string, Descriptor>, signer?: SigningKey): Promise<Uint8Array> {
  const manifests = [...shards].sort(([a], [b]) => a.localeCompare(b)).map(([, descriptor]) => descriptor);
  const cards = manifests.reduce((sum, shard) => sum + (Number(shard.annotations?.[ANNOTATION.cards]) || 0), 0);
  const bytes = encodeIndex({
    schemaVersion: 2,
    mediaType: MEDIA_TYPE.ociIndex,
    artifactType: INDEX_ARTIFACT_TYPE,
    manifests,
    annotations: { [ANNOTATION.cards]: String(cards) },
  });
  if (!signer) return bytes;
  const signed = await signDocument(JSON.parse(new TextDecoder().decode(bytes)), signer);
  return new TextEncoder().encode(JSON.stringify(signed));
}

const listedEntries = (state?: IndexState) => [...state?.entries.values() ?? []].flat();

/** The entry the index lists for a card manifest (under any tag), if it was among the shards read. */
export const listedEntry = (state: IndexState, digest: string) => listedEntries(state).find((entry) => entry.manifest.digest === digest);

/**
 * Copies each card manifest into the index's repository: an index may only list what its
 * repository holds. A card the index lists is there already (the registry accepted the index);
 * any other is copied without asking first, since a copy is idempotent.
 */
async function copyUnlisted(repository: Repository, entries: CardEntry[], state?: IndexState, manifests = new Map<string, Uint8Array>()) {
  const registry = repository.registry;
  const listed = new Set(listedEntries(state).map((entry) => entry.manifest.digest));
  const unique = [...new Map(entries.map((entry) => [entry.manifest.digest, entry])).values()];
  const copy = async ({ repository: source, manifest }: CardEntry) => {
    const bytes = manifests.get(manifest.digest);
    await copyArtifact(registry.repository(source), manifest.digest, repository, manifest.digest, { read: bytes && { descriptor: manifest, bytes } });
  };
  // The first copy alone: then the client knows which blobs the index's repository holds (the
  // empty config every card shares), and the others mount only their own.
  const [first, ...rest] = unique.filter((entry) => !listed.has(entry.manifest.digest));
  if (first) await copy(first);
  await mapLimit(rest, CRAWL_CONCURRENCY, copy);
}

/** A tag of a repository: what the index lists a card under. */
type Tagged = Pick<CardEntry, "repository" | "tag">;

const sameTag = (a: Tagged, b: Tagged) => a.repository === b.repository && a.tag === b.tag;

function byShard(entries: CardEntry[]): Map<string, CardEntry[]> {
  const shards = new Map<string, CardEntry[]>();
  for (const entry of entries) {
    const id = shardOf(entry.repository);
    if (!shards.has(id)) shards.set(id, []);
    shards.get(id)!.push(entry);
  }
  return shards;
}

/**
 * Replaces the whole index with these entries (a crawl's, with the bytes of the card manifests it
 * read), keeping its shards in `cache`. A card published while this runs can be left out; the
 * next publish or refresh puts it back.
 */
export async function rebuildIndex(
  registry: Registry,
  entries: CardEntry[],
  manifests: Map<string, Uint8Array>,
  cache: DiscoveryCache,
  signer?: SigningKey,
): Promise<string> {
  const repository = registry.repository(INDEX_REPOSITORY);
  const current = await readState(repository).catch((error) => {
    if (isUnusableIndex(error)) return undefined; // whatever stood there is replaced
    throw error;
  });
  await copyUnlisted(repository, entries, current, manifests);
  const shards = await writeShards(repository, byShard(entries), (digest, bytes) => cache.keepShard(digest, bytes));
  await cache.keepShards([...shards.values()].map((shard) => shard.digest));
  return (await repository.pushManifest(INDEX_TAG, await topIndex(shards, signer), MEDIA_TYPE.ociIndex)).digest;
}

/** Rounds of write-and-check before giving up on an index that other writers keep changing. */
const MAX_ROUNDS = 10;
/** The least time to wait after writing, before checking that no other writer overwrote it. */
const MIN_SETTLE_MS = 25;

/**
 * Whether an update signed by `signer` may sign: where there is no index yet, or the index it
 * starts from carries that key's signature. Signing an index someone else wrote would vouch for
 * the summaries it keeps, which nobody checked; that one is written unsigned (a refresh with the
 * key rebuilds and signs it from the cards).
 */
async function maySign(state: IndexState, signer: SigningKey, host: string): Promise<boolean> {
  if (!state.document) return true;
  const own: TrustStore = { path: "KEY", keys: [{ kid: signer.kid, jwk: signer.publicJwk, scope: { registry: host }, source: "KEY" }] };
  return (await verifyDocument(state.document, own, { registry: host, repository: INDEX_REPOSITORY })).status === "verified";
}

/** Updates through one client, one after another: they would only race each other. */
const queues = new WeakMap<Registry, Promise<unknown>>();

/** What an update may start from, besides its entries. */
export interface UpdateOptions {
  /** The index as read just before (readListing). */
  listing?: IndexState;
  /** Where shards are kept between runs. */
  cache?: DiscoveryCache;
  /** Card manifests' bytes by digest, as Repository.fetchManifest gave them moments ago: not fetched again to copy them. */
  manifests?: Map<string, Uint8Array>;
  /** Tags to take out of the index: their cards were untagged. */
  dropped?: Tagged[];
  /** Signs the index written (an unsigned one is read as the cards say, not as it says). */
  signer?: SigningKey;
}

/**
 * Puts these cards in the index, replacing what it said of their tags, takes out the tags
 * `dropped` names, and keeps every other entry. Each entry is the tag as its caller read (or pushed) it moments ago. Registries have no
 * conditional PUT (Distribution takes `If-Match` and ignores it), so two publishers at once
 * could each write an index without the other's card. Two defences: just before writing, the
 * tag is read again and the round starts over if it moved (so a lost update needs another
 * writer within one round trip); and after writing, this waits several times as long as its
 * own write took, reads the index again, and writes once more if any of its cards is missing. A
 * card whose tag was meanwhile pushed again by someone else is theirs to index, not missing.
 */
export function addToIndex(registry: Registry, entries: CardEntry[], options: UpdateOptions = {}): Promise<{ signed: boolean }> {
  const run = (queues.get(registry) ?? Promise.resolve()).catch(() => {}).then(() => update(registry, entries, options));
  queues.set(registry, run);
  return run;
}

/** The index and the shards that list these repositories: what an update of their cards starts from. */
export const readListing = (registry: Registry, repositories: string[], cache?: DiscoveryCache) =>
  readState(registry.repository(INDEX_REPOSITORY), new Set(repositories.map(shardOf)), shardBytesFrom(cache));

/** The tagged index's digest now, or undefined when there is none. */
export const indexDigest = (registry: Registry) => registry.repository(INDEX_REPOSITORY).digestOf(INDEX_TAG);

async function update(registry: Registry, entries: CardEntry[], options: UpdateOptions): Promise<{ signed: boolean }> {
  const repository = registry.repository(INDEX_REPOSITORY);
  const dropped = options.dropped ?? [];
  const touched = new Set([...entries, ...dropped].map((entry) => shardOf(entry.repository)));
  // The shards this update wrote are not fetched back when it reads the index again, nor by the next run.
  const written = new Map<string, Uint8Array>();
  const keep = async (digest: string, bytes: Uint8Array) => {
    written.set(digest, bytes);
    await options.cache?.keepShard(digest, bytes);
  };
  const cached = shardBytesFrom(options.cache);
  const shardBytes: ShardBytes = async (digest, fetch) => written.get(digest) ?? await cached(digest, fetch);
  const read = () => readState(repository, touched, shardBytes);
  const { listing } = options;
  let current = listing && (!listing.asked || [...touched].every((id) => listing.asked!.has(id))) ? listing : await read();
  await copyUnlisted(repository, entries, current, options.manifests);
  const missing = async (state: IndexState, firstRound: boolean) => {
    const wanted = [];
    for (const entry of entries) {
      const listed = state.entries.get(shardOf(entry.repository))?.find((other) => sameTag(other, entry));
      if (listed?.manifest.digest === entry.manifest.digest) continue;
      // The caller read the tag a moment ago; asked again only where the index says another
      // publisher has been at it since, or after a round in which others wrote the index.
      const current = firstRound && !listed ? entry.manifest.digest : await registry.repository(entry.repository).digestOf(entry.tag);
      if (current === entry.manifest.digest) wanted.push(entry);
    }
    return wanted;
  };
  for (let round = 0;; round++) {
    if (round > 0) current = await read();
    const wanted = await missing(current, round === 0);
    const gone = dropped.filter((tag) => listedEntries(current).some((other) => sameTag(other, tag)));
    const signer = options.signer && await maySign(current, options.signer, registry.host) ? options.signer : undefined;
    if (wanted.length === 0 && gone.length === 0) return { signed: signer !== undefined && current.document !== undefined };
    if (round === MAX_ROUNDS) {
      throw new EnvironmentError(
        `the discovery index ${repository.reference(INDEX_TAG)} kept changing under this update; gave up after ${MAX_ROUNDS} rounds`,
      );
    }
    const kept = listedEntries(current).filter((other) => ![...wanted, ...gone].some((entry) => sameTag(entry, other)));
    const cards = byShard([...kept, ...wanted]);
    // A shard this update read and left without cards is no longer listed.
    const unchanged = [...current.shards].filter(([id]) => !touched.has(id) || cards.has(id));
    const shards = new Map([...unchanged, ...await writeShards(repository, cards, keep)]);
    const top = await topIndex(shards, signer);
    const started = performance.now();
    if ((await indexDigest(registry)) === current.digest) {
      await repository.pushManifest(INDEX_TAG, top, MEDIA_TYPE.ociIndex);
      await options.cache?.keepShards([...shards.values()].map((shard) => shard.digest));
      await sleep(Math.max(MIN_SETTLE_MS, 4 * (performance.now() - started)) * (1 + Math.random()));
    } else {
      await sleep(MIN_SETTLE_MS * Math.random());
    }
  }
}
