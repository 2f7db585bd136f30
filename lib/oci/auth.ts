/**
 * Answers a registry's 401 challenges, as oras-go's auth client does.
 *
 * `Basic` challenges get the registry's user name and password. `Bearer` challenges send us to
 * the token service named by `realm`: a GET with `service` and `scope` (and Basic credentials
 * when there are some), or, holding an identity token, an OAuth2 `refresh_token` POST. The token
 * answered (`token` or `access_token`) is kept per registry and scope until its `expires_in`
 * has passed, or until the registry refuses it.
 *
 * A request goes through `authorized`, which sends it with what is known, answers a 401 once,
 * and turns a second 401 into an `OciError` "unauthorized":
 *
 *   const auth = new Authenticator({ fetch: transport.fetch, credentials: credentialLookup() });
 *   const response = await auth.authorized("registry.example:5000", pullScope("agents/plan"), (authorization) =>
 *     transport.fetch(url, { headers: authorization ? { authorization } : {} }));
 *
 * Scopes are `repository:<name>:pull`, `repository:<name>:pull,push` or `registry:catalog:*`
 * (`""` for requests that need none, like `GET /v2/`). `header` and `onChallenge` are the two
 * halves of `authorized`, for a caller that must send the request itself.
 */
import type { Credential } from "./credentials.ts";
import { OciError } from "./errors.ts";
import { isLoopbackHost } from "./reference.ts";
import { type HttpRequest, type HttpResponse, readStart } from "./transport.ts";

export const pullScope = (repository: string) => `repository:${repository}:pull`;
export const pushScope = (repository: string) => `repository:${repository}:pull,push`;
export const deleteScope = (repository: string) => `repository:${repository}:delete`;
export const CATALOG_SCOPE = "registry:catalog:*";

/** What the token service may take at most to answer (oras-go's limit). */
const MAX_TOKEN_RESPONSE_BYTES = 128 * 1024;
/** The distribution token spec's default lifetime, when the answer gives none. */
const DEFAULT_EXPIRES_IN_SECONDS = 60;
const CLIENT_ID = "pallet-registry";

export interface Challenge {
  /** Lowercase: "basic", "bearer", … */
  scheme: string;
  params: Record<string, string>;
}

/**
 * The first challenge of a `WWW-Authenticate` header (RFC 7235): its scheme and parameters,
 * quoted strings unquoted (commas and escapes in them kept).
 */
export function parseChallenge(header: string): Challenge {
  const token = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+/;
  let rest = header.trim();
  const scheme = token.exec(rest)?.[0] ?? "";
  rest = rest.slice(scheme.length);
  const params: Record<string, string> = {};
  for (;;) {
    const name = token.exec((rest = rest.trimStart()))?.[0];
    if (!name) break;
    rest = rest.slice(name.length).trimStart();
    if (!rest.startsWith("=")) break; // the next challenge's scheme
    rest = rest.slice(1).trimStart();
    const quoted = /^"((?:[^"\\]|\\.)*)"/.exec(rest);
    const value = quoted ? quoted[1].replace(/\\(.)/g, "$1") : token.exec(rest)?.[0];
    if (value === undefined) break;
    params[name.toLowerCase()] = value;
    rest = rest.slice(quoted ? quoted[0].length : value.length).trimStart();
    if (!rest.startsWith(",")) break;
    rest = rest.slice(1);
  }
  return { scheme: scheme.toLowerCase(), params };
}

/** One scope per resource, its actions joined and sorted: "repository:a:pull" and "repository:a:push" make "repository:a:pull,push". */
function mergeScopes(scopes: string[]): string[] {
  const actions = new Map<string, Set<string>>();
  for (const scope of scopes.flatMap((s) => s.split(" ")).filter(Boolean)) {
    const colon = scope.lastIndexOf(":");
    if (colon < 0) continue;
    const resource = scope.slice(0, colon);
    const set = actions.get(resource) ?? new Set();
    for (const action of scope.slice(colon + 1).split(",").filter(Boolean)) set.add(action);
    actions.set(resource, set);
  }
  return [...actions].sort(([a], [b]) => a.localeCompare(b)).map(([resource, set]) =>
    `${resource}:${set.has("*") ? "*" : [...set].sort().join(",")}`
  );
}

interface Token {
  authorization: string;
  /** Date.now() after which it is not used. */
  expiresAt: number;
}

export interface AuthenticatorOptions {
  /** Sends the token service's requests: the registry's transport, which throws `OciError`s for network failures. */
  fetch: (url: string, init?: HttpRequest) => Promise<HttpResponse>;
  /** The credential for a registry host:port, or undefined; asked only when a challenge comes. */
  credentials: (registry: string) => Promise<Credential | undefined>;
}

