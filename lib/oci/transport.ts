/**
 * How to reach a registry, as oras does: HTTPS unless told otherwise, plain HTTP unasked only
 * for the host name `localhost`, and never a fallback from HTTPS to HTTP. A private CA can be
 * trusted (besides the system's) or verification skipped, under Node and Deno alike; and a
 * failed request becomes an `OciError` that says what went wrong: unreachable, timeout, or TLS,
 * including the two mix-ups of a TLS server asked in plain HTTP and a plain one asked over TLS.
 *
 *   const transport = createTransport({ caFile: "ca.pem" });
 *   const response = await transport.fetch(`${transport.baseUrl("registry.example:5000")}/v2/`);
 */
import { X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { rootCertificates } from "node:tls";
import { OciError, type Reason } from "./errors.ts";
import type { nodeHttpClient } from "./node-http.ts";

export interface TransportOptions {
  /** Plain HTTP instead of TLS, to every host; HTTPS unless set (lib/oci/reference.ts's usesPlainHttp decides). */
  plainHttp?: boolean;
  /** A PEM file of CA certificates to trust, besides the system's. */
  caFile?: string;
  /** Skip certificate verification (still TLS): for a registry with a certificate nobody signed. */
  insecure?: boolean;
  /** Time limit for each request, reading its body included, in milliseconds. */
  timeoutMs?: number;
}

/** What a request may say: the part of `fetch`'s RequestInit this client uses. */
export interface HttpRequest {
  method?: string;
  headers?: Record<string, string>;
  body?: Uint8Array | string;
  signal?: AbortSignal;
}

/** A body read chunk by chunk, or given up. */
export interface ResponseBody extends AsyncIterable<Uint8Array> {
  cancel(): Promise<void>;
}

/** An answer: the part of `fetch`'s Response this client reads, which a Response is too. */
export interface HttpResponse {
  readonly status: number;
  readonly ok: boolean;
  readonly statusText: string;
  /** The address that answered, after redirects. */
  readonly url: string;
  readonly headers: { get(name: string): string | null };
  readonly body: ResponseBody | null;
  text(): Promise<string>;
  json(): Promise<unknown>;
  arrayBuffer(): Promise<ArrayBuffer>;
}

/** The chunks of a body as one array. */
export function joinChunks(chunks: Uint8Array[]): Uint8Array {
  const bytes = new Uint8Array(chunks.reduce((sum, chunk) => sum + chunk.byteLength, 0));
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return bytes;
}

/**
 * The chunks of an answer's body. One that breaks off (the registry stopped, or its storage
 * holds fewer bytes than it announced) becomes a clear error instead of the runtime's own
 * ("terminated", "error reading a body from connection").
 */
export async function* bodyChunks(response: HttpResponse, what: string): AsyncGenerator<Uint8Array> {
  const declared = response.headers.get("content-length");
  let received = 0;
  const after = () => `after ${received}${declared ? ` of ${declared}` : ""} bytes`;
  try {
    for await (const chunk of response.body ?? []) {
      received += chunk.byteLength;
      yield chunk;
    }
  } catch (error) {
    // The request's time limit ran out while the body came: a stalled peer, not broken content.
    if ((error as Error)?.name === "TimeoutError") {
      throw new OciError("timeout", `${what} stalled: the sender stopped ${after()} and did not go on within the time limit`, { subject: what, reason: "stalled" });
    }
    throw new OciError("invalid-content", `${what} broke off ${after()}`, { subject: what, reason: "truncated" });
  }
}

/** Reads a whole answer, refusing one larger than `limit` without buffering more than that. */
export async function readLimited(response: HttpResponse, limit: number, what: string): Promise<Uint8Array> {
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
  return joinChunks(chunks);
}

/** The first `limit` bytes of an answer at most, the rest left unread: enough of an error page to tell what it says. */
export async function readStart(response: HttpResponse, limit: number): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let total = 0;
  try {
    for await (const chunk of response.body ?? []) {
      chunks.push(chunk.subarray(0, limit - total));
      total += chunk.byteLength;
      if (total >= limit) break;
    }
  } catch {
    // What came before the break is what there is to tell.
  }
  await response.body?.cancel().catch(() => {});
  return joinChunks(chunks);
}

/** An HttpResponse over any chunk source: node:http's answers, or a body already read. */
export class StreamedResponse implements HttpResponse {
  readonly status: number;
  readonly statusText: string;
  readonly url: string;
  readonly headers: { get(name: string): string | null };

  constructor(
    head: { status: number; statusText: string; url: string; header(name: string): string | null },
    readonly body: ResponseBody,
  ) {
    this.status = head.status;
    this.statusText = head.statusText;
    this.url = head.url;
    this.headers = { get: head.header };
  }

  get ok() {
    return this.status >= 200 && this.status < 300;
  }

