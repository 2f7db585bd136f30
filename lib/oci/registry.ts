import { setTimeout as sleep } from "node:timers/promises";
import { sha256Digest } from "./digest.ts";
import { type ErrorKind, OciError, type RegistryErrorBody } from "./errors.ts";
import { type Descriptor, MANIFEST_ACCEPT, MAX_MANIFEST_BYTES } from "./manifest.ts";
import { isLoopbackHost, usesPlainHttp } from "./reference.ts";
import { createTransport, type HttpResponse, readLimited, readStart, type Transport } from "./transport.ts";
import { CATALOG_SCOPE, deleteScope, pullScope, pushScope } from "./auth.ts";

/**
 * Answers 401 challenges (lib/oci/auth.ts's Authenticator is one): sends a request with what it
 * knows for the host and scope, answers a challenge once, and throws an `OciError`
 * "unauthorized" when the registry refuses it again.
 */
export interface Authorizer {
  authorized(host: string, scope: string, send: (authorization?: string) => Promise<HttpResponse>): Promise<HttpResponse>;
}

export interface RegistryOptions {
  /**
   * How to reach it: TLS settings, the time limit, and whether plain HTTP is spoken. By default
   * plain HTTP for loopback hosts (or as `plainHttp` says), HTTPS elsewhere, `timeoutMs` per request.
   */
  transport?: Transport;
  /** Without a transport: plain HTTP instead of TLS, as usesPlainHttp decides when unset. */
  plainHttp?: boolean;
  /** Without a transport: the time limit of each request in milliseconds. */
  timeoutMs?: number;
  /** Extra attempts for 5xx, 408 and 429 answers. */
  retries?: number;
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
const DEFAULT_TIMEOUT_MS = 10_000;
/** Repositories asked for per catalog page: Distribution's default cap (catalog.maxentries). */
const CATALOG_PAGE = 1000;
/** A page of a list: 1,000 names of at most 255 characters, quoted, fit in 300 KB. */
export const MAX_PAGE_BYTES = 1024 * 1024;
/** Pages of one list: at 1,000 names a page, ten million repositories or tags. */
export const MAX_PAGES = 10_000;
/** What is read of an error answer to tell what it says. */
const MAX_ERROR_BODY_BYTES = 64 * 1024;

/**
 * One registry host, over `fetch`, which keeps connections alive between requests: retries,
 * pagination, the catalog, and what every repository of it shares (which blobs are known where).
 */
export class Registry {
  readonly baseUrl: string;
  readonly transport: Transport;
  private readonly retries: number;
  private readonly knownBlobs = new Map<string, Set<string>>();
  /** For each known digest, the first repository seen holding it: where to mount it from. */
  private readonly holders = new Map<string, string>();

  constructor(
    readonly host: string,
    private readonly options: RegistryOptions = {},
  ) {
    this.transport = options.transport ??
      createTransport({ plainHttp: usesPlainHttp(host, options.plainHttp), timeoutMs: options.timeoutMs ?? DEFAULT_TIMEOUT_MS });
    this.baseUrl = this.transport.baseUrl(host);
    this.retries = options.retries ?? 4;
  }

  repository(name: string): Repository {
    return new Repository(this, name);
  }

