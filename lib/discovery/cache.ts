// What discovery keeps between runs, all of it keyed by digest, since nothing changes under a
// digest: what each card manifest holds (cards.json), so a second crawl fetches only the cards of
// tags that moved; and the index's shards (shards/<hex>), so a second search reads only the shards
// a publish changed since. A local directory; losing it costs time, never correctness.
import { randomBytes } from "node:crypto";
import { mkdir, readdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { DIGEST_PATTERN, sha256Digest } from "../oci/digest.ts";
import type { CardSummary } from "./card-entry.ts";

/** Next to OUT_DIR's default, tmp/registry-verify: relative to where the command runs. */
const DEFAULT_DIR = "tmp/discovery";
/** Raised whenever what is kept per digest changes, so an older file is ignored instead of misread. */
const FORMAT = 1;

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

export class DiscoveryCache {
  private added = 0;
  private readonly pending = new Map<string, Promise<Outcome>>();

  private constructor(
    /** undefined: kept in memory for this run only (DISCOVERY_CACHE=off). */
    readonly dir: string | undefined,
    private readonly outcomes: Map<string, Outcome>,
  ) {}

  /** The cache in `dir` (tmp/discovery by default, "off" for none); what cannot be read counts as empty. */
  static async open(dir: string = DEFAULT_DIR): Promise<DiscoveryCache> {
    if (dir === "off") return new DiscoveryCache(undefined, new Map());
    const outcomes = new Map<string, Outcome>();
    try {
      const kept = JSON.parse(await readFile(path.join(dir, "cards.json"), "utf8"));
      if (kept?.format === FORMAT && typeof kept.outcomes === "object" && kept.outcomes !== null) {
        for (const [digest, outcome] of Object.entries(kept.outcomes)) {
          if (DIGEST_PATTERN.test(digest) && isOutcome(outcome)) outcomes.set(digest, outcome);
        }
      }
    } catch {
      // No cache yet, or one this version cannot read: start empty, and write a good one after the crawl.
    }
    return new DiscoveryCache(dir, outcomes);
  }

  /** The outcome kept for a digest, else `learn`'s, learnt once however many tags share the digest at once. */
  async outcome(digest: string, learn: () => Promise<Outcome>): Promise<{ outcome: Outcome; learnt: boolean }> {
    const kept = this.outcomes.get(digest);
    if (kept) return { outcome: kept, learnt: false };
    // Checked and set with no await between, so two tags of one digest never both learn it.
    const pending = this.pending.get(digest);
    if (pending) return { outcome: await pending, learnt: false };
    const learning = learn();
    this.pending.set(digest, learning);
    try {
      const outcome = await learning;
      this.outcomes.set(digest, outcome);
      this.added++;
      return { outcome, learnt: true };
    } finally {
      this.pending.delete(digest);
    }
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

  /** Writes what was learnt about cards, if anything. */
  async save(): Promise<void> {
    if (!this.dir || this.added === 0) return;
    await writeWhole(path.join(this.dir, "cards.json"), JSON.stringify({ format: FORMAT, outcomes: Object.fromEntries(this.outcomes) }));
    this.added = 0;
  }
}
