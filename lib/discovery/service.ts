// The discovery service (Phase 4): HTTP over one registry.
//   GET /agents                                        the cards as JSON, as `discover --json` gives
//                                                      them; ?skill=ID ?q=TEXT ?tag= ?name=
//   GET /agents/{agent}/{tag}/.well-known/agent-card.json   the stored card, byte for byte, with
//                                                      ETag (its layer digest), Cache-Control, 304
//   GET /                                              a page for people
// The list comes from discovery and is read again when the index changes. A card is always read
// from its tag, so it is current even when the list is not.
import type { IncomingMessage, ServerResponse } from "node:http";
import { REPOSITORY_PATTERN, TAG_PATTERN } from "../oci/reference.ts";
import type { Registry } from "../oci/registry.ts";
import { isContentFailure } from "../errors.ts";
import type { DiscoveryCache } from "./cache.ts";
import { agentOf, AGENTS_NAMESPACE, type CardFilter, matches } from "./card-entry.ts";
import { indexDigest } from "./catalog-index.ts";
import { cardLayer, fetchCard } from "./crawl.ts";
import { discover, type Discovery, discoveryJson, verifiedOf } from "./discover.ts";
import { renderPage } from "./page.ts";

/** Tags can be pushed again, so a card is fresh for a minute and then revalidated with its ETag. */
const CARD_CACHE_CONTROL = "public, max-age=60";
/** How often, at most, a request looks whether the index moved. */
const INDEX_LOOK_MS = 1000;
/** Cards kept in memory by digest; a card is a few KB. */
const CARDS_KEPT = 256;

const SECURITY_HEADERS = {
  "X-Content-Type-Options": "nosniff",
  // The page needs nothing but its own inline style: no script, image or frame can run in it.
  "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
};

export interface ServiceOptions {
  registry: Registry;
  cache: DiscoveryCache;
  /** Trust the index alone (see discover's indexOnly). */
  indexOnly?: boolean;
  /** Told of every request answered, and of every list (re)load. */
  log?: (line: string) => void;
  /** What the page tells people to run when the index is out of date. */
  staleHint?: string;
}

