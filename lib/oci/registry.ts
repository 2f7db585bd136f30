import { setTimeout as sleep } from "node:timers/promises";
import { sha256Digest } from "./digest.ts";
import { type ErrorKind, OciError } from "./errors.ts";
import { type Descriptor, MANIFEST_ACCEPT, MAX_MANIFEST_BYTES } from "./manifest.ts";
import { isLoopbackHost } from "./reference.ts";

/** Answers 401 challenges; the registry asks it for a header before each request and after a 401. */
export interface Authorizer {
  /** A cached Authorization header for this host and scope, if there is one. */
  header(host: string, scope: string): string | undefined;
  /** Works out the Authorization header a 401 asks for (Basic, or a Bearer token from the realm). */
  onChallenge(host: string, scope: string, response: Response): Promise<string>;
}

export type Fetch = (url: string, init: RequestInit) => Promise<Response>;

export interface RegistryOptions {
  /** Plain HTTP instead of TLS. Defaults to true for loopback hosts only. */
  plainHttp?: boolean;
  /** Whole-request time limit in milliseconds. */
  timeoutMs?: number;
  /** Extra attempts for 5xx, 408 and 429 answers. */
  retries?: number;
  /** The fetch to use (one that trusts a private CA, say); the runtime's own by default. */
  fetch?: Fetch;
  authorizer?: Authorizer;
}

interface RequestOptions {
  method?: string;
  headers?: Record<string, string>;
  body?: Uint8Array;
  /** Statuses that are answers, not errors (404 for existence checks). */
  accept?: number[];
  /** What to name in an error message, e.g. "localhost:5000/agents/plan:v9". */
  subject?: string;
  /** The token scope the request needs, e.g. "repository:agents/plan:pull". */
  scope?: string;
  /** Distribution error codes that are transient for this request, retried like a 503. */
  transientCodes?: string[];
}

const RETRYABLE = new Set([408, 429, 500, 502, 503, 504]);
const MAX_BACKOFF_MS = 4000;
export const DEFAULT_TIMEOUT_MS = 10_000;

/** Why fetch failed, from Node's `cause.code` or Deno's message text. */
function networkFailure(error: unknown): { kind: ErrorKind; reason: string } {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  const text = `${cause?.code ?? ""} ${cause?.message ?? ""} ${(error as Error).message}`;
  if (/ECONNREFUSED|refused/i.test(text)) return { kind: "unreachable", reason: "connection refused" };
  if (/ENOTFOUND|EAI_AGAIN|dns|lookup|resolve/i.test(text)) return { kind: "unreachable", reason: "host not found" };
  if (/certificate|TLS|SSL|handshake|wrong version number/i.test(text)) {
    return { kind: "tls", reason: `TLS failed (${cause?.message ?? text.trim()})` };
  }
  if (/ECONNRESET|reset|closed|socket|EPIPE/i.test(text)) return { kind: "unreachable", reason: "connection closed by the registry" };
  return { kind: "unreachable", reason: cause?.message ?? (error as Error).message };
}

/**
 * One registry host, over `fetch`, which keeps connections alive between requests: retries,
 * pagination, the catalog, and what every repository of it shares (which blobs are known where).
 */
export class Registry {
  readonly baseUrl: string;
  private readonly timeoutMs: number;
  private readonly retries: number;
  private readonly fetch: Fetch;
  private readonly knownBlobs = new Map<string, Set<string>>();
  /** For each known digest, the first repository seen holding it: where to mount it from. */
  private readonly holders = new Map<string, string>();

  constructor(
    readonly host: string,
    private readonly options: RegistryOptions = {},
  ) {
    const plainHttp = options.plainHttp ?? isLoopbackHost(host);
    this.baseUrl = `${plainHttp ? "http" : "https"}://${host}`;
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.retries = options.retries ?? 4;
    this.fetch = options.fetch ?? ((url, init) => fetch(url, init));
  }

  repository(name: string): Repository {
    return new Repository(this, name);
  }

