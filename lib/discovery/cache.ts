// What discovery keeps between runs, all of it keyed by digest, since nothing changes under a
// digest: the bytes of card manifests and of the cards they hold, so a second crawl fetches only
// the cards of tags that moved; and the index's shards (shards/<hex>), so a second search reads
// only the shards a publish changed since. A local directory; losing it costs time, never
// correctness. Nothing kept is believed: bytes count only when they hash to the digest they are
// kept under (anything else is dropped and fetched again), and what discovery shows of a card is
// worked out from its bytes each run, never kept, so an entry written by hand proves nothing.
//
// Nothing in it grows with history. Bytes are kept in 256 files by the first two hex digits of
// their digest (cards/<xx>.json), so a step reads and writes only the files of the digests it
// touches; an entry is at most 32 KiB, a file at most 256 KiB (the oldest entries go first), so at
// most 64 MiB in all; a crawl of the whole registry drops what it did not see. Shards are those
// of the index last read or written: 16 MiB at the most, since catalog-index.ts refuses a larger index.
import { randomBytes } from "node:crypto";
import { mkdir, readdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { DIGEST_PATTERN, sha256Digest } from "../oci/digest.ts";

/** Next to OUT_DIR's default, tmp/registry-verify: relative to where the command runs. */
const DEFAULT_DIR = "tmp/discovery";
/** Raised whenever what is kept per digest changes, so an older file is ignored instead of misread. */
const FORMAT = 3;
/** Bytes larger than this are used for the run but not kept: a card manifest is about 500 bytes, a card a few KiB. */
const MAX_ENTRY_BYTES = 32 * 1024;
/** A file of entries; past it the oldest entries are dropped. 256 of them: 64 MiB at the most. */
const MAX_FILE_BYTES = 256 * 1024;

const encoder = new TextEncoder();
/** Kept as text, which cards and manifests are: bytes that are not UTF-8 are not kept. */
const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

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
  /** Bucket -> its entries as read (text by digest, not yet checked), each file read at most once a run. */
  private readonly buckets = new Map<string, Promise<Map<string, string>>>();
  private readonly changed = new Set<string>();
  private readonly pending = new Map<string, Promise<Uint8Array>>();

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
  private bucket(bucket: string): Promise<Map<string, string>> {
    let read = this.buckets.get(bucket);
    if (!read) {
      read = (async () => {
        const texts = new Map<string, string>();
        if (!this.dir) return texts;
        try {
          const kept = JSON.parse(await readFile(this.bucketFile(bucket), "utf8"));
          if (kept?.format !== FORMAT || typeof kept.bytes !== "object" || kept.bytes === null) return texts;
          for (const [digest, text] of Object.entries(kept.bytes)) {
            if (DIGEST_PATTERN.test(digest) && bucketOf(digest) === bucket && typeof text === "string") texts.set(digest, text);
          }
        } catch {
          // No file yet, or one this version cannot read.
        }
        return texts;
      })();
      this.buckets.set(bucket, read);
    }
    return read;
  }

  /** The bytes kept under `digest`, if they hash to it; bytes that do not are dropped. */
  async kept(digest: string): Promise<Uint8Array | undefined> {
    const texts = await this.bucket(bucketOf(digest));
    const text = texts.get(digest);
    if (text === undefined) return undefined;
    const bytes = encoder.encode(text);
    if (sha256Digest(bytes) === digest) return bytes;
    texts.delete(digest);
    this.changed.add(bucketOf(digest));
    return undefined;
  }

  /** Keeps bytes under `digest`, which the caller has checked they hash to. */
  async keep(digest: string, bytes: Uint8Array): Promise<void> {
    if (bytes.byteLength > MAX_ENTRY_BYTES) return;
    const texts = await this.bucket(bucketOf(digest));
    if (texts.has(digest)) return;
    let text;
    try {
      text = utf8.decode(bytes);
    } catch {
      return;
    }
    texts.set(digest, text);
    this.changed.add(bucketOf(digest));
  }

  /**
   * The bytes of `digest`: kept ones (unless `fresh`), else `fetch`'s, which must prove them
   * (hash them to the digest), then kept. Fetched once however many ask for one digest at once.
   */
  async bytes(digest: string, fetch: () => Promise<Uint8Array>, fresh = false): Promise<{ bytes: Uint8Array; fetched: boolean }> {
    const kept = fresh ? undefined : await this.kept(digest);
    if (kept) return { bytes: kept, fetched: false };
    // Checked and set with no await between, so two tags of one digest never both fetch it.
    const pending = this.pending.get(digest);
    if (pending) return { bytes: await pending, fetched: false };
    const fetching = fetch();
    this.pending.set(digest, fetching);
    try {
      const bytes = await fetching;
      await this.keep(digest, bytes);
      return { bytes, fetched: true };
    } finally {
      this.pending.delete(digest);
    }
  }

  /** After a crawl of the whole registry: forgets every digest it did not see, which the registry no longer lists. */
  async keepOnly(digests: Set<string>): Promise<void> {
    if (!this.dir) return;
    const files = await readdir(path.join(this.dir, "cards")).catch(() => [] as string[]);
    await Promise.all(files.map(async (file) => {
      const bucket = file.match(/^([0-9a-f]{2})\.json$/)?.[1];
      if (!bucket) return;
      const texts = await this.bucket(bucket);
      for (const digest of texts.keys()) {
        if (!digests.has(digest)) {
          texts.delete(digest);
          this.changed.add(bucket);
        }
      }
    }));
  }

  /** Writes the files whose entries changed, each within its bounds. */
  async save(): Promise<void> {
    if (!this.dir) return;
    await Promise.all([...this.changed].map(async (bucket) => {
      const kept: string[] = [];
      let bytes = 0;
      // Newest first, until the file is full.
      for (const [digest, text] of [...await this.bucket(bucket)].reverse()) {
        const entry = `${JSON.stringify(digest)}:${JSON.stringify(text)}`;
        bytes += Buffer.byteLength(entry) + 1;
        if (bytes > MAX_FILE_BYTES) break;
        kept.push(entry);
      }
      await writeWhole(this.bucketFile(bucket), `{"format":${FORMAT},"bytes":{${kept.reverse().join(",")}}}`);
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
