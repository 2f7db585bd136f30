// Referrers (OCI distribution spec 1.1): the manifests that name another as their `subject`.
// A registry with the referrers API lists them at GET /v2/<name>/referrers/<digest>. Where it
// has none (Distribution 2.8 and 3.x, GHCR), clients keep the list themselves, as an image index
// tagged `sha256-<hex of the subject>`: the referrers tag schema.
import { setTimeout as sleep } from "node:timers/promises";
import { type OnStatus, pushArtifact, type Fetched } from "./artifacts.ts";
import { OciError } from "./errors.ts";
import { type ArtifactLayer, type Descriptor, encodeIndex, MAX_MANIFEST_BYTES, MEDIA_TYPE, parseIndex } from "./manifest.ts";
import type { Repository } from "./registry.ts";
import { readLimited } from "./transport.ts";

/** The tag the referrers tag schema keeps a subject's referrers under: `sha256-<hex>`. */
export const referrersTag = (digest: string) => digest.replace(":", "-");

/** A digest no manifest has: asking for its referrers tells whether the API exists, as oras-go asks. */
const ZERO_DIGEST = `sha256:${"0".repeat(64)}`;

/** Whether a registry has the referrers API, asked once per registry and process. */
const apiSupport = new Map<string, Promise<boolean>>();

/**
 * GETs the referrers API, following pages: the referrers, or undefined where the registry has
 * no such API (it answers 404 without a distribution error, or something that is not an index).
 */
async function referrersFromApi(repository: Repository, digest: string): Promise<Descriptor[] | undefined> {
  const referrers: Descriptor[] = [];
  let next: string | undefined = `/v2/${repository.name}/referrers/${digest}`;
  while (next) {
    const subject = repository.reference(digest);
    const response = await repository.registry.request(next, { accept: [404], subject, scope: `repository:${repository.name}:pull` });
    const bytes = await readLimited(response, MAX_MANIFEST_BYTES, `the referrers of ${subject}`);
    const type = response.headers.get("content-type")?.split(";")[0];
    if (response.status === 404) {
      if (/"NAME_UNKNOWN"/.test(new TextDecoder().decode(bytes))) {
        throw new OciError("not-found", `Error response from registry: ${repository.reference()}: repository not found`, { status: 404, code: "NAME_UNKNOWN", subject });
      }
      return undefined;
    }
    if (type !== MEDIA_TYPE.ociIndex) return undefined;
    referrers.push(...parseIndex(bytes, type).manifests);
    next = response.headers.get("link")?.match(/<([^>]+)>\s*;\s*rel="?next"?/)?.[1];
  }
  return referrers;
}

/** Asked of one repository, answered for the registry: the API is a registry's, not a repository's. */
export function hasReferrersApi(repository: Repository): Promise<boolean> {
  const key = repository.registry.baseUrl;
  let known = apiSupport.get(key);
  if (!known) {
    known = referrersFromApi(repository, ZERO_DIGEST).then((found) => found !== undefined);
    apiSupport.set(key, known);
    known.catch(() => apiSupport.delete(key));
  }
  return known;
}

/** The descriptors in the referrers index of a subject; none when the tag does not exist. */
async function referrersFromIndex(repository: Repository, digest: string): Promise<Descriptor[]> {
  try {
    const { descriptor, bytes } = await repository.fetchManifest(referrersTag(digest));
    return parseIndex(bytes, descriptor.mediaType).manifests;
  } catch (error) {
    if (error instanceof OciError && error.kind === "not-found") return [];
    throw error;
  }
}

/**
 * The referrers of a manifest, from the API where the registry has it, else from the referrers
 * tag schema; only those of `artifactType` when given.
 */
export async function listReferrers(repository: Repository, digest: string, artifactType?: string): Promise<Descriptor[]> {
  const referrers = (await hasReferrersApi(repository))
    ? (await referrersFromApi(repository, digest)) ?? []
    : await referrersFromIndex(repository, digest);
  return artifactType ? referrers.filter((referrer) => referrer.artifactType === artifactType) : referrers;
}

