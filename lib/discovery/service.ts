// The discovery service (Phase 4): HTTP over one registry, answered from memory.
//   GET /agents?skill=ID&q=TEXT&tag=&name=&limit=100&cursor=agent:tag   a page of cards, compact JSON,
//                                                           in the shape `discover --json` prints
//   GET /agents/{agent}/{tag}/.well-known/agent-card.json   the stored card, byte for byte, with
//                                                           ETag (its layer digest), Cache-Control, 304
//   GET /?… (the same query)                                the page for people
//
// Every answer comes from a view (view.ts): at start the index alone, then the registry checked
// in the background. The index's digest is looked at every second, and the repositories its
// change touched are checked; every repository is checked again every five minutes. A refresh
// never holds a request up: requests are answered from the last view meanwhile, and `Age` says
// how many seconds ago that view was last known to be current. A card's bytes are read once per
// manifest digest (nothing changes under a digest), checked as discovery checks a card, and kept
// in memory; requests for one card at once share one read; past MAX_READS reads in flight, a
// card not in memory is answered 503 with Retry-After. The service keeps nothing but caches, so
// several can serve one registry behind a load balancer.
import { setTimeout as sleep } from "node:timers/promises";
import type { Registry } from "../oci/registry.ts";
import type { TrustStore } from "../trust/store.ts";
import { isContentFailure } from "../errors.ts";
import type { DiscoveryCache } from "./cache.ts";
import { type CardEntry, type CardFilter, summariseCard } from "./card-entry.ts";
import { indexDigest } from "./catalog-index.ts";
import { cardLayer, fetchCard } from "./crawl.ts";
import { type CardPolicy, discover, type Discovery, discoveryJson, indexTrustText, recheck } from "./discover.ts";
import type { Answer, Asked } from "./listen.ts";
import { renderPage } from "./page.ts";
import { parseCursor, remember, View } from "./view.ts";

/** Tags can be pushed again, so a card is fresh for a minute and then revalidated with its ETag. */
const CARD_CACHE_CONTROL = "public, max-age=60";
/** How often the index's digest is looked at. */
const INDEX_LOOK_MS = 1000;
/** How often every repository is checked again: tags pushed behind the index's back, new verification records. */
const FULL_CHECK_MS = 5 * 60_000;
/** Cards kept in memory, by the bytes they take; the least recently served go first. */
const CARD_MEMORY_BYTES = 64 * 1024 * 1024;
/** Card reads from the registry in flight at once; past it, 503. */
const MAX_READS = 32;
/** Cards per page unless `limit` says otherwise, and the most it may say. */
const DEFAULT_LIMIT = 100;
const MAX_LIMIT = 1000;

const SECURITY_HEADERS = {
  "X-Content-Type-Options": "nosniff",
  // The page needs nothing but its own inline style: no script, image or frame can run in it.
  "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
};
const JSON_TYPE = "application/json; charset=utf-8";
const HTML_TYPE = "text/html; charset=utf-8";

export interface ServiceOptions {
  registry: Registry;
  cache: DiscoveryCache;
  /** The keys whose signatures on the index, verification records and cards count. */
  trust: TrustStore;
  /** VERIFY: which cards are shown, and what is said of one refused. */
  policy: CardPolicy;
  /** Trust the index alone (see discover's indexOnly). */
  indexOnly?: boolean;
  /** Card reads in flight before a request is answered 503 (MAX_READS). */
  maxReads?: number;
  /** Told of every request answered, and of every view loaded. */
  log?: (line: string) => void;
  /** What the page tells people to run when the index is out of date. */
  staleHint?: string;
}

/** A card manifest's verdict, which never changes: the card's bytes and ETag, or why discovery refuses it. */
type Read = { etag: string; bytes: Uint8Array } | { problem: string };

