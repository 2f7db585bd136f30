/**
 * Where a registry's credentials come from, as oras finds them: a credential given explicitly
 * for that registry, else the Docker config (`$DOCKER_CONFIG/config.json`, else
 * `~/.docker/config.json`). There one store answers for a registry, chosen as oras chooses it:
 * the helper named by `credHelpers[registry]`, else the `credsStore` helper, else `auths`.
 * Helpers speak docker's credential-helper protocol (`docker-credential-<name> get|store|erase`).
 * `storeCredential` and `eraseCredential` write to that same store, as `oras login` and
 * `oras logout` do.
 *
 * A Credential says where it came from, for reports; no message here ever holds a secret.
 *
 *   const lookup = credentialLookup({ explicit: { "ghcr.io": { username, password, source: "--username" } } });
 *   const credential = await lookup("registry.example:5000"); // { username, password, source: "docker config auths (…)" }
 */
import { randomBytes } from "node:crypto";
import { chmod, mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { findOnPath } from "../executables.ts";
import { OciError } from "./errors.ts";

export interface Credential {
  username?: string;
  password?: string;
  /** An OAuth2 refresh token (docker's "identity token"), traded at the token service for access tokens. */
  identityToken?: string;
  /** Where it came from, e.g. "docker config auths (/home/me/.docker/config.json)". Never the secret. */
  source: string;
}

/** What `storeCredential` takes: a user name and password, or an identity token. */
export type Secret = { username: string; password: string } | { identityToken: string };

export interface ConfigOptions {
  /** The Docker config file; by default `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`. */
  configFile?: string;
}

/** A helper's answer when it holds nothing for the server (docker-credential-helpers' wording). */
const NOT_FOUND = "credentials not found in native keychain";
/** The user name a helper stores alongside an identity token. */
const TOKEN_USERNAME = "<token>";

export function dockerConfigPath(env: Record<string, string | undefined> = process.env): string {
  return path.join(env.DOCKER_CONFIG || path.join(os.homedir(), ".docker"), "config.json");
}

interface AuthEntry {
  auth?: string;
  identitytoken?: string;
  username?: string;
  password?: string;
}

interface DockerConfig {
  auths?: Record<string, AuthEntry>;
  credsStore?: string;
  credHelpers?: Record<string, string>;
  [other: string]: unknown;
}

type Store =
  | { kind: "helper"; helper: string; setting: "credHelpers" | "credsStore"; file: string }
  | { kind: "auths"; file: string };
type HelperStore = Extract<Store, { kind: "helper" }>;

const describeStore = (store: Store) =>
  store.kind === "helper"
    ? `credential helper docker-credential-${store.helper} (${store.setting} in ${store.file})`
    : `docker config auths (${store.file})`;

const configProblem = (file: string, what: string) =>
  new OciError("unauthorized", `Docker config ${file}: ${what}`, { reason: "docker-config", subject: file });

async function readConfig(file: string): Promise<DockerConfig> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return {};
    throw configProblem(file, `cannot be read (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
  }
  if (text.trim() === "") return {};
  let config: unknown;
  try {
    config = JSON.parse(text);
  } catch {
    // JSON.parse's message quotes the text, which may hold secrets.
    throw configProblem(file, "is not valid JSON");
  }
  if (typeof config !== "object" || config === null || Array.isArray(config)) throw configProblem(file, "is not a JSON object");
  return config as DockerConfig;
}

/** `https://host:port/v1/` and `host:port` name the same registry, as docker and oras match them. */
const hostOfKey = (key: string) => key.replace(/^https?:\/\//, "").split("/")[0];

function entryFor<T>(entries: Record<string, T> | undefined, registry: string): [string, T] | undefined {
  if (!entries) return undefined;
  if (Object.hasOwn(entries, registry)) return [registry, entries[registry]];
  return Object.entries(entries).find(([key]) => hostOfKey(key) === registry);
}

function storeFor(config: DockerConfig, registry: string, file: string): Store {
  const helper = entryFor(config.credHelpers, registry)?.[1];
  if (typeof helper === "string" && helper) return { kind: "helper", helper, setting: "credHelpers", file };
  if (typeof config.credsStore === "string" && config.credsStore) return { kind: "helper", helper: config.credsStore, setting: "credsStore", file };
  return { kind: "auths", file };
}

/** The credential the Docker config holds for registry, or undefined. */
export async function dockerCredential(registry: string, options: ConfigOptions = {}): Promise<Credential | undefined> {
  const file = options.configFile ?? dockerConfigPath();
  const config = await readConfig(file);
  const store = storeFor(config, registry, file);
  if (store.kind === "helper") {
    const answer = await runHelper(store, "get", registry);
    if (answer === undefined) return undefined;
    let found: { Username?: unknown; Secret?: unknown };
    try {
      found = JSON.parse(answer);
    } catch {
      throw helperProblem(store, "get", "printed something other than JSON");
    }
    if (typeof found.Secret !== "string" || typeof found.Username !== "string") {
      throw helperProblem(store, "get", "printed no Username and Secret");
    }
    const source = describeStore(store);
    return found.Username === TOKEN_USERNAME
      ? { identityToken: found.Secret, source }
      : { username: found.Username, password: found.Secret, source };
  }
  const match = entryFor(config.auths, registry);
  if (!match) return undefined;
  const [key, entry] = match;
  if (typeof entry !== "object" || entry === null) throw configProblem(file, `auths["${key}"] is not an object`);
  const source = `docker config auths["${key}"] (${file})`;
  if (typeof entry.identitytoken === "string" && entry.identitytoken) return { identityToken: entry.identitytoken, source };
  if (typeof entry.auth === "string" && entry.auth) {
    const decoded = Buffer.from(entry.auth, "base64").toString("utf8");
    const colon = decoded.indexOf(":");
    if (colon < 0) throw configProblem(file, `auths["${key}"].auth is not the base64 of user:password`);
    return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1), source };
  }
  if (entry.username && entry.password) return { username: entry.username, password: entry.password, source };
  return undefined;
}

/**
 * The credentials callback an Authenticator takes: the explicit credential given for a registry
 * (from flags or the environment), else the Docker config's. Each registry is looked up once.
 */
export function credentialLookup(
  options: ConfigOptions & { explicit?: Record<string, Credential> } = {},
): (registry: string) => Promise<Credential | undefined> {
  const found = new Map<string, Promise<Credential | undefined>>();
  return (registry) => {
    if (options.explicit?.[registry]) return Promise.resolve(options.explicit[registry]);
    if (!found.has(registry)) found.set(registry, dockerCredential(registry, options));
    return found.get(registry)!;
  };
}

/** Where `oras login` would keep a registry's credential, e.g. "docker config auths (/home/me/.docker/config.json)". */
export async function credentialStoreOf(registry: string, options: ConfigOptions = {}): Promise<string> {
  const file = options.configFile ?? dockerConfigPath();
  return describeStore(storeFor(await readConfig(file), registry, file));
}

/** Saves a credential where `oras login` would; returns where, e.g. "docker config auths (…)". */
export async function storeCredential(registry: string, secret: Secret, options: ConfigOptions = {}): Promise<string> {
  if ("username" in secret && secret.username.includes(":")) {
    throw new OciError("unauthorized", `a user name cannot contain ":" (registry ${registry})`, { reason: "bad-username" });
  }
  const file = options.configFile ?? dockerConfigPath();
  const config = await readConfig(file);
  const store = storeFor(config, registry, file);
  if (store.kind === "helper") {
    const [username, password] = "username" in secret ? [secret.username, secret.password] : [TOKEN_USERNAME, secret.identityToken];
    await runHelper(store, "store", JSON.stringify({ ServerURL: registry, Username: username, Secret: password }), password);
    return describeStore(store);
  }
  // A key spelled https://host:port is replaced, not joined by a second one.
  const key = entryFor(config.auths, registry)?.[0] ?? registry;
  const entry: AuthEntry = "username" in secret
    ? { auth: Buffer.from(`${secret.username}:${secret.password}`).toString("base64") }
    : { identitytoken: secret.identityToken };
  await writeConfig(file, { ...config, auths: { ...config.auths, [key]: entry } });
  return describeStore(store);
}

/** Removes a registry's credential where `oras logout` would; returns where it was, or undefined if nowhere. */
export async function eraseCredential(registry: string, options: ConfigOptions = {}): Promise<string | undefined> {
  const file = options.configFile ?? dockerConfigPath();
  const config = await readConfig(file);
  const store = storeFor(config, registry, file);
  if (store.kind === "helper") return await runHelper(store, "erase", registry) === undefined ? undefined : describeStore(store);
  const match = entryFor(config.auths, registry);
  if (!match) return undefined;
  const { [match[0]]: _, ...auths } = config.auths!;
  await writeConfig(file, { ...config, auths });
  return describeStore(store);
}

/** Replaces the file in one step (a crash leaves the old or the new one), readable by its owner only. */
async function writeConfig(file: string, config: DockerConfig): Promise<void> {
  const temporary = `${file}.${randomBytes(6).toString("hex")}.tmp`;
  try {
    await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
    await writeFile(temporary, `${JSON.stringify(config, null, "\t")}\n`, { mode: 0o600, flag: "wx" });
    await chmod(temporary, 0o600); // against a umask that would widen it
    await rename(temporary, file);
  } catch (error) {
    await rm(temporary, { force: true });
    throw new OciError("file-system", `cannot write Docker config ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, {
      subject: file,
    });
  }
}

const helperProblem = (store: HelperStore, action: string, what: string) =>
  new OciError("unauthorized", `credential helper docker-credential-${store.helper} (${store.setting} in ${store.file}): ${action} ${what}`, {
    reason: "credential-helper",
  });

/**
 * Runs `docker-credential-<helper> <action>` with `input` on stdin; its stdout, or undefined when
 * it holds nothing for the server. What it says on failure is passed on, `secret` blotted out.
 */
async function runHelper(store: HelperStore, action: "get" | "store" | "erase", input: string, secret?: string): Promise<string | undefined> {
  const program = findOnPath(`docker-credential-${store.helper}`);
  if (!program) throw helperProblem(store, action, "failed: the program is not on PATH");
  // Loaded here: only helpers need zx, and it costs start-up time.
  const { $ } = await import("zx");
  const result = await $({ input, quiet: true, nothrow: true })`${program} ${action}`;
  if (result.exitCode === 0) return result.stdout;
  let said = result.stdout.trim() || result.stderr.trim();
  if (secret) said = said.split(secret).join("***");
  said = said.slice(0, 200);
  if (said === NOT_FOUND) return undefined;
  throw helperProblem(store, action, `failed (exit ${result.exitCode}${said ? `: ${said}` : ""})`);
}