const sameDescriptor = (a: Descriptor, b: Descriptor) => a.digest === b.digest && a.size === b.size && a.mediaType === b.mediaType;
const without = (list: Descriptor[], others: Descriptor[]) => list.filter((d) => !others.some((o) => sameDescriptor(d, o)));

/** Rounds of write-and-check before giving up on an index that other writers keep changing. */
const MAX_ROUNDS = 10;
/** The least time to wait after writing, before checking that no other writer overwrote us. */
const MIN_SETTLE_MS = 50;

/** Index updates of this process, one at a time per index, so they never race each other. */
const updating = new Map<string, Promise<unknown>>();

function oneAtATime<T>(key: string, update: () => Promise<T>): Promise<T> {
  const result = (updating.get(key) ?? Promise.resolve()).catch(() => {}).then(update);
  updating.set(key, result);
  const forget = () => updating.get(key) === result && updating.delete(key);
  result.then(forget, forget);
  return result;
}

/**
 * Adds a referrer to its subject's referrers index, as oras-go does on a registry without the
 * referrers API: read the index (none yet means empty), add the descriptor, push the index
 * back under the tag.
 *
 * Distribution has no conditional PUT, so two clients updating one index at once can each write
 * a list that lacks the other's entry. So after writing, this waits a little longer than its own
 * read-and-write took (another writer that read the old index has written by then), reads the
 * index again, and writes once more if anything it wrote is gone, its own entry or another's it
 * had seen. Within one process updates of one index are queued instead.
 */
export function addReferrer(repository: Repository, subjectDigest: string, referrer: Descriptor): Promise<void> {
  const tag = referrersTag(subjectDigest);
  return oneAtATime(repository.reference(tag), async () => {
    let wanted = [referrer];
    for (let round = 0; round < MAX_ROUNDS; round++) {
      const started = performance.now();
      const current = await referrersFromIndex(repository, subjectDigest);
      const missing = without(wanted, current);
      if (missing.length === 0) return;
      // Duplicates and repeats of one referrer are dropped, as oras-go drops them.
      const manifests = [...current, ...missing].filter((d, i, all) => all.findIndex((o) => sameDescriptor(o, d)) === i);
      await repository.pushManifest(tag, encodeIndex({ schemaVersion: 2, mediaType: MEDIA_TYPE.ociIndex, manifests }), MEDIA_TYPE.ociIndex);
      wanted = manifests;
      const took = performance.now() - started;
      await sleep(Math.max(MIN_SETTLE_MS, 2 * took) * (1 + Math.random() / 2));
    }
    throw new OciError("rejected", `the referrers index ${repository.reference(tag)} kept losing entries to other writers; gave up after ${MAX_ROUNDS} rounds`, {
      subject: repository.reference(tag),
      attempts: MAX_ROUNDS,
    });
  });
}

/** What a referrer's entry in an index says about it: oras-go copies artifactType and annotations. */
function referrerDescriptor({ descriptor, manifest }: Fetched): Descriptor {
  return {
    ...descriptor,
    ...(manifest.annotations && { annotations: manifest.annotations }),
    artifactType: manifest.artifactType ?? manifest.config.mediaType,
  };
}

/**
 * `oras attach`: pushes an artifact whose manifest names `subjectReference` (a tag or digest of
 * this repository) as its subject, by digest, and records it in the subject's referrers index
 * unless the registry said (OCI-Subject) that it indexed the subject itself. oras-go decides so
 * too: a registry whose referrers API answers but that sends no OCI-Subject gets the index as well.
 */
export async function attachArtifact(
  repository: Repository,
  subjectReference: string,
  layers: ArtifactLayer[],
  options: { artifactType: string; annotations?: Record<string, string>; onStatus?: OnStatus },
): Promise<Fetched & { subject: Descriptor; referrer: Descriptor }> {
  const resolved = await repository.resolve(subjectReference);
  const subject = { mediaType: resolved.mediaType, digest: resolved.digest, size: resolved.size };
  const pushed = await pushArtifact(repository, undefined, layers, { ...options, subject });
  const referrer = referrerDescriptor(pushed);
  if (!pushed.subjectIndexed) await addReferrer(repository, subject.digest, referrer);
  return { ...pushed, subject, referrer };
}
