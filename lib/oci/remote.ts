import { CliError, ContentError, EnvironmentError } from "../errors.ts";
import { isLoopbackHost } from "./reference.ts";
import { sha256Digest } from "./digest.ts";
import { MANIFEST_ACCEPT, MAX_MANIFEST_BYTES } from "./manifest.ts";

/**
 * An error answer from the registry, with the distribution error code when it sent one. Missing
 * or refused content exits 1; a registry that wants credentials or keeps failing is the
 * environment's problem and exits 2.
 */
export class RegistryResponseError extends CliError {
  constructor(
    message: string,
    readonly status: number,
    readonly code?: string,
    hint?: string,
  ) {
    super(message, status === 401 || status === 403 || RETRYABLE.has(status) ? 2 : 1, hint);
  }
}

export interface ClientOptions {
  /** Plain HTTP instead of TLS. Defaults to true for loopback hosts only, as oras does for localhost. */
  plainHttp?: boolean;
  /** Whole-request time limit in milliseconds. */
  timeoutMs?: number;
  /** Extra attempts for 5xx, 408 and 429 answers. */
  retries?: number;
}

interface RequestOptions {
  method?: string;
  headers?: Record<string, string>;
  body?: Uint8Array;
  /** Statuses that are answers, not errors (404 for existence checks). */
  accept?: number[];
  /** What to name in an error message, e.g. "localhost:5000/agents/plan:v9". */
  subject?: string;
  /** Distribution error codes that are transient for this request, retried like a 503. */
  transientCodes?: string[];
}

const RETRYABLE = new Set([408, 429, 500, 502, 503, 504]);
const MAX_BACKOFF_MS = 4000;
export const DEFAULT_TIMEOUT_MS = Number(process.env.REGISTRY_TIMEOUT ?? 10) * 1000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Why fetch failed, from Node's `cause.code` or Deno's message text. */
function networkReason(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  const text = `${cause?.code ?? ""} ${cause?.message ?? ""} ${(error as Error).message}`;
  if (/ECONNREFUSED|refused/i.test(text)) return "connection refused";
  if (/ENOTFOUND|EAI_AGAIN|dns|lookup|resolve/i.test(text)) return "host not found";
  if (/ECONNRESET|reset|closed|socket|EPIPE/i.test(text)) return "connection closed by the registry";
  if (/certificate|TLS|SSL|handshake/i.test(text)) return `TLS failed (${cause?.message ?? text.trim()})`;
  return cause?.message ?? (error as Error).message;
}

/**
 * The registry side of an OCI client: one registry host, over `fetch`, which keeps connections
 * alive between requests. Knows which blobs each repository already holds so that repeated
 * pushes (a fleet of cards, the shared empty config) do not ask twice.
 */
export class RegistryClient {
  readonly baseUrl: string;
  private readonly timeoutMs: number;
  private readonly retries: number;
  private readonly knownBlobs = new Map<string, Set<string>>();
  /** For each known digest, the first repository seen holding it: where to mount it from. */
  private readonly holders = new Map<string, string>();

  constructor(
    readonly registry: string,
    options: ClientOptions = {},
  ) {
    const plainHttp = options.plainHttp ?? isLoopbackHost(registry);
    this.baseUrl = `${plainHttp ? "http" : "https"}://${registry}`;
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.retries = options.retries ?? 4;
  }

  /** Sends a request, retrying transient answers with exponential backoff. */
  async request(path: string, options: RequestOptions = {}): Promise<Response> {
    const url = new URL(path, this.baseUrl).href;
    refuseCleartextCredentials(url, options.headers);
    for (let attempt = 0; ; attempt++) {
      const response = await this.send(url, options);
      if (response.ok || options.accept?.includes(response.status)) return response;
      const error = await this.responseError(response, options, attempt + 1);
      const transient = RETRYABLE.has(response.status) || options.transientCodes?.includes(error.code ?? "");
      if (transient && attempt < this.retries) {
        const retryAfter = Number(response.headers.get("retry-after")) * 1000;
        const backoff = Math.min(MAX_BACKOFF_MS, 100 * 2 ** attempt) * (0.5 + Math.random() / 2);
        await sleep(Math.min(MAX_BACKOFF_MS, retryAfter > 0 ? retryAfter : backoff));
        continue;
      }
      throw error;
    }
  }