/** Whether an If-None-Match header names this ETag (weak or strong, or `*`). */
function matchesEtag(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  return header.split(",").map((tag) => tag.trim().replace(/^W\//, "")).some((tag) => tag === "*" || tag === etag);
}

const encoder = new TextEncoder();

function answer(status: number, headers: Record<string, string>, body: Uint8Array | string | object): Answer {
  const bytes = body instanceof Uint8Array ? body : encoder.encode(typeof body === "string" ? body : JSON.stringify(body));
  return { status, headers: { "Content-Type": JSON_TYPE, "Cache-Control": "no-cache", ...SECURITY_HEADERS, ...headers, "Content-Length": String(bytes.byteLength) }, body: bytes };
}

class BadQuery extends Error {}

/** A list's query: the filter, the page size and where the page starts. */
function queryOf(url: URL): { filter: CardFilter; limit: number; after?: [string, string] } {
  const get = (name: string) => url.searchParams.get(name) || undefined;
  const limitText = get("limit") ?? String(DEFAULT_LIMIT);
  const limit = Number(limitText);
  if (!/^\d+$/.test(limitText) || limit < 1 || limit > MAX_LIMIT) throw new BadQuery(`limit must be a whole number from 1 to ${MAX_LIMIT}, not ${JSON.stringify(limitText)}`);
  const cursor = get("cursor");
  const after = cursor === undefined ? undefined : parseCursor(cursor);
  if (cursor !== undefined && !after) throw new BadQuery(`cursor must be agent:tag, as a page's next link gives it, not ${JSON.stringify(cursor)}`);
  return { filter: { skill: get("skill"), tag: get("tag"), name: get("name"), text: get("q") }, limit, after };
}

/** The same URL with the cursor of the next page. */
function nextLink(url: URL, cursor: string): string {
  const next = new URL(url);
  next.searchParams.set("cursor", cursor);
  return next.pathname + next.search;
}

/** A path segment decoded, or undefined when it is not valid percent-encoding. */
function safeDecode(segment: string): string | undefined {
  try {
    return decodeURIComponent(segment);
  } catch {
    return undefined;
  }
}

export class DiscoveryService {
  private view!: View;
  /** When the view was last known to be current (ms): what Age counts from. */
  private confirmedAt = 0;
  /** When every repository was last checked; 0: not yet. */
  private checkedAt = 0;
  private checking = false;
  private updating: Promise<unknown> = Promise.resolve();
  private readonly stopping = new AbortController();
  /** Answers to lists and pages of this view, by URL. */
  private answers = new Map<string, Answer>();
  private readonly reads = new Map<string, Read>();
  private readBytes = 0;
  private readonly inFlight = new Map<string, Promise<Read>>();

  constructor(private readonly options: ServiceOptions) {}

  /** The first view, from the index alone (a crawl where there is none); then the background refresh starts. */
  async start(): Promise<View> {
    const { registry, cache, trust, policy } = this.options;
    const found = await discover(registry, { filter: {}, cache, trust, policy, indexOnly: true });
    if (found.source === "crawl") this.checkedAt = Date.now();
    await this.show(found);
    void this.watch();
    return this.view;
  }

  /** Stops refreshing. */
  stop() {
    this.stopping.abort();
  }

  private log(line: string) {
    this.options.log?.(line);
  }

  private async show(found: Discovery) {
    this.view = new View(found, Date.now());
    this.confirmedAt = this.view.at;
    this.answers = new Map();
    await this.options.cache.save().catch(() => {});
    this.log(`loaded ${found.entries.length} agent cards (${found.source === "crawl" ? `crawled: ${found.crawled}` : found.source})`);
  }

  /** Replaces the view with `next`'s, one replacement after another. */
  private update(next: (current: Discovery) => Promise<Discovery>): Promise<void> {
    const run = this.updating.then(async () => {
      const found = await next(this.view.found);
      if (found !== this.view.found) await this.show(found);
    });
    this.updating = run.catch(() => {});
    return run;
  }

  private refreshed = (current: Discovery) => {
    const { registry, cache, trust, policy, indexOnly } = this.options;
    return indexOnly ? discover(registry, { filter: {}, cache, trust, policy, indexOnly }) : recheck(registry, current, { cache, trust, policy });
  };

  private async watch() {
    const { signal } = this.stopping;
    let failing = false;
    for (;;) {
      await sleep(INDEX_LOOK_MS, undefined, { signal }).catch(() => {});
      if (signal.aborted) return;
      const started = Date.now();
      try {
        if ((await indexDigest(this.options.registry)) !== this.view.found.index?.digest) await this.update(this.refreshed);
        this.confirmedAt = started;
        failing = false;
      } catch (error) {
        if (!failing) this.log(`the index could not be looked at (${(error as Error).message}); answering from the last view`);
        failing = true;
      }
      if (!this.options.indexOnly && !this.checking && started - this.checkedAt >= FULL_CHECK_MS) void this.checkAll(started);
    }
  }

  /** Checks every repository, beside the index's own updates, then applies what the index changed meanwhile. */
  private async checkAll(started: number) {
    this.checking = true;
    try {
      const { registry, cache, trust, policy } = this.options;
      const full = await discover(registry, { filter: {}, cache, trust, policy });
      await this.update(() => this.refreshed(full));
      this.checkedAt = started;
    } catch (error) {
      this.log(`checking every repository failed (${(error as Error).message}); answering from the last view`);
    } finally {
      this.checking = false;
    }
  }

  /** Answers a request, from memory unless it asks for a card not read yet. Never throws. */
  async answer(asked: Asked): Promise<Answer> {
    const started = performance.now();
    const url = new URL(asked.url, "http://service.invalid");
    let answered: Answer;
    try {
      answered = await this.route(asked, url);
    } catch (error) {
      // A card that cannot be read is not there; a registry that fails leaves the service itself fine.
      answered = error instanceof BadQuery
        ? answer(400, {}, { error: error.message })
        : answer(isContentFailure(error) ? 404 : 502, {}, { error: (error as Error).message });
    }
    answered.headers.Age = String(Math.floor((Date.now() - this.confirmedAt) / 1000));
    this.log(`${asked.method} ${url.pathname}${url.search} ${answered.status} (${(performance.now() - started).toFixed(1)} ms)`);
    return answered;
  }

  private route(asked: Asked, url: URL): Answer | Promise<Answer> {
    if (asked.method !== "GET" && asked.method !== "HEAD") return answer(405, { Allow: "GET, HEAD" }, { error: `${asked.method} is not served here; use GET` });
    if (url.pathname === "/" || url.pathname === "/agents") {
      // A view never changes, so one answer serves every request for the same URL until the next.
      const key = url.pathname + url.search;
      const kept = this.answers.get(key);
      if (kept) return { ...kept, headers: { ...kept.headers } };
      const made = url.pathname === "/" ? this.page(url) : this.list(url);
      return { ...remember(this.answers, key, made), headers: { ...made.headers } };
    }
    const card = url.pathname.match(/^\/agents\/(.+)\/([^/]+)\/\.well-known\/agent-card\.json$/);
    if (card) return this.card(asked, safeDecode(card[1]), safeDecode(card[2]));
    return answer(404, {}, { error: `nothing at ${url.pathname}: try /, /agents or /agents/{agent}/{tag}/.well-known/agent-card.json` });
  }

  private list(url: URL): Answer {
    const { view } = this;
    const { filter, limit, after } = queryOf(url);
    const { cards, total, next } = view.page(filter, limit, after);
    return answer(200, {}, discoveryJson(this.options.registry.host, view.found, cards, view.verified, { total, next: next ? nextLink(url, next) : null }));
  }

  private page(url: URL): Answer {
    const { view } = this;
    const { filter, limit, after } = queryOf(url);
    const { found } = view;
    const { verify } = this.options.policy;
    const source = found.source === "crawl"
      ? `found by crawling the registry (${found.crawled})`
      : found.source === "index-only"
      ? `read from the discovery index (not yet checked against the registry; ${indexTrustText(found.index!, verify)})`
      : `read from the discovery index and checked against the registry (${indexTrustText(found.index!, verify)})`;
    const page = view.page(filter, limit, after);
    const html = renderPage({
      registry: this.options.registry.host,
      source,
      discovered: new Date(view.at),
      ...page,
      next: page.next && nextLink(url, page.next),
      verified: view.verified,
      allSkills: view.skills,
      query: { text: filter.text, skill: filter.skill },
      stale: found.stale,
      staleHint: this.options.staleHint,
      problems: found.problems,
    });
    return answer(200, { "Content-Type": HTML_TYPE }, html);
  }

  private async card(asked: Asked, agent: string | undefined, tag: string | undefined): Promise<Answer> {
    const entry = agent !== undefined && tag !== undefined ? this.view.card(agent, tag) : undefined;
    if (!entry) return answer(404, {}, { error: `no agent card at ${agent}:${tag} among the ${this.view.found.entries.length} this service shows` });
    const read = this.served(entry.manifest.digest) ?? await this.read(entry);
    if (!read) {
      return answer(503, { "Retry-After": "1" }, { error: `${this.inFlight.size} cards are being read from the registry already; try again in a second` });
    }
    if ("problem" in read) return answer(404, {}, { error: read.problem });
    const headers = { ETag: read.etag, "Cache-Control": CARD_CACHE_CONTROL };
    if (matchesEtag(asked.header("if-none-match"), read.etag)) return { status: 304, headers: { ...SECURITY_HEADERS, ...headers } };
    return answer(200, { ...headers, "Content-Type": "application/json" }, read.bytes);
  }

  /** A card read before, now the most recently served. */
  private served(digest: string): Read | undefined {
    const read = this.reads.get(digest);
    if (read) {
      this.reads.delete(digest);
      this.reads.set(digest, read);
    }
    return read;
  }

  /** A card read from the registry, shared by every request for it meanwhile; undefined when too many reads are in flight. */
  private read(entry: CardEntry): Promise<Read> | undefined {
    const { digest } = entry.manifest;
    let reading = this.inFlight.get(digest);
    if (!reading) {
      if (this.inFlight.size >= (this.options.maxReads ?? MAX_READS)) return undefined;
      reading = this.readCard(entry).finally(() => this.inFlight.delete(digest));
      this.inFlight.set(digest, reading);
    }
    return reading;
  }

  /** The card of a manifest, checked as discovery checks it, and kept. */
  private async readCard(entry: CardEntry): Promise<Read> {
    const repository = this.options.registry.repository(entry.repository);
    const subject = repository.reference(entry.manifest.digest);
    const { descriptor, bytes } = await repository.fetchManifest(entry.manifest.digest);
    const layer = cardLayer(subject, bytes, descriptor.mediaType)?.layer;
    let read: Read = { problem: `${subject} holds no agent card` };
    if (layer) {
      const card = await fetchCard(repository, layer);
      const summary = summariseCard(card, subject);
      read = "problem" in summary ? { problem: `discovery passes this card over: ${summary.problem}` } : { etag: `"${layer.digest}"`, bytes: card };
    }
    return this.keep(entry.manifest.digest, read);
  }

  private keep(digest: string, read: Read): Read {
    const size = (read: Read) => ("bytes" in read ? read.bytes.byteLength : 0) + 256;
    this.reads.set(digest, read);
    this.readBytes += size(read);
    for (const [oldest, kept] of this.reads) {
      if (this.readBytes <= CARD_MEMORY_BYTES) break;
      this.reads.delete(oldest);
      this.readBytes -= size(kept);
    }
    return read;
  }
}
