// The verifier's trust store: the public keys it trusts (JWKS files), each for a scope. Nothing
// else decides whom a signature is from: a card's `kid` only picks among these keys.
import { mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import type { JWK } from "jose";
import { isObject } from "../oci/json.ts";
import { UsageError } from "../errors.ts";
import { isValidRegistry, REPOSITORY_PATTERN } from "../oci/reference.ts";

/**
 * What a trusted key may vouch for: cards in one registry (`localhost:5000`), in the repositories
 * under a prefix (`localhost:5000/agents`), or whose provider is at one origin (`https://pallet.dev`).
 */
export type Scope = { registry: string } | { repository: string } | { provider: string };

/** Where a card was found: the registry and repository it came from, when it came from one. */
export interface Location {
  registry?: string;
  repository?: string;
}

/** A scope as written in the trust store, checked. */
export function parseScope(text: string): Scope {
  if (/^https?:\/\//.test(text)) {
    const origin = URL.canParse(text) ? new URL(text).origin : undefined;
    if (origin !== text || !text.startsWith("https://")) {
      throw new UsageError(`the scope ${JSON.stringify(text)} is not an HTTPS origin`, "Write a provider's origin alone, e.g. https://pallet.dev.");
    }
    return { provider: text };
  }
  const [registry, ...repository] = text.replace(/\/$/, "").split("/");
  if (!isValidRegistry(registry) || (repository.length > 0 && !REPOSITORY_PATTERN.test(repository.join("/")))) {
    throw new UsageError(
      `the scope ${JSON.stringify(text)} is neither a registry, a repository prefix nor a provider's origin`,
      "Write localhost:5000, localhost:5000/agents or https://pallet.dev.",
    );
  }
  return repository.length > 0 ? { repository: text.replace(/\/$/, "") } : { registry };
}

export const scopeText = (scope: Scope) => "registry" in scope ? scope.registry : "repository" in scope ? scope.repository : scope.provider;

/** Whether `scope` covers a card found at `where` that names `provider` as its provider's URL. */
export function inScope(scope: Scope, where: Location, provider: unknown): boolean {
  if ("registry" in scope) return where.registry === scope.registry;
  if ("repository" in scope) {
    const found = `${where.registry}/${where.repository}`;
    return where.repository !== undefined && (found === scope.repository || found.startsWith(`${scope.repository}/`));
  }
  return typeof provider === "string" && URL.canParse(provider) && new URL(provider).origin === scope.provider;
}

export interface TrustedKey {
  kid: string;
  jwk: JWK;
  scope: Scope;
  /** The JWKS file it came from. */
  source: string;
}

export interface TrustStore {
  path: string;
  keys: TrustedKey[];
}

/** The trust store's file: `{"keys": [{"jwks": "publisher.jwks.json", "for": "localhost:5000"}]}`, paths relative to it. */
interface StoreFile {
  keys: { jwks: string; for: string }[];
}

async function readJson(file: string, what: string): Promise<unknown> {
  try {
    return JSON.parse(await readFile(file, "utf8"));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new UsageError(`${what} ${file} is not JSON: ${(error as Error).message}`);
  }
}

async function readStoreFile(storePath: string): Promise<StoreFile> {
  const stored = await readJson(storePath, "the trust store") ?? { keys: [] };
  const entries = isObject(stored) && Array.isArray(stored.keys) ? stored.keys : undefined;
  if (!entries?.every((entry) => isObject(entry) && typeof entry.jwks === "string" && typeof entry.for === "string")) {
    throw new UsageError(`the trust store ${storePath} must be {"keys": [{"jwks": "<file>", "for": "<scope>"}, …]}`);
  }
  return { keys: entries as StoreFile["keys"] };
}

/** The public keys of a JWKS file, each named by its kid (its thumbprint where it has none); private or secret keys are refused. */
async function readJwks(file: string, storePath: string): Promise<JWK[]> {
  const jwks = await readJson(file, "the JWKS");
  // make clean removes tmp/, and with it a key make phase5 made there.
  if (jwks === undefined) throw new UsageError(`the trust store ${storePath} names ${file}, which does not exist`, `Put it back, or remove its entry from ${storePath}.`);
  if (!isObject(jwks) || !Array.isArray(jwks.keys)) throw new UsageError(`${file} is not a JWKS ({"keys": [...]})`);
  return await Promise.all(jwks.keys.map(async (jwk: JWK) => {
    if (jwk.kty === "oct" || jwk.d !== undefined) {
      throw new UsageError(`${file} holds a private or secret key (kid ${jwk.kid}); a trust store holds public keys only`);
    }
    return { ...jwk, kid: jwk.kid ?? await (await import("jose")).calculateJwkThumbprint(jwk) };
  }));
}

/** The trust store at `storePath`; none there means an empty one: nothing is trusted. */
export async function readTrustStore(storePath: string): Promise<TrustStore> {
  const dir = path.dirname(storePath);
  const entries = (await readStoreFile(storePath)).keys;
  const keys = await Promise.all(entries.map(async (entry) => {
    const source = path.resolve(dir, entry.jwks);
    const scope = parseScope(entry.for);
    return (await readJwks(source, storePath)).map((jwk) => ({ kid: jwk.kid!, jwk, scope, source }));
  }));
  return { path: storePath, keys: keys.flat() };
}

/** Adds a JWKS to the trust store at `storePath` for `scope` (made if missing); false if it was there already. */
export async function trustKeys(storePath: string, jwksPath: string, scope: Scope): Promise<boolean> {
  const store = await readStoreFile(storePath);
  const entry = { jwks: path.relative(path.dirname(path.resolve(storePath)), path.resolve(jwksPath)), for: scopeText(scope) };
  if (store.keys.some((known) => known.jwks === entry.jwks && known.for === entry.for)) return false;
  await mkdir(path.dirname(storePath), { recursive: true });
  await writeFile(storePath, JSON.stringify({ keys: [...store.keys, entry] }, null, 2) + "\n");
  return true;
}
