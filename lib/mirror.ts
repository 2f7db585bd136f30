/**
 * Mirrors agent repositories from one registry to another: every tag of every `agents/*`
 * repository that is missing on the target, or resolves to another digest there, is copied;
 * then every tag is resolved on both sides to prove they agree. A rerun after an interrupt
 * skips what is already equal. Tags of the referrers tag schema (`sha256-<hex>`, an image
 * index listing the referrers of a manifest) are tags like any other: their index is copied
 * with the manifests it lists. A source with the referrers API keeps no such tags: there each
 * tag's referrers are copied as the API lists them.
 */
import { mapLimit } from "./concurrency.ts";
import { copyArtifact } from "./oci/artifacts.ts";
import { isOciError } from "./oci/errors.ts";
import { type Descriptor, MEDIA_TYPE, parseIndex } from "./oci/manifest.ts";
import { addReferrer, hasReferrersApi, listReferrers } from "./oci/referrers.ts";
import { collect, type Registry, type Repository } from "./oci/registry.ts";

export const AGENT_PREFIX = "agents/";
/** Tags copied at once; each copy moves up to 5 blobs at once itself. */
const TAG_CONCURRENCY = 4;
const REFERRERS_TAG = /^sha256-[a-f0-9]{64}$/;

export interface TagState {
  repository: string;
  tag: string;
  /** What the tag resolves to on the source. */
  digest: string;
  /** What it resolved to on the target before the copy: undefined when missing. */
  before?: string;
}

export type MirrorEvent =
  | { kind: "copied" | "skipped"; tag: TagState }
  | { kind: "mismatch"; tag: TagState; target?: string }
  | { kind: "referrer"; repository: string; subject: string; referrer: Descriptor };

export interface MirrorReport {
  /** Whether the source's catalog was read; otherwise the repositories given were mirrored. */
  catalog: boolean;
  repositories: string[];
  copied: TagState[];
  skipped: TagState[];
  /** Tags both sides resolve to the same digest after the copy. */
  verified: TagState[];
  /** Tags that still differ after the copy, with what the target says. */
  mismatched: (TagState & { target?: string })[];
  /** How many referrers the source's referrers API listed that were copied. */
  referrers: number;
}

/**
 * Copies the manifest `digest` of `source` to `target` under `to` (a tag or the digest itself).
 * An index is copied after every manifest it lists, since a registry may refuse one whose
 * manifests it lacks.
 */
async function copyManifest(source: Repository, digest: string, target: Repository, to: string): Promise<{ subjectIndexed: boolean }> {
  const { descriptor, bytes } = await source.fetchManifest(digest);
  if (descriptor.mediaType !== MEDIA_TYPE.ociIndex) return await copyArtifact(source, digest, target, to);
  const index = parseIndex(bytes, descriptor.mediaType);
  for (const child of index.manifests) {
    if (!(await target.hasManifest(child.digest))) await copyManifest(source, child.digest, target, child.digest);
  }
  return await target.pushManifest(to, bytes, descriptor.mediaType);
}

/**
 * Copies the referrers the source's referrers API lists for `digest`, and theirs in turn, that the
 * target lacks; a target that does not index them itself (no OCI-Subject, as `oras cp -r` checks)
 * gets each in its referrers tag schema index. Says each one copied.
 */
async function copyReferrers(source: Repository, target: Repository, digest: string, onCopied: (referrer: Descriptor, subject: string) => void, seen = new Set<string>()) {
  if (seen.has(digest) || !(await hasReferrersApi(source))) return;
  seen.add(digest);
  for (const referrer of await listReferrers(source, digest)) {
    if (!(await target.hasManifest(referrer.digest))) {
      const { subjectIndexed } = await copyManifest(source, referrer.digest, target, referrer.digest);
      if (!subjectIndexed) await addReferrer(target, digest, referrer);
      onCopied(referrer, digest);
    }
    await copyReferrers(source, target, referrer.digest, onCopied, seen);
  }
}

/**
 * The agent repositories of `source`: its catalog's `agents/*`, or, when it offers no catalog,
 * `fallback` (the repositories the user named).
 */
async function agentRepositories(source: Registry, fallback: string[]): Promise<{ catalog: boolean; repositories: string[] }> {
  try {
    const all = await collect(source.catalog());
    return { catalog: true, repositories: all.filter((name) => name.startsWith(AGENT_PREFIX)).sort() };
  } catch (error) {
    if (!isOciError(error, "unsupported")) throw error;
    return { catalog: false, repositories: fallback };
  }
}

export async function mirror(
  source: Registry,
  target: Registry,
  options: { fallback: string[]; concurrency?: number; onEvent?: (event: MirrorEvent) => void },
): Promise<MirrorReport> {
  const onEvent = options.onEvent ?? (() => {});
  const concurrency = options.concurrency ?? TAG_CONCURRENCY;
  const { catalog, repositories } = await agentRepositories(source, options.fallback);
  const tagLists = await mapLimit(repositories, concurrency, (name) => collect(source.repository(name).tags()));
  const all = repositories.flatMap((repository, i) => tagLists[i].map((tag) => ({ repository, tag })));
  // Ordinary tags first, then the referrers indexes that point at what they tag.
  const phases = [all.filter(({ tag }) => !REFERRERS_TAG.test(tag)), all.filter(({ tag }) => REFERRERS_TAG.test(tag))];

  const copied: TagState[] = [];
  const skipped: TagState[] = [];
  const states: TagState[] = [];
  let referrers = 0;
  for (const phase of phases) {
    await mapLimit(phase, concurrency, async ({ repository, tag }) => {
      const [from, to] = [source.repository(repository), target.repository(repository)];
      const [digest, before] = await Promise.all([from.digestOf(tag), to.digestOf(tag)]);
      // Deleted from the source since it was listed: nothing to mirror.
      if (digest === undefined) return;
      const state = { repository, tag, digest, before };
      states.push(state);
      if (before === digest) {
        skipped.push(state);
        onEvent({ kind: "skipped", tag: state });
      } else {
        // By digest: what was resolved is what gets copied, even if the tag moves meanwhile.
        await copyManifest(from, digest, to, tag);
        copied.push(state);
        onEvent({ kind: "copied", tag: state });
      }
      await copyReferrers(from, to, digest, (referrer, subject) => {
        referrers++;
        onEvent({ kind: "referrer", repository, subject, referrer });
      });
    });
  }

  const verified: TagState[] = [];
  const mismatched: (TagState & { target?: string })[] = [];
  await mapLimit(states, concurrency, async (state) => {
    const [now, there] = await Promise.all([
      source.repository(state.repository).digestOf(state.tag),
      target.repository(state.repository).digestOf(state.tag),
    ]);
    if (now !== undefined && now === there) {
      verified.push(state);
    } else {
      mismatched.push({ ...state, target: there });
      onEvent({ kind: "mismatch", tag: state, target: there });
    }
  });
  const order = (a: TagState, b: TagState) => a.repository.localeCompare(b.repository) || a.tag.localeCompare(b.tag);
  return { catalog, repositories, copied: copied.sort(order), skipped: skipped.sort(order), verified: verified.sort(order), mismatched: mismatched.sort(order), referrers };
}