  async arrayBuffer(): Promise<ArrayBuffer> {
    const chunks: Uint8Array[] = [];
    for await (const chunk of this.body) chunks.push(chunk);
    return joinChunks(chunks).buffer as ArrayBuffer;
  }

  async text(): Promise<string> {
    return new TextDecoder().decode(await this.arrayBuffer());
  }

  async json(): Promise<unknown> {
    return JSON.parse(await this.text());
  }
}

export interface Transport {
  /** `https://host:port` or, where plain HTTP applies, `http://host:port`. */
  baseUrl(registry: string): string;
  /** `fetch`, with the TLS settings applied and failures thrown as `OciError`s. */
  fetch(url: string, init?: HttpRequest): Promise<HttpResponse>;
  /** Which certificates are accepted, for reports: never a secret. */
  readonly trust: string;
  /** Releases pooled connections. */
  close(): Promise<void>;
}

type Fetch = (url: string, init: HttpRequest) => Promise<HttpResponse>;

export function createTransport(options: TransportOptions = {}): Transport {
  const caCerts = options.caFile === undefined ? undefined : readCaFile(options.caFile);
  const tuned = tunedFetch(caCerts, options.insecure ?? false);
  const trust = options.insecure
    ? "no certificate verification (insecure)"
    : caCerts
    ? `the system's CAs and ${options.caFile} (${caCerts.map((pem) => new X509Certificate(pem).subject.replace(/\n/g, ", ")).join("; ")})`
    : "the system's CAs";

  return {
    baseUrl: (registry) => `${options.plainHttp ? "http" : "https"}://${registry}`,
    trust,
    close: tuned.close,
    async fetch(url, init = {}) {
      const timeout = options.timeoutMs === undefined ? undefined : AbortSignal.timeout(options.timeoutMs);
      const signal = timeout && init.signal ? AbortSignal.any([timeout, init.signal]) : timeout ?? init.signal;
      let response: HttpResponse;
      try {
        response = await tuned.fetch(url, { ...init, signal });
      } catch (error) {
        // The caller's own abort is not a failure of the registry.
        if (init.signal?.aborted) throw error;
        throw connectionError(error, url, options.timeoutMs, init.method);
      }
      return response.status === 400 && url.startsWith("http:") ? await refuseHttpToHttpsServer(response, url) : response;
    },
  };
}