/** Whether an If-None-Match header names this ETag (weak or strong, or `*`). */
function matchesEtag(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  return header.split(",").map((tag) => tag.trim().replace(/^W\//, "")).some((tag) => tag === "*" || tag === etag);
}

export class DiscoveryService {
  private list?: Promise<{ index?: string; found: Discovery }>;
  private lookedAt = 0;
  private readonly cards = new Map<string, Uint8Array>();

  constructor(private readonly options: ServiceOptions) {}

  /** The cards, discovered again when the index moved since they were. */
  async current(): Promise<Discovery> {
    if (this.list && Date.now() - this.lookedAt < INDEX_LOOK_MS) return (await this.list).found;
    this.lookedAt = Date.now();
    const index = await indexDigest(this.options.registry);
    const loaded = await this.list?.catch(() => undefined);
    if (!loaded || loaded.index !== index) {
      this.list = discover(this.options.registry, { filter: {}, cache: this.options.cache, indexOnly: this.options.indexOnly })
        .then(async (found) => {
          await this.options.cache.save().catch(() => {});
          this.options.log?.(`loaded ${found.entries.length} agent cards (${found.source === "crawl" ? `crawled: ${found.crawled}` : found.source})`);
          return { index, found };
        });
      this.list.catch(() => (this.list = undefined));
    }
    return (await this.list!).found;
  }

  async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const started = performance.now();
    const url = new URL(request.url ?? "/", "http://service.invalid");
    try {
      if (request.method !== "GET" && request.method !== "HEAD") {
        this.send(response, request, 405, { Allow: "GET, HEAD" }, { error: `${request.method} is not served here; use GET` });
      } else if (url.pathname === "/") {
        await this.page(request, response, url);
      } else if (url.pathname === "/agents") {
        await this.agents(request, response, url);
      } else {
        const card = url.pathname.match(/^\/agents\/(.+)\/([^/]+)\/\.well-known\/agent-card\.json$/);
        if (card) await this.card(request, response, safeDecode(card[1]), safeDecode(card[2]));
        else this.send(response, request, 404, {}, { error: `nothing at ${url.pathname}: try /, /agents or /agents/{agent}/{tag}/.well-known/agent-card.json` });
      }
    } catch (error) {
      if (response.headersSent) {
        response.destroy();
      } else if (isContentFailure(error)) {
        this.send(response, request, 404, {}, { error: error.message });
      } else {
        // The registry failed or cannot be reached: the service itself is fine.
        this.send(response, request, 502, {}, { error: (error as Error).message });
      }
    }
    this.options.log?.(`${request.method} ${url.pathname}${url.search} ${response.statusCode} (${(performance.now() - started).toFixed(1)} ms)`);
  }

  private send(response: ServerResponse, request: IncomingMessage, status: number, headers: Record<string, string>, body: unknown) {
    const bytes = typeof body === "string" || body instanceof Uint8Array ? body : JSON.stringify(body, null, 2) + "\n";
    response.writeHead(status, {
      "Content-Type": "application/json; charset=utf-8",
      "Cache-Control": "no-cache",
      ...SECURITY_HEADERS,
      ...headers,
      "Content-Length": String(typeof bytes === "string" ? Buffer.byteLength(bytes) : bytes.byteLength),
    });
    response.end(request.method === "HEAD" ? undefined : bytes);
  }

  private filterOf(url: URL): CardFilter {
    const get = (name: string) => url.searchParams.get(name) || undefined;
    return { skill: get("skill"), tag: get("tag"), name: get("name"), text: get("q") };
  }

  private async agents(request: IncomingMessage, response: ServerResponse, url: URL) {
    const found = await this.current();
    const filter = this.filterOf(url);
    this.send(response, request, 200, {}, discoveryJson(this.options.registry.host, found, found.entries.filter((entry) => matches(entry, filter))));
  }

  private async page(request: IncomingMessage, response: ServerResponse, url: URL) {
    const found = await this.current();
    const filter = this.filterOf(url);
    const source = found.source === "crawl"
      ? `found by crawling the registry (${found.crawled})`
      : found.source === "index-only"
      ? "read from the discovery index alone"
      : "read from the discovery index and checked against the registry";
    const html = renderPage({
      registry: this.options.registry.host,
      source,
      entries: found.entries.filter((entry) => matches(entry, filter)),
      verified: verifiedOf(found),
      allSkills: [...new Set(found.entries.flatMap((entry) => entry.card.skills))].sort(),
      query: { text: filter.text, skill: filter.skill },
      stale: found.stale,
      staleHint: this.options.staleHint,
    });
    this.send(response, request, 200, { "Content-Type": "text/html; charset=utf-8" }, html);
  }

  /** The repository of an agent: the one discovery saw under that name, else agents/<agent>. */
  private async repositoryOf(agent: string): Promise<string> {
    const seen = this.list && (await this.list.catch(() => undefined))?.found.entries.find((entry) => agentOf(entry.repository) === agent);
    return seen?.repository ?? `${AGENTS_NAMESPACE}/${agent}`;
  }

  private async card(request: IncomingMessage, response: ServerResponse, agent: string | undefined, tag: string | undefined) {
    const name = agent === undefined ? undefined : await this.repositoryOf(agent);
    if (!name || !REPOSITORY_PATTERN.test(name) || !tag || !TAG_PATTERN.test(tag)) {
      this.send(response, request, 404, {}, { error: "no such agent or tag: agent names and tags follow the OCI grammar" });
      return;
    }
    const repository = this.options.registry.repository(name);
    const subject = repository.reference(tag);
    const { descriptor, bytes } = await repository.fetchManifest(tag);
    const layer = cardLayer(subject, bytes, descriptor.mediaType)?.layer;
    if (!layer) {
      this.send(response, request, 404, {}, { error: `${subject} holds no agent card` });
      return;
    }
    const headers = { ETag: `"${layer.digest}"`, "Cache-Control": CARD_CACHE_CONTROL };
    if (matchesEtag(request.headers["if-none-match"], headers.ETag)) {
      response.writeHead(304, { ...SECURITY_HEADERS, ...headers });
      response.end();
      return;
    }
    let card = this.cards.get(layer.digest);
    if (!card) {
      card = await fetchCard(repository, layer);
      if (this.cards.size >= CARDS_KEPT) this.cards.delete(this.cards.keys().next().value!);
      this.cards.set(layer.digest, card);
    }
    this.send(response, request, 200, { ...headers, "Content-Type": "application/json" }, card);
  }
}

/** A path segment decoded, or undefined when it is not valid percent-encoding. */
function safeDecode(segment: string): string | undefined {
  try {
    return decodeURIComponent(segment);
  } catch {
    return undefined;
  }
}