  /** Sends a request, answering one auth challenge and retrying transient answers with backoff. */
  async request(path: string, options: RequestOptions = {}): Promise<HttpResponse> {
    const url = new URL(path, this.baseUrl).href;
    const authorizer = options.accept?.includes(401) ? undefined : this.options.authorizer;
    for (let attempt = 0; ; attempt++) {
      const response = authorizer
        ? await authorizer.authorized(this.host, options.scope ?? "", (authorization) => this.send(url, options, authorization))
        : await this.send(url, options);
      if (response.ok || options.accept?.includes(response.status)) return response;
      const error = await this.responseError(response, url, options, attempt + 1);
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

  private async send(url: string, options: RequestOptions, authorization?: string): Promise<HttpResponse> {
    const headers = { ...options.headers, ...(authorization && { Authorization: authorization }) };
    refuseCleartextCredentials(url, headers);
    // The transport throws OciErrors: unreachable, timeout, and TLS problems by name.
    return await this.transport.fetch(url, {
      method: options.method ?? "GET",
      headers,
      body: options.body,
    });
  }

  private async responseError(response: HttpResponse, url: string, options: RequestOptions, attempts: number): Promise<OciError> {
    const text = new TextDecoder().decode(await readStart(response, MAX_ERROR_BODY_BYTES));
    let errors: RegistryErrorBody[] | undefined;
    try {
      const listed = JSON.parse(text).errors;
      if (Array.isArray(listed) && listed.length > 0) errors = listed;
    } catch {
      // Not a distribution error body.
    }
    const code = errors?.[0].code;
    let detail = errors && (errors[0].message ?? code);
    const status = response.status;
    const subject = options.subject ?? new URL(url).pathname;
    const details = { status, code, subject, attempts, request: `${options.method ?? "GET"} ${url}`, errors };
    if (code === undefined && !(await this.isRegistry())) {
      const type = response.headers.get("content-type")?.split(";")[0];
      return new OciError(
        "not-a-registry",
        `${this.baseUrl} answers, but not as an OCI registry (${options.method ?? "GET"} ${new URL(url).pathname} ` +
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
      // A TLS mix-up says more than "not a registry": a HEAD answered 400 has no body to tell it by.
      .catch((error) => {
        if (error instanceof OciError && error.kind === "tls") throw error;
        return false;
      });
    return this.registryCheck;
  }

  /** `GET /v2/` with credentials: proves the registry answers and accepts them (what `oras login` checks). */
  async ping(): Promise<void> {
    const response = await this.request("/v2/", { subject: this.host });
    await response.body?.cancel();
  }

  /**
   * GETs every page of a list, following `Link: <…>; rel="next"`: each page at most MAX_PAGE_BYTES,
   * at most MAX_PAGES of them, and never the same page twice (a link back would loop forever).
   */
  async *pages<T>(path: string, options: RequestOptions, read: (body: unknown) => T[]): AsyncGenerator<T[]> {
    const seen = new Set<string>();
    const what = `the list ${options.subject}`;
    for (let next: string | undefined = path; next;) {
      const url = new URL(next, this.baseUrl).href;
      if (seen.has(url)) {
        throw new OciError("invalid-content", `${what}: the registry's next page is one it sent already (${new URL(url).pathname}${new URL(url).search}); stopped`, {
          subject: options.subject,
          reason: "pagination-loop",
        });
      }
      if (seen.size === MAX_PAGES) {
        throw new OciError("too-large", `${what} goes on past ${MAX_PAGES.toLocaleString("en-US")} pages; stopped`, { subject: options.subject });
      }
      seen.add(url);
      const response = await this.request(url, options);
      const bytes = await readLimited(response, MAX_PAGE_BYTES, `a page of ${what}`);
      let body: unknown;
      try {
        body = JSON.parse(new TextDecoder().decode(bytes));
      } catch {
        throw new OciError("invalid-content", `${options.subject}: the registry answered a list that is not JSON`, { subject: options.subject });
      }
      yield read(body);
      next = response.headers.get("link")?.match(/<([^>]+)>\s*;\s*rel="?next"?/)?.[1];
    }
  }

  /**
   * `GET /v2/_catalog`, page by page. Pages of 1,000 are asked for first: Distribution walks its
   * whole storage for every page, so listing takes pages x repositories. A registry with a lower
   * cap refuses that (400 PAGINATION_NUMBER_INVALID), and is then asked for its own page size.
   * A registry that does not offer a catalog (401, 403 or 404, as many public ones answer) is
   * an OciError "unsupported".
   */
  async *catalog(): AsyncGenerator<string[]> {
    const read = (body: unknown) => (body as { repositories?: string[] }).repositories ?? [];
    const options = { subject: this.host, scope: CATALOG_SCOPE };
    let first = true;
    try {
      for await (const page of this.pages(`/v2/_catalog?n=${CATALOG_PAGE}`, options, read)) {
        first = false;
        yield page;
      }
    } catch (error) {
      if (!first || !(error instanceof OciError)) throw error;
      if (error.details.code === "PAGINATION_NUMBER_INVALID") {
        yield* this.pages("/v2/_catalog", options, read);
        return;
      }
      // Refused to credentials that work elsewhere, or to anonymous clients that may pull: a
      // registry that keeps its catalog to itself. Missing or wrong credentials are what they are.
      const refused = error.kind === "denied" || error.kind === "not-found" ||
        (error.kind === "unauthorized" && [undefined, "anonymous-refused", "unsupported-challenge"].includes(error.details.reason));
      if (refused) {
        throw new OciError("unsupported", `${this.host} does not let this client list its repositories (GET /v2/_catalog: ${error.message})`, {
          ...error.details,
          reason: "no-catalog",
          subject: this.host,
        });
      }
      throw error;
    }
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
    return push ? pushScope(this.name) : pullScope(this.name);
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

  /** The digest a tag (or digest) resolves to, or undefined when the repository has no such manifest. */
  async digestOf(reference: string): Promise<string | undefined> {
    try {
      return (await this.resolve(reference)).digest;
    } catch (error) {
      if (error instanceof OciError && error.kind === "not-found") return undefined;
      throw error;
    }
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

  /**
   * PUTs a manifest under a tag or its digest; the registry's answer must name the same digest.
   * `subjectIndexed`: the registry answered with OCI-Subject, saying it indexed the manifest's
   * subject for its referrers API (distribution-spec 1.1), so no client needs to.
   */
  async pushManifest(reference: string, bytes: Uint8Array, mediaType: string): Promise<Descriptor & { subjectIndexed: boolean }> {
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
    return { mediaType, digest, size: bytes.byteLength, subjectIndexed: response.headers.get("oci-subject") !== null };
  }

  /**
   * DELETEs a manifest by tag or digest; false where the registry deletes manifests only by
   * digest and refused the tag (Distribution 2.x answers 400). A registry that does not allow
   * deleting at all (Distribution without storage.delete.enabled answers 405) is an OciError
   * "unsupported" with the reason "no-delete".
   */
  async deleteManifest(reference: string): Promise<boolean> {
    const subject = this.reference(reference);
    const byTag = !reference.startsWith("sha256:");
    let response;
    try {
      response = await this.registry.request(`/v2/${this.name}/manifests/${reference}`, {
        method: "DELETE",
        subject,
        scope: deleteScope(this.name),
        accept: byTag ? [400] : [],
      });
    } catch (error) {
      if (!(error instanceof OciError && error.details.status === 405)) throw error;
      throw new OciError("unsupported", `${this.registry.host} does not allow deleting: DELETE ${subject} answered 405 (${error.details.code ?? "Method Not Allowed"})`, {
        ...error.details,
        reason: "no-delete",
      });
    }
    await response.body?.cancel();
    return response.status !== 400;
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
    const mountScope = source ? `${scope} ${pullScope(source)}` : scope;
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
  async fetchBlob(digest: string): Promise<HttpResponse> {
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
    throw new OciError("unauthorized", `refusing to send credentials over plain HTTP to ${host}`, { subject: host, reason: "cleartext" });
  }
}

/** Every item of every page. */
export async function collect<T>(pages: AsyncIterable<T[]>): Promise<T[]> {
  const all: T[] = [];
  for await (const page of pages) all.push(...page);
  return all;
}