  /** Sends a request, answering one auth challenge and retrying transient answers with backoff. */
  async request(path: string, options: RequestOptions = {}): Promise<Response> {
    const url = new URL(path, this.baseUrl).href;
    const scope = options.scope ?? "";
    const authorizer = this.options.authorizer;
    for (let attempt = 0; ; attempt++) {
      let response = await this.send(url, options, authorizer?.header(this.host, scope));
      if (response.status === 401 && authorizer && !options.accept?.includes(401)) {
        const header = await authorizer.onChallenge(this.host, scope, response);
        await response.body?.cancel();
        response = await this.send(url, options, header);
      }
      if (response.ok || options.accept?.includes(response.status)) return response;
      const error = await this.responseError(response, options, attempt + 1);
      const transient = RETRYABLE.has(response.status) || options.transientCodes?.includes(error.details.code ?? "");
      if (transient && attempt < this.retries) {
        const retryAfter = Number(response.headers.get("retry-after")) * 1000;
        const backoff = Math.min(MAX_BACKOFF_MS, 100 * 2 ** attempt) * (0.5 + Math.random() / 2);
        await sleep(Math.min(MAX_BACKOFF_MS, retryAfter > 0 ? retryAfter : backoff));
        continue;
      }
      throw error;
    }
  }

  private async send(url: string, options: RequestOptions, authorization?: string): Promise<Response> {
    const headers = { ...options.headers, ...(authorization && { Authorization: authorization }) };
    refuseCleartextCredentials(url, headers);
    const method = options.method ?? "GET";
    try {
      return await this.fetch(url, {
        method,
        headers,
        // TypeScript's BodyInit omits Uint8Array<ArrayBufferLike>; fetch takes any Uint8Array.
        body: options.body as BodyInit | undefined,
        redirect: "follow",
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (error) {
      const name = (error as Error).name;
      if (name === "TimeoutError" || name === "AbortError") {
        throw new OciError(
          "timeout",
          `the registry at ${this.baseUrl} did not answer ${method} ${new URL(url).pathname} within ${this.timeoutMs / 1000} s`,
          { subject: this.host },
        );
      }
      if (error instanceof OciError) throw error;
      const { kind, reason } = networkFailure(error);
      throw new OciError(kind, `cannot reach the registry at ${this.baseUrl}: ${reason}`, { subject: this.host });
    }
  }

  private async responseError(response: Response, options: RequestOptions, attempts: number): Promise<OciError> {
    const text = await response.text().catch(() => "");
    let code: string | undefined;
    let detail: string | undefined;
    try {
      const first = JSON.parse(text).errors?.[0];
      if (first) {
        code = first.code;
        detail = first.message ?? code;
      }
    } catch {
      // Not a distribution error body.
    }
    const status = response.status;
    const subject = options.subject ?? new URL(response.url || this.baseUrl).pathname;
    const details = { status, code, subject, attempts };
    if (status === 400 && /HTTP request to an HTTPS server/i.test(text)) {
      return new OciError("tls", `${this.host} speaks TLS (HTTPS), but this client sent plain HTTP`, details);
    }
    if (code === undefined && !(await this.isRegistry())) {
      const type = response.headers.get("content-type")?.split(";")[0];
      return new OciError(
        "not-a-registry",
        `${this.baseUrl} answers, but not as an OCI registry (${options.method ?? "GET"} ${new URL(response.url || this.baseUrl).pathname} ` +
          `answered ${status}${type ? ` ${type}` : ""}, and GET /v2/ does not answer like a registry)`,
        details,
      );
    }
    // A body that is not a distribution error is shown only as far as its first line, and an HTML page not at all.
    const html = /html/i.test(response.headers.get("content-type") ?? "");
    detail ??= html ? "an HTML page" : text.trim().split("\n")[0].slice(0, 200);
    const kind: ErrorKind = status === 404
      ? "not-found"
      : status === 401
      ? "unauthorized"
      : status === 403
      ? "denied"
      : RETRYABLE.has(status)
      ? "unavailable"
      : "rejected";
    const what = status === 404 ? "not found" : detail || response.statusText;
    const why = status === 404 ? "" : ` (${code ?? `HTTP ${status}`})`;
    return new OciError(kind, `Error response from registry: ${subject}: ${what}${why}`, details);
  }

  private registryCheck?: Promise<boolean>;

  /**
   * Whether GET /v2/ answers as the distribution spec says a registry does (200, or 401 asking
   * for credentials). Asked once, only after an answer that is not a registry's error body.
   */
  isRegistry(): Promise<boolean> {
    this.registryCheck ??= this.send(new URL("/v2/", this.baseUrl).href, {})
      .then(async (response) => {
        await response.body?.cancel();
        return response.status === 200 || response.status === 401;
      })
      .catch(() => false);
    return this.registryCheck;
  }

  /** GETs every page of a list, following `Link: <…>; rel="next"`. */
  async *pages<T>(path: string, options: RequestOptions, read: (body: unknown) => T[]): AsyncGenerator<T[]> {
    let next: string | undefined = path;
    while (next) {
      const response = await this.request(next, options);
      const body = await response.json().catch(() => {
        throw new OciError("invalid-content", `${options.subject}: the registry answered a list that is not JSON`, { subject: options.subject });
      });
      yield read(body);
      next = response.headers.get("link")?.match(/<([^>]+)>\s*;\s*rel="?next"?/)?.[1];
    }
  }

  /** `GET /v2/_catalog`, page by page. */
  catalog(): AsyncGenerator<string[]> {
    // Distribution walks its whole storage for every page, so listing takes pages x repositories:
    // 1,000 a page (its cap since CVE-2023-2253; default 100) makes that 10 times less.
    return this.pages(
      "/v2/_catalog?n=1000",
      { subject: this.host, scope: "registry:catalog:*" },
      (body) => (body as { repositories?: string[] }).repositories ?? [],
    );
  }

  /** Remembers that a repository holds a blob, so neither is asked about again. */
  remember(repository: string, digest: string) {
    let blobs = this.knownBlobs.get(repository);
    if (!blobs) this.knownBlobs.set(repository, (blobs = new Set()));
    blobs.add(digest);
    if (!this.holders.has(digest)) this.holders.set(digest, repository);
  }

  knows(repository: string, digest: string): boolean {
    return this.knownBlobs.get(repository)?.has(digest) ?? false;
  }

  /** A repository of this registry known to hold the blob, to mount it from. */
  holderOf(digest: string): string | undefined {
    return this.holders.get(digest);
  }
}

/** One repository of a registry; methods take a tag or a digest, like oras-go's remote.Repository. */
export class Repository {
  constructor(
    readonly registry: Registry,
    readonly name: string,
  ) {}

  /** `host/name`, `host/name:tag` or `host/name@sha256:…`: how oras names it in messages. */
  reference(tagOrDigest?: string): string {
    const base = `${this.registry.host}/${this.name}`;
    if (!tagOrDigest) return base;
    return tagOrDigest.startsWith("sha256:") ? `${base}@${tagOrDigest}` : `${base}:${tagOrDigest}`;
  }

  private scope(push = false) {
    return `repository:${this.name}:${push ? "pull,push" : "pull"}`;
  }

  /** `GET tags/list`, page by page, in the registry's order. */
  tags(): AsyncGenerator<string[]> {
    return this.registry.pages(
      `/v2/${this.name}/tags/list`,
      { subject: this.reference(), scope: this.scope() },
      (body) => (body as { tags?: string[] | null }).tags ?? [],
    );
  }

  /** HEADs a manifest: its descriptor, from `Content-Type`, `Docker-Content-Digest` and `Content-Length`. */
  async resolve(reference: string): Promise<Descriptor> {
    const subject = this.reference(reference);
    const response = await this.registry.request(`/v2/${this.name}/manifests/${reference}`, {
      method: "HEAD",
      headers: { Accept: MANIFEST_ACCEPT },
      subject,
      scope: this.scope(),
    });
    const digest = response.headers.get("docker-content-digest");
    if (!digest) throw new OciError("invalid-content", `the registry sent no Docker-Content-Digest for ${subject}`, { subject });
    if (reference.startsWith("sha256:") && digest !== reference) {
      throw new OciError("invalid-content", `the registry resolved ${subject} to ${digest}`, { subject });
    }
    return {
      mediaType: response.headers.get("content-type") ?? "",
      digest,
      size: Number(response.headers.get("content-length") ?? 0),
    };
  }

  /** Whether a manifest with this digest is there; nothing else (404 is an answer here). */
  async hasManifest(digest: string): Promise<boolean> {
    const response = await this.registry.request(`/v2/${this.name}/manifests/${digest}`, {
      method: "HEAD",
      headers: { Accept: MANIFEST_ACCEPT },
      accept: [404],
      subject: this.reference(digest),
      scope: this.scope(),
    });
    return response.status !== 404;
  }

  /**
   * GETs a manifest's bytes and proves they are the ones asked for: their digest must equal the
   * digest in the reference, and the `Docker-Content-Digest` the registry announces.
   */
  async fetchManifest(reference: string): Promise<{ descriptor: Descriptor; bytes: Uint8Array }> {
    const subject = this.reference(reference);
    const response = await this.registry.request(`/v2/${this.name}/manifests/${reference}`, {
      headers: { Accept: MANIFEST_ACCEPT },
      subject,
      scope: this.scope(),
    });
    const announced = response.headers.get("docker-content-digest");
    const bytes = await readLimited(response, MAX_MANIFEST_BYTES, `the manifest of ${subject}`);
    const digest = sha256Digest(bytes);
    const expected = reference.startsWith("sha256:") ? reference : announced;
    if (expected && digest !== expected) {
      throw new OciError(
        "invalid-content",
        `the manifest of ${subject} hashes to ${digest}, but the ${expected === reference ? "reference" : "registry"} says ${expected}`,
        { subject },
      );
    }
    if (announced && announced !== digest) {
      throw new OciError("invalid-content", `the manifest of ${subject} hashes to ${digest}, but the registry says ${announced}`, { subject });
    }
    const mediaType = response.headers.get("content-type")?.split(";")[0] ?? "";
    return { descriptor: { mediaType, digest, size: bytes.byteLength }, bytes };
  }

  /** PUTs a manifest under a tag or its digest; the registry's answer must name the same digest. */
  async pushManifest(reference: string, bytes: Uint8Array, mediaType: string): Promise<Descriptor> {
    const subject = this.reference(reference);
    const response = await this.registry.request(`/v2/${this.name}/manifests/${reference}`, {
      method: "PUT",
      headers: { "Content-Type": mediaType },
      body: bytes,
      subject,
      scope: this.scope(true),
      // Distribution rewrites a blob's link file in place when the blob is linked again (a
      // concurrent upload or mount of it); a manifest checked at that moment reads an empty
      // link and is refused as DIGEST_INVALID, though nothing is wrong with it.
      transientCodes: ["DIGEST_INVALID"],
    });
    await response.body?.cancel();
    const digest = sha256Digest(bytes);
    const stored = response.headers.get("docker-content-digest");
    if (stored && stored !== digest) {
      throw new OciError("invalid-content", `the registry stored ${subject} as ${stored}, but its bytes hash to ${digest}`, { subject });
    }
    return { mediaType, digest, size: bytes.byteLength };
  }

  /**
   * Makes sure the repository holds the blob: known already, or HEAD says so, or mounted from
   * `mountFrom` (or another repository of this registry known to hold it), or uploaded
   * (POST, then PUT). Says which.
   */
  async ensureBlob(
    digest: string,
    bytes: () => Uint8Array | Promise<Uint8Array>,
    mountFrom?: string,
  ): Promise<"exists" | "mounted" | "uploaded"> {
    const registry = this.registry;
    if (registry.knows(this.name, digest)) return "exists";
    const scope = this.scope(true);
    // A blob seen in another repository is mounted without asking first: the mount answers 201
    // whether or not this repository held it already, so a HEAD would only cost a round trip.
    const seenIn = registry.holderOf(digest);
    if (!seenIn) {
      const head = await registry.request(`/v2/${this.name}/blobs/${digest}`, { method: "HEAD", accept: [404], scope });
      if (head.status !== 404) {
        registry.remember(this.name, digest);
        return "exists";
      }
    }
    const source = mountFrom ?? seenIn;
    const mount = source ? `?mount=${digest}&from=${source}` : "";
    const mountScope = source ? `${scope} repository:${source}:pull` : scope;
    const started = await registry.request(`/v2/${this.name}/blobs/uploads/${mount}`, { method: "POST", accept: [201, 202], scope: mountScope });
    await started.body?.cancel();
    if (started.status === 201) {
      registry.remember(this.name, digest);
      return "mounted";
    }
    const location = started.headers.get("location");
    if (!location) throw new OciError("invalid-content", `the registry started an upload to ${this.reference()} without a Location`);
    const put = new URL(location, registry.baseUrl);
    put.searchParams.set("digest", digest);
    const done = await registry.request(put.href, {
      method: "PUT",
      headers: { "Content-Type": "application/octet-stream" },
      body: await bytes(),
      accept: [201],
      scope,
    });
    await done.body?.cancel();
    registry.remember(this.name, digest);
    return "uploaded";
  }

  /** Streams a blob; the caller checks size and digest as the bytes arrive. */
  async fetchBlob(digest: string): Promise<Response> {
    const response = await this.registry.request(`/v2/${this.name}/blobs/${digest}`, {
      subject: this.reference(digest),
      scope: this.scope(),
    });
    this.registry.remember(this.name, digest);
    return response;
  }
}

/**
 * Credentials sent over plain HTTP can be read by anyone on the path, so they may only go to
 * this machine. Checked per request, since a Location header can point at another host.
 */
function refuseCleartextCredentials(url: string, headers: Record<string, string>) {
  const { protocol, host } = new URL(url);
  if (protocol !== "http:" || isLoopbackHost(host)) return;
  if (Object.keys(headers).some((name) => name.toLowerCase() === "authorization")) {
    throw new OciError("unauthorized", `refusing to send credentials over plain HTTP to ${host}`, { subject: host });
  }
}

/**
 * The chunks of an answer's body. One that breaks off (the registry stopped, or its storage
 * holds fewer bytes than it announced) becomes a clear error instead of the runtime's own
 * ("terminated", "error reading a body from connection").
 */
export async function* bodyChunks(response: Response, what: string): AsyncGenerator<Uint8Array> {
  const declared = response.headers.get("content-length");
  let received = 0;
  try {
    for await (const chunk of response.body ?? []) {
      received += chunk.byteLength;
      yield chunk;
    }
  } catch {
    throw new OciError("invalid-content", `${what} broke off after ${received}${declared ? ` of ${declared}` : ""} bytes`, {
      subject: what,
      reason: "truncated",
    });
  }
}

/** Reads a whole answer, refusing one larger than `limit` without buffering it. */
export async function readLimited(response: Response, limit: number, what: string): Promise<Uint8Array> {
  const declared = Number(response.headers.get("content-length"));
  const tooLarge = () => new OciError("too-large", `${what} is larger than ${limit.toLocaleString("en-US")} bytes; refusing it`, { subject: what });
  if (declared > limit) {
    await response.body?.cancel();
    throw tooLarge();
  }
  const chunks: Uint8Array[] = [];
  let total = 0;
  for await (const chunk of bodyChunks(response, what)) {
    total += chunk.byteLength;
    if (total > limit) throw tooLarge();
    chunks.push(chunk);
  }
  const bytes = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return bytes;
}

/** Every item of every page. */
export async function collect<T>(pages: AsyncIterable<T[]>): Promise<T[]> {
  const all: T[] = [];
  for await (const page of pages) all.push(...page);
  return all;
}