  private async send(url: string, options: RequestOptions): Promise<Response> {
    try {
      return await fetch(url, {
        method: options.method ?? "GET",
        headers: options.headers,
        // TypeScript's BodyInit omits Uint8Array<ArrayBufferLike>; fetch takes any Uint8Array.
        body: options.body as BodyInit | undefined,
        redirect: "follow",
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (error) {
      const name = (error as Error).name;
      if (name === "TimeoutError" || name === "AbortError") {
        throw new EnvironmentError(
          `the registry at ${this.baseUrl} did not answer ${options.method ?? "GET"} ${new URL(url).pathname} within ${this.timeoutMs / 1000} s`,
          "Something there accepts connections but does not answer like a registry: check it with `make registry-status`,\n" +
            "start a registry with `make registry` (or point REGISTRY at one), or allow more time with REGISTRY_TIMEOUT=seconds.",
        );
      }
      throw new EnvironmentError(
        `cannot reach the registry at ${this.baseUrl}: ${networkReason(error)}`,
        `Start one with \`make registry\` (or point REGISTRY at a running one, e.g. REGISTRY=localhost:5000).`,
      );
    }
  }

  private async responseError(response: Response, options: RequestOptions, attempts: number): Promise<RegistryResponseError> {
    const text = await response.text().catch(() => "");
    let code: string | undefined;
    let detail = text.trim().slice(0, 300);
    try {
      const first = JSON.parse(text).errors?.[0];
      if (first) {
        code = first.code;
        detail = first.message ?? code;
      }
    } catch {
      // Not a distribution error body; the text itself is the best detail.
    }
    const subject = options.subject ?? new URL(response.url || this.baseUrl).pathname;
    const what = response.status === 404 ? "not found" : detail || response.statusText;
    const hint = response.status === 401 || response.status === 403
      ? "The registry wants credentials this client did not send; log in with `docker login` or `oras login`."
      : RETRYABLE.has(response.status)
      ? `It answered ${response.status} ${attempts} times in a row: check it with \`make registry-status\` and its log, then run again.`
      : undefined;
    const why = response.status === 404 ? "" : ` (${code ?? `HTTP ${response.status}`})`;
    return new RegistryResponseError(
      `Error response from registry: ${subject}: ${what}${why}`,
      response.status,
      code,
      hint,
    );
  }

  /** GETs every page of a list, following `Link: <…>; rel="next"`. */
  private async *pages<T>(path: string, subject: string, read: (body: unknown) => T[]): AsyncGenerator<T[]> {
    let next: string | undefined = path;
    while (next) {
      const response = await this.request(next, { subject });
      yield read(await response.json());
      next = response.headers.get("link")?.match(/<([^>]+)>\s*;\s*rel="?next"?/)?.[1];
    }
  }

  async *catalog(): AsyncGenerator<string[]> {
    // Distribution walks its whole storage for every page, so listing takes pages x repositories:
    // 1,000 a page (its cap since CVE-2023-2253; default 100) makes that 10 times less.
    yield* this.pages("/v2/_catalog?n=1000", this.registry, (body) => (body as { repositories?: string[] }).repositories ?? []);
  }

  async *tags(repository: string): AsyncGenerator<string[]> {
    yield* this.pages(
      `/v2/${repository}/tags/list`,
      `${this.registry}/${repository}`,
      (body) => (body as { tags?: string[] | null }).tags ?? [],
    );
  }

  /** HEADs a manifest; the digest is the registry's `Docker-Content-Digest`, or undefined when absent. */
  async resolve(repository: string, reference: string, subject: string): Promise<string | undefined> {
    const response = await this.request(`/v2/${repository}/manifests/${reference}`, {
      method: "HEAD",
      headers: { Accept: MANIFEST_ACCEPT },
      accept: [404],
      subject,
    });
    if (response.status === 404) return undefined;
    const digest = response.headers.get("docker-content-digest");
    if (!digest) throw new ContentError(`the registry sent no Docker-Content-Digest for ${subject}`);
    return digest;
  }

  async fetchManifest(
    repository: string,
    reference: string,
    subject: string,
  ): Promise<{ bytes: Uint8Array; mediaType: string; digest: string }> {
    const response = await this.request(`/v2/${repository}/manifests/${reference}`, {
      headers: { Accept: MANIFEST_ACCEPT },
      subject,
    });
    const bytes = await readLimited(response, MAX_MANIFEST_BYTES, `the manifest of ${subject}`);
    const digest = sha256Digest(bytes);
    if (reference.startsWith("sha256:") && digest !== reference) {
      throw new ContentError(`the manifest of ${subject} has digest ${digest}, not the one asked for`);
    }
    return { bytes, mediaType: response.headers.get("content-type") ?? "", digest };
  }

  async putManifest(repository: string, reference: string, bytes: Uint8Array, mediaType: string, subject: string) {
    const response = await this.request(`/v2/${repository}/manifests/${reference}`, {
      method: "PUT",
      headers: { "Content-Type": mediaType },
      body: bytes,
      subject,
      // Distribution rewrites a blob's link file in place when the blob is linked again (a
      // concurrent upload or mount of it); a manifest checked at that moment reads an empty
      // link and is refused as DIGEST_INVALID, though nothing is wrong with it.
      transientCodes: ["DIGEST_INVALID"],
    });
    await response.body?.cancel();
    const expected = sha256Digest(bytes);
    const digest = response.headers.get("docker-content-digest");
    if (digest && digest !== expected) {
      throw new ContentError(`the registry stored ${subject} as ${digest}, but its bytes hash to ${expected}`);
    }
    return expected;
  }

  private remember(repository: string, digest: string) {
    let blobs = this.knownBlobs.get(repository);
    if (!blobs) this.knownBlobs.set(repository, (blobs = new Set()));
    blobs.add(digest);
    if (!this.holders.has(digest)) this.holders.set(digest, repository);
  }

  /**
   * Makes sure the repository holds the blob: known already, or HEAD says so, or mounted from
   * `mountFrom` (or another repository of this registry known to hold it), or uploaded
   * (POST, then PUT). Returns what it had to do.
   */
  async ensureBlob(
    repository: string,
    digest: string,
    bytes: () => Uint8Array | Promise<Uint8Array>,
    mountFrom?: string,
  ) {
    if (this.knownBlobs.get(repository)?.has(digest)) return "known";
    // A blob seen in another repository is mounted without asking first: the mount answers 201
    // whether or not this repository held it already, so a HEAD would only cost a round trip.
    const seenIn = this.holders.get(digest);
    if (!seenIn) {
      const head = await this.request(`/v2/${repository}/blobs/${digest}`, { method: "HEAD", accept: [404] });
      if (head.status !== 404) {
        this.remember(repository, digest);
        return "exists";
      }
    }
    const source = mountFrom ?? seenIn;
    const mount = source ? `?mount=${digest}&from=${source}` : "";
    const started = await this.request(`/v2/${repository}/blobs/uploads/${mount}`, { method: "POST", accept: [201, 202] });
    await started.body?.cancel();
    if (started.status === 201) {
      this.remember(repository, digest);
      return "mounted";
    }
    const location = started.headers.get("location");
    if (!location) throw new ContentError(`the registry started an upload to ${repository} without a Location`);
    const put = new URL(location, this.baseUrl);
    put.searchParams.set("digest", digest);
    const body = await bytes();
    const done = await this.request(put.href, {
      method: "PUT",
      headers: { "Content-Type": "application/octet-stream" },
      body,
      accept: [201],
    });
    await done.body?.cancel();
    this.remember(repository, digest);
    return "uploaded";
  }

  /** Streams a blob; the caller checks size and digest as the bytes arrive. */
  async fetchBlob(repository: string, digest: string): Promise<Response> {
    const response = await this.request(`/v2/${repository}/blobs/${digest}`, { subject: `${this.registry}/${repository}@${digest}` });
    this.remember(repository, digest);
    return response;
  }
}

/**
 * Credentials sent over plain HTTP can be read by anyone on the path, so they may only go to
 * this machine. Checked per request, since a Location header can point at another host.
 */
function refuseCleartextCredentials(url: string, headers: Record<string, string> = {}) {
  const { protocol, host } = new URL(url);
  if (protocol !== "http:" || isLoopbackHost(host)) return;
  if (Object.keys(headers).some((name) => name.toLowerCase() === "authorization")) {
    throw new EnvironmentError(
      `refusing to send credentials over plain HTTP to ${host}`,
      "Use TLS for that registry (drop --plain-http / PLAIN_HTTP), or run it on loopback.",
    );
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
    throw new ContentError(
      `${what} broke off after ${received}${declared ? ` of ${declared}` : ""} bytes`,
      "The registry stopped while sending it, or its storage is damaged: check `make registry-status`;\n" +
        "if it runs and this happens again, start over with `make clean registry push`.",
    );
  }
}

/** Reads a whole answer, refusing one larger than `limit` without buffering it. */
export async function readLimited(response: Response, limit: number, what: string): Promise<Uint8Array> {
  const declared = Number(response.headers.get("content-length"));
  const tooLarge = () =>
    new ContentError(
      `${what} is larger than ${limit.toLocaleString("en-US")} bytes; refusing it`,
      "No registry stores anything this big, so the answer is broken or hostile: check that REGISTRY is the registry you meant.",
    );
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