export class Authenticator {
  /** Which scheme each registry asked for last: it decides what `header` sends unasked. */
  private readonly schemes = new Map<string, "basic" | "bearer">();
  private readonly basic = new Map<string, string>();
  private readonly tokens = new Map<string, Token>();
  /** Token requests under way, so that concurrent 401s for one scope fetch one token. */
  private readonly pending = new Map<string, Promise<Token>>();

  constructor(private readonly options: AuthenticatorOptions) {}

  /** Sends a request with what is known, answers a 401 once; a second 401 is an `OciError` "unauthorized". */
  async authorized(registry: string, scope: string, send: (authorization?: string) => Promise<HttpResponse>): Promise<HttpResponse> {
    const first = this.header(registry, scope);
    const response = await send(first);
    if (response.status !== 401) return response;
    await response.body?.cancel();
    const authorization = await this.onChallenge(registry, scope, response, first);
    const retried = await send(authorization);
    if (retried.status !== 401) return retried;
    await retried.body?.cancel();
    this.tokens.delete(tokenKey(registry, scope));
    throw await this.refused(registry, scope, parseChallenge(retried.headers.get("www-authenticate") ?? "").params.error);
  }

  /** The Authorization header to send unasked: the registry's Basic credentials, or a live token for the scope. */
  header(registry: string, scope: string): string | undefined {
    if (this.schemes.get(registry) === "basic") return this.basic.get(registry);
    const token = this.tokens.get(tokenKey(registry, scope));
    if (token && token.expiresAt > Date.now()) return token.authorization;
    this.tokens.delete(tokenKey(registry, scope));
    return undefined;
  }

  /**
   * The Authorization header that answers a 401 `response` to a request for `scope`, which was
   * sent with `sent` (or without one). A token that was refused is not offered again.
   */
  async onChallenge(registry: string, scope: string, response: HttpResponse, sent?: string): Promise<string> {
    const header = response.headers.get("www-authenticate") ?? "";
    const challenge = parseChallenge(header);
    if (challenge.scheme === "basic") {
      this.schemes.set(registry, "basic");
      const authorization = await this.basicAuthorization(registry);
      if (authorization === sent) throw await this.refused(registry, scope);
      this.basic.set(registry, authorization);
      return authorization;
    }
    if (challenge.scheme !== "bearer") {
      throw new OciError(
        "unauthorized",
        header ? `${registry} asks for "${header.slice(0, 100)}" authentication, which is not supported (only Basic and Bearer)` : `${registry} answered 401 without a WWW-Authenticate challenge`,
        { status: 401, subject: registry, reason: "unsupported-challenge" },
      );
    }
    this.schemes.set(registry, "bearer");
    const key = tokenKey(registry, scope);
    const known = this.tokens.get(key);
    // Another request renewed it meanwhile.
    if (known && known.authorization !== sent && known.expiresAt > Date.now()) return known.authorization;
    this.tokens.delete(key);
    let pending = this.pending.get(key);
    if (!pending) {
      pending = this.fetchToken(registry, challenge.params, mergeScopes([scope, challenge.params.scope ?? ""]));
      this.pending.set(key, pending);
      pending.then((token) => this.tokens.set(key, token), () => {}).finally(() => this.pending.delete(key));
    }
    return (await pending).authorization;
  }

  private async basicAuthorization(registry: string): Promise<string> {
    const credential = await this.options.credentials(registry);
    if (credential?.username === undefined || credential.password === undefined) {
      throw new OciError(
        "unauthorized",
        credential
          ? `${registry} asks for a user name and password (Basic auth), but the credential from ${credential.source} is an identity token`
          : `${registry} asks for a user name and password (Basic auth), and none were found for it`,
        { status: 401, subject: registry, reason: "no-credentials" },
      );
    }
    return `Basic ${Buffer.from(`${credential.username}:${credential.password}`).toString("base64")}`;
  }

