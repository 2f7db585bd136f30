/**
 * Requests over node:http and node:https, for Node. Node's global `fetch` loads undici on first
 * use, which costs a step under Node about 0.4 s of its start (measured: a bare `fetch` of
 * `/v2/` 565 ms, node:http 230 ms, an empty script 149 ms); node:http is part of Node's own
 * start-up. It also serves Deno where certificates must not be verified, which Deno's `fetch`
 * cannot do. Redirects are followed as `fetch` follows them, without the Authorization header
 * once they leave the origin.
 */
import http from "node:http";
import https from "node:https";
import { type HttpRequest, type HttpResponse, StreamedResponse } from "./transport.ts";

export interface NodeHttpOptions {
  /** CA certificates to trust instead of Node's default set. */
  ca?: string[];
  /** Skip certificate verification. */
  insecure?: boolean;
}

const MAX_REDIRECTS = 20;
/** A body this small is read to its end on cancel, so that its connection can be used again. */
const DRAIN_LIMIT = 64 * 1024;

export function nodeHttpClient(options: NodeHttpOptions): { fetch(url: string, init?: HttpRequest): Promise<HttpResponse>; close(): void } {
  const agents = {
    "http:": new http.Agent({ keepAlive: true }),
    "https:": new https.Agent({ keepAlive: true, ca: options.ca, rejectUnauthorized: !options.insecure }),
  };

  function once(url: URL, init: HttpRequest): Promise<http.IncomingMessage> {
    const module = url.protocol === "https:" ? https : http;
    const agent = agents[url.protocol as keyof typeof agents];
    if (!agent) return Promise.reject(new TypeError(`fetch failed: unsupported protocol ${url.protocol}`));
    const body = typeof init.body === "string" ? new TextEncoder().encode(init.body) : init.body;
    return new Promise((resolve, reject) => {
      const request = module.request(url, {
        method: init.method ?? "GET",
        headers: { ...init.headers, ...(body && { "content-length": String(body.byteLength) }) },
        agent,
        signal: init.signal,
      }, resolve);
      // As fetch does: the cause says what failed (ECONNREFUSED, a certificate's code, …).
      // An abort rejects with the signal's reason (a TimeoutError for AbortSignal.timeout), as fetch does.
      request.on("error", (error) => reject(error.name === "AbortError" ? init.signal?.reason ?? error : new TypeError("fetch failed", { cause: error })));
      request.end(body);
    });
  }

  return {
    async fetch(address, init = {}) {
      let url = new URL(address);
      let request = init;
      for (let redirects = 0;; redirects++) {
        const answer = await once(url, request);
        const location = answer.headers.location;
        if (!isRedirect(answer.statusCode ?? 0) || !location || redirects === MAX_REDIRECTS) return responseOf(answer, url, request.method ?? "GET", init.signal);
        answer.resume();
        const next = new URL(location, url);
        request = { ...request, headers: { ...request.headers } };
        if (next.origin !== url.origin) deleteHeader(request.headers!, "authorization");
        const status = answer.statusCode!;
        if (status === 303 ? request.method !== "HEAD" : (status === 301 || status === 302) && request.method === "POST") {
          request = { ...request, method: "GET", body: undefined };
          deleteHeader(request.headers!, "content-type");
        }
        url = next;
      }
    },
    close() {
      for (const agent of Object.values(agents)) agent.destroy();
    },
  };
}

const isRedirect = (status: number) => [301, 302, 303, 307, 308].includes(status);

function deleteHeader(headers: Record<string, string>, name: string) {
  for (const key of Object.keys(headers)) if (key.toLowerCase() === name) delete headers[key];
}

function responseOf(answer: http.IncomingMessage, url: URL, method: string, signal?: AbortSignal): HttpResponse {
  const headers = answer.headers;
  // Nobody reads the body of these; unread, it would hold the connection.
  if (method === "HEAD" || answer.statusCode === 204 || answer.statusCode === 304) answer.resume();
  // As with fetch, an answer nobody reads does not keep the process alive; reading it does.
  answer.socket?.unref();
  return new StreamedResponse(
    {
      status: answer.statusCode ?? 0,
      statusText: answer.statusMessage ?? "",
      url: url.href,
      header: (name) => {
        const value = headers[name.toLowerCase()];
        return value === undefined ? null : Array.isArray(value) ? value.join(", ") : value;
      },
    },
    {
      async *[Symbol.asyncIterator]() {
        answer.socket?.ref();
        try {
          for await (const chunk of answer) yield chunk as Uint8Array;
        } catch (error) {
          throw signal?.aborted ? signal.reason : error;
        }
      },
      // A connection goes back to the pool (and lets the process exit) only once its answer was read to the end.
      cancel: async () => {
        if (answer.complete || Number(answer.headers["content-length"]) <= DRAIN_LIMIT) answer.resume();
        else answer.destroy();
      },
    },
  );
}
