// What discovery keeps between runs, all of it keyed by digest, since nothing changes under a
// digest: what each card manifest holds, so a second crawl fetches only the cards of tags that
// moved; and the index's shards (shards/<hex>), so a second search reads only the shards a
// publish changed since. A local directory; losing it costs time, never correctness.
//
// Nothing in it grows with history. What a manifest holds is kept in 256 files by the first two
// hex digits of its digest (cards/<xx>.json), so a step reads and writes only the files of the
// digests it touches; an entry is at most 4 KiB (a card's description is cut to 300 characters
// before it gets here), a file at most 64 KiB (the oldest entries go first), so at most 16 MiB
// in all; a crawl of the whole registry drops what it did not see. Shards are those of the index
// last read or written: 16 MiB at the most, since catalog-index.ts refuses a larger index.
import { randomBytes } from "node:crypto";
import { mkdir, readdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { DIGEST_PATTERN, sha256Digest } from "../oci/digest.ts";
import type { CardSummary } from "./card-entry.ts";

/** Next to OUT_DIR's default, tmp/registry-verify: relative to where the command runs. */
const DEFAULT_DIR = "tmp/discovery";
/** Raised whenever what is kept per digest changes, so an older file is ignored instead of misread. */
const FORMAT = 2;
/** An entry larger than this is used for the run but not kept. */
const MAX_ENTRY_BYTES = 4 * 1024;
/** A file of entries; past it the oldest entries are dropped. 256 of them: 16 MiB at the most. */
const MAX_FILE_BYTES = 64 * 1024;

/** A manifest that holds an agent card, or one that holds something else (an image, an index). */
export type Outcome = { kind: "card"; card: CardSummary } | { kind: "other" };

const isStrings = (value: unknown): value is string[] => Array.isArray(value) && value.every((item) => typeof item === "string");

function isOutcome(value: unknown): value is Outcome {
  const outcome = value as { kind?: unknown; card?: Record<string, unknown> } | null;
  if (outcome?.kind === "other") return true;
  const card = outcome?.kind === "card" ? outcome.card : undefined;
  return typeof card === "object" && card !== null &&
    ["name", "version", "description", "a2aVersion"].every((key) => typeof card[key] === "string") &&
    isStrings(card.urls) && isStrings(card.skills);
}

/** Writes through a temporary name, so that a reader never sees half a file. */
async function writeWhole(file: string, data: string | Uint8Array) {
  await mkdir(path.dirname(file), { recursive: true });
  const partial = `${file}.${randomBytes(4).toString("hex")}.partial`;
  try {
    await writeFile(partial, data);
    await rename(partial, file);
  } finally {
    await rm(partial, { force: true });
  }
}

/** The file of a digest's entry: the first two hex digits of the digest. */
const bucketOf = (digest: string) => digest.slice("sha256:".length, "sha256:".length + 2);

export class DiscoveryCache {
  /** Bucket -> its entries as read (or empty), each read at most once a run. */
  private readonly buckets = new Map<string, Promise<Map<string, Outcome>>>();
  private readonly changed = new Set<string>();
  private readonly pending = new Map<string, Promise<Outcome>>();

  private constructor(
    /** undefined: kept in memory for this run only (DISCOVERY_CACHE=off). */
    readonly dir: string | undefined,
  ) {}

  /** The cache in `dir` (tmp/discovery by default, "off" for none); nothing is read until asked for. */
  static open(dir: string = DEFAULT_DIR): DiscoveryCache {
    return new DiscoveryCache(dir === "off" ? undefined : dir);
  }

  private bucketFile = (bucket: string) => path.join(this.dir!, "cards", `${bucket}.json`);

  /** A bucket's entries; what cannot be read counts as empty, and is written anew when it changes. */
  private bucket(bucket: string): Promise<Map<string, Outcome>> {
    let read = this.buckets.get(bucket);
    if (!read) {
      read = (async () => {
        const outcomes = new Map<string, Outcome>();
        if (!this.dir) return outcomes;
        try {
          const kept = JSON.parse(await readFile(this.bucketFile(bucket), "utf8"));
          if (kept?.format !== FORMAT || typeof kept.outcomes !== "object" || kept.outcomes === null) return outcomes;
          for (const [digest, outcome] of Object.entries(kept.outcomes)) {
            if (DIGEST_PATTERN.test(digest) && bucketOf(digest) === bucket && isOutcome(outcome)) outcomes.set(digest, outcome);
          }
        } catch {
          // No file yet, or one this version cannot read.
        }
        return outcomes;
      })();
      this.buckets.set(bucket, read);
    }
    return read;
  }

  /** The outcome kept for a digest, else `learn`'s, learnt once however many tags share the digest at once. */
  async outcome(digest: string, learn: () => Promise<Outcome>): Promise<{ outcome: Outcome; learnt: boolean }> {
    const outcomes = await this.bucket(bucketOf(digest));
    const kept = outcomes.get(digest);
    if (kept) return { outcome: kept, learnt: false };
    // Checked and set with no await between, so two tags of one digest never both learn it.
    const pending = this.pending.get(digest);
    if (pending) return { outcome: await pending, learnt: false };
    const learning = learn();
    this.pending.set(digest, learning);
    try {
      const outcome = await learning;
      outcomes.set(digest, outcome);
      this.changed.add(bucketOf(digest));
      return { outcome, learnt: true };
    } finally {
      this.pending.delete(digest);
    }
  }

  /** After a crawl of the whole registry: forgets every manifest it did not see, which the registry no longer lists. */
  async keepOnly(digests: Set<string>): Promise<void> {
    if (!this.dir) return;
    const files = await readdir(path.join(this.dir, "cards")).catch(() => [] as string[]);
    await Promise.all(files.map(async (file) => {
      const bucket = file.match(/^([0-9a-f]{2})\.json$/)?.[1];
      if (!bucket) return;
      const outcomes = await this.bucket(bucket);
      for (const digest of outcomes.keys()) {
        if (!digests.has(digest)) {
          outcomes.delete(digest);
          this.changed.add(bucket);
        }
      }
    }));
  }

  /** Writes the files whose entries changed, each within its bounds. */
  async save(): Promise<void> {
    if (!this.dir) return;
    await Promise.all([...this.changed].map(async (bucket) => {
      const kept: [string, string][] = [];
      let bytes = 0;
      // Newest first, until the file is full.
      for (const [digest, outcome] of [...await this.bucket(bucket)].reverse()) {
        const entry = JSON.stringify(outcome);
        const size = Buffer.byteLength(entry);
        if (size > MAX_ENTRY_BYTES) continue;
        bytes += digest.length + size + 4;
        if (bytes > MAX_FILE_BYTES) break;
        kept.push([digest, entry]);
      }
      const outcomes = kept.reverse().map(([digest, entry]) => `${JSON.stringify(digest)}:${entry}`).join(",");
      await writeWhole(this.bucketFile(bucket), `{"format":${FORMAT},"outcomes":{${outcomes}}}`);
      this.changed.delete(bucket);
    }));
    // Where an earlier version kept every entry in one file, read whole by every step.
    await rm(path.join(this.dir, "cards.json"), { force: true });
  }

  private shardFile = (digest: string) => path.join(this.dir!, "shards", digest.slice("sha256:".length));

  /** An index shard's bytes: kept ones if their digest still matches, else `fetch`'s, then kept. */
  async shard(digest: string, fetch: () => Promise<Uint8Array>): Promise<Uint8Array> {
    if (!this.dir) return fetch();
    const kept = await readFile(this.shardFile(digest)).catch(() => undefined);
    if (kept && sha256Digest(kept) === digest) return new Uint8Array(kept);
    const bytes = await fetch();
    await this.keepShard(digest, bytes);
    return bytes;
  }

  /** Keeps a shard's bytes, read or written by this run, under their digest. */
  async keepShard(digest: string, bytes: Uint8Array): Promise<void> {
    if (this.dir) await writeWhole(this.shardFile(digest), bytes).catch(() => {});
  }

  /** Removes kept shards the index no longer lists; each publish leaves one behind. */
  async keepShards(digests: string[]): Promise<void> {
    if (!this.dir) return;
    const wanted = new Set(digests.map((digest) => digest.slice("sha256:".length)));
    const files = await readdir(path.join(this.dir, "shards")).catch(() => []);
    await Promise.all(files.filter((file) => !wanted.has(file)).map((file) => rm(path.join(this.dir!, "shards", file), { force: true })));
  }
}