  /** Asks the token service named by the challenge for a token covering `scopes`. */
  private async fetchToken(registry: string, params: Record<string, string>, scopes: string[]): Promise<Token> {
    const problem = (kind: "unauthorized" | "unavailable", what: string, status?: number) =>
      new OciError(kind, `token service ${params.realm} for ${registry}: ${what}`, { status, subject: registry, reason: "token-service" });
    let realm: URL;
    try {
      realm = new URL(params.realm ?? "");
    } catch {
      throw new OciError("unauthorized", `${registry} names no usable token service (realm "${params.realm ?? ""}")`, {
        status: 401,
        subject: registry,
        reason: "token-service",
      });
    }
    const credential = await this.options.credentials(registry);
    // The registry names the realm: plain HTTP to another machine would show the password to the network.
    if (credential && realm.protocol === "http:" && !isLoopbackHost(realm.host)) {
      throw new OciError(
        "unauthorized",
        `refusing to send the credentials from ${credential.source} to the token service ${realm.origin} of ${registry} over plain HTTP`,
        { status: 401, subject: registry, reason: "cleartext-token-service" },
      );
    }
    const askedAt = Date.now();
    let response: HttpResponse;
    try {
      response = await this.options.fetch(...tokenRequest(realm, params.service, scopes, credential));
    } catch (error) {
      if (!(error instanceof OciError)) throw error;
      throw new OciError(error.kind, `token service ${params.realm} for ${registry}: ${error.message}`, { ...error.details, subject: registry });
    }
    const body = await readStart(response, MAX_TOKEN_RESPONSE_BYTES + 1);
    const text = new TextDecoder().decode(body);
    if (response.status === 401 || response.status === 403) {
      throw problem(
        "unauthorized",
        credential
          ? `it refused the credentials from ${credential.source}${credential.username ? ` (user ${credential.username})` : ""} (HTTP ${response.status})`
          : `it refused an anonymous request: ${registry} needs credentials, and none were found for it (HTTP ${response.status})`,
        response.status,
      );
    }
    if (!response.ok) {
      throw problem(response.status >= 500 ? "unavailable" : "unauthorized", `it answered HTTP ${response.status}`, response.status);
    }
    if (body.byteLength > MAX_TOKEN_RESPONSE_BYTES) throw problem("unauthorized", `its answer is over ${MAX_TOKEN_RESPONSE_BYTES} bytes`);
    let answer: { token?: unknown; access_token?: unknown; expires_in?: unknown };
    try {
      answer = JSON.parse(text);
    } catch {
      throw problem("unauthorized", "its answer is not JSON");
    }
    const token = [answer.access_token, answer.token].find((t) => typeof t === "string" && t !== "");
    if (typeof token !== "string") throw problem("unauthorized", "its answer holds no token");
    const expiresIn = typeof answer.expires_in === "number" && answer.expires_in > 0 ? answer.expires_in : DEFAULT_EXPIRES_IN_SECONDS;
    return { authorization: `Bearer ${token}`, expiresAt: askedAt + expiresIn * 1000 };
  }

  /**
   * Why a request was refused although its challenge was answered. A token service's token that
   * the registry refuses says why in the challenge's `error` (RFC 6750): `invalid_token` (expired,
   * or signed by a key the registry does not trust) or `insufficient_scope` (not granted).
   */
  private async refused(registry: string, scope: string, bearerError?: string): Promise<OciError> {
    const credential = await this.options.credentials(registry);
    const what = scope ? ` for ${scope}` : "";
    const whose = credential ? `the credentials from ${credential.source}${credential.username ? ` (user ${credential.username})` : ""}` : "";
    if (bearerError === "invalid_token") {
      return new OciError(
        "unauthorized",
        `${registry} refused the token its token service issued${what}: invalid_token (the token has expired, or is not signed by a key the registry trusts)`,
        { status: 401, subject: registry, reason: "invalid-token" },
      );
    }
    if (bearerError === "insufficient_scope" && credential) {
      return new OciError("denied", `${registry} refused access${what}: the token service did not grant it to ${whose} (insufficient_scope)`, {
        status: 401,
        subject: registry,
        reason: "insufficient-scope",
      });
    }
    return new OciError(
      "unauthorized",
      credential
        ? `${registry} refused access${what} with ${whose}`
        : `${registry} refused access${what}: it needs credentials, and none were found for it`,
      // Anonymous: a token was handed out, but it grants nothing here (public registries do so).
      { status: 401, subject: registry, reason: credential ? "rejected-credentials" : "anonymous-refused" },
    );
  }
}

const tokenKey = (registry: string, scope: string) => `${registry} ${scope}`;

/**
 * The token request: with an identity token, oras-go's OAuth2 refresh-token POST; else the
 * distribution token GET, with Basic credentials when there are some.
 */
function tokenRequest(realm: URL, service: string | undefined, scopes: string[], credential?: Credential): [string, HttpRequest] {
  if (credential?.identityToken) {
    const form = new URLSearchParams({ grant_type: "refresh_token", refresh_token: credential.identityToken, client_id: CLIENT_ID });
    if (service) form.set("service", service);
    if (scopes.length > 0) form.set("scope", scopes.join(" "));
    return [realm.href, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: form.toString() }];
  }
  const url = new URL(realm);
  if (service) url.searchParams.set("service", service);
  for (const scope of scopes) url.searchParams.append("scope", scope);
  const headers: Record<string, string> = {};
  if (credential?.username !== undefined && credential.password !== undefined) {
    headers.authorization = `Basic ${Buffer.from(`${credential.username}:${credential.password}`).toString("base64")}`;
  }
  return [url.href, { headers }];
}