/** The certificates in a PEM file, each checked, or an error naming the file. */
function readCaFile(file: string): string[] {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    throw new OciError("tls", `cannot read CA file ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, {
      reason: "ca-file",
    });
  }
  const certificates = text.match(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g) ?? [];
  if (certificates.length === 0) {
    throw new OciError("tls", `CA file ${file} holds no PEM certificate ("-----BEGIN CERTIFICATE-----" block)`, { reason: "ca-file" });
  }
  for (const [index, pem] of certificates.entries()) {
    try {
      new X509Certificate(pem);
    } catch {
      throw new OciError("tls", `CA file ${file}: certificate ${index + 1} is not a valid X.509 certificate`, { reason: "ca-file" });
    }
  }
  return certificates;
}

/**
 * Deno's fetch where it can do the job: it takes extra CAs through a client, but cannot skip
 * verification. Everything else, and all of Node, goes through node:http (lib/oci/node-http.ts),
 * loaded only then.
 */
function tunedFetch(caCerts: string[] | undefined, insecure: boolean): { fetch: Fetch; close(): Promise<void> } {
  if ("Deno" in globalThis && !insecure) {
    if (!caCerts) return { fetch: (url, init) => fetch(url, init as RequestInit), close: async () => {} };
    const client = Deno.createHttpClient({ caCerts });
    return { fetch: (url, init) => fetch(url, { ...init, client } as RequestInit), close: async () => client.close() };
  }
  // Node's `ca` replaces the system's roots; keep them, as Deno's caCerts does.
  const options = { insecure, ca: caCerts && [...rootCertificates, ...caCerts] };
  let client: ReturnType<typeof nodeHttpClient> | undefined;
  const made = import("./node-http.ts").then(({ nodeHttpClient }) => (client = nodeHttpClient(options)));
  return {
    fetch: async (url, init) => (await made).fetch(url, init),
    close: async () => client?.close(),
  };
}

/**
 * Go's net/http (Distribution) and nginx answer a plain request on a TLS port with a 400 that
 * says so. The body is read here to tell, and handed on as it was.
 */
async function refuseHttpToHttpsServer(response: HttpResponse, url: string): Promise<HttpResponse> {
  // An error page: its start tells, and is all that is handed on.
  const bytes = await readStart(response, 64 * 1024);
  const text = new TextDecoder().decode(bytes);
  if (/HTTP request (was sent )?to (an )?HTTPS (server|port)/i.test(text)) {
    const { host } = new URL(url);
    throw new OciError(
      "tls",
      `${host} speaks HTTPS, but the request went over plain HTTP (it answered 400: "${text.trim().slice(0, 100)}")`,
      { reason: "https-server", subject: host, status: 400 },
    );
  }
  return new StreamedResponse(
    { status: response.status, statusText: response.statusText, url: response.url, header: (name) => response.headers.get(name) },
    { [Symbol.asyncIterator]: async function* () { yield bytes; }, cancel: async () => {} },
  );
}

/** The words of a failed fetch: Node puts a code and message in `cause`, Deno a message. */
function failureText(error: unknown): { code: string; message: string } {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  return { code: cause?.code ?? "", message: cause?.message ?? (error as Error).message ?? String(error) };
}

/** Just the reason: without Deno's "error sending request for url (…): client error (Connect): " and OpenSSL's file and line. */
function cleanDetail(message: string): string {
  const openssl = /:SSL routines:[^:]*:([^:]+):/.exec(message);
  if (openssl) return openssl[1];
  return message.replace(/^.*client error \([^)]*\): /, "").replace(/^invalid peer certificate: /, "").trim();
}

const TLS_PROBLEMS: { pattern: RegExp; reason: Reason; says: (host: string, detail: string) => string }[] = [
  {
    pattern: /WRONG[_ ]VERSION[_ ]NUMBER|PACKET_LENGTH_TOO_LONG|RECORD_LAYER_FAILURE|HTTP_REQUEST|InvalidContentType|corrupt message/i,
    reason: "plain-http-server",
    says: (host) => `${host} speaks plain HTTP, but the request went over HTTPS (the TLS handshake got a non-TLS answer)`,
  },
  {
    pattern: /ALTNAME|NotValidForName|not valid for name/i,
    reason: "name-mismatch",
    says: (host, detail) => `the TLS certificate of ${host} is not valid for that name (${detail})`,
  },
  {
    pattern: /EXPIRED|NOT_YET_VALID|NotValidYet/i,
    reason: "expired",
    says: (host, detail) => `the TLS certificate of ${host} is outside its validity period (${detail})`,
  },
  {
    // BadSignature, CERT_SIGNATURE_FAILURE: a trusted CA of the same name, but not the key that signed it.
    pattern: /UnknownIssuer|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER|SELF_SIGNED|self-signed|CaUsedAsEndEntity|unable to verify|BadSignature|SIGNATURE_FAILURE|signature failure/i,
    reason: "untrusted-certificate",
    says: (host, detail) => `the TLS certificate of ${host} is not signed by a trusted CA (${detail})`,
  },
  {
    pattern: /ERR_SSL|ERR_TLS|certificate|TLS|SSL|handshake/i,
    reason: "handshake",
    says: (host, detail) => `TLS with ${host} failed (${detail})`,
  },
];

/**
 * What a fetch exception means, as an `OciError`: "timeout" when `timeoutMs` ran out, "tls" for
 * certificate and handshake failures, else "unreachable". Works on exceptions thrown while
 * reading a body too. An `OciError` passes through unchanged. Every registry API path starts
 * with /v2, so such a peer is called the registry; any other (a token service) is named by its address.
 */
function connectionError(error: unknown, url: string, timeoutMs?: number, method = "GET"): OciError {
  if (error instanceof OciError) return error;
  const { host, origin, pathname } = new URL(url);
  const peer = /^\/v2(\/|$)/.test(pathname) ? `the registry at ${origin}` : origin;
  const name = (error as Error).name;
  if (name === "TimeoutError" || name === "AbortError") {
    const limit = timeoutMs === undefined ? "" : ` within ${timeoutMs / 1000} s`;
    return new OciError("timeout", `${peer} did not answer ${method} ${pathname}${limit}`, { subject: host });
  }
  const { code, message } = failureText(error);
  const text = `${code} ${message}`;
  const detail = cleanDetail(message);
  const tls = TLS_PROBLEMS.find((problem) => problem.pattern.test(text));
  if (tls) return new OciError("tls", tls.says(host, detail), { reason: tls.reason, subject: host });
  if (/ENOTFOUND|EAI_AGAIN|dns error|lookup/i.test(text)) {
    return new OciError("unreachable", `cannot reach ${peer}: the host name ${new URL(url).hostname} does not resolve`, { subject: host, reason: "unknown-host" });
  }
  const why = /ECONNREFUSED|refused/i.test(text)
    ? "connection refused"
    : /ECONNRESET|EPIPE|UND_ERR_SOCKET|reset|closed/i.test(text)
    ? `connection closed by ${peer.startsWith("the registry") ? "the registry" : "the server"}`
    : detail;
  return new OciError("unreachable", `cannot reach ${peer}: ${why}`, { subject: host });
}
