/**
 * Real registries with TLS and authentication, for tests: Docker Distribution over TLS with
 * htpasswd (Basic) auth, and Distribution with `auth.token` behind a small token server. Each
 * runs on a free loopback port with its certificates, passwords and data in a temp dir that
 * stop() removes. Certificates come from openssl, bcrypt passwords from htpasswd (apache2-utils).
 */
import { createPrivateKey, randomUUID, sign, X509Certificate } from "node:crypto";
import { mkdtemp, readFile, rm, symlink, writeFile } from "node:fs/promises";
import https from "node:https";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { after, before } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { $ } from "zx";
import { createTransport } from "../lib/oci/transport.ts";
import { freePort, type RegistryProcess, startDistribution } from "../lib/registry-server.ts";

/** A CA and a server certificate it signed, valid for 127.0.0.1 and localhost. */
export interface Pki {
  caFile: string;
  certFile: string;
  keyFile: string;
}

export async function createPki(dir: string): Promise<Pki> {
  const file = (name: string) => path.join(dir, name);
  const quiet = $({ quiet: true });
  // EC keys: generated in milliseconds, where RSA takes a good part of a second.
  const key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
  await quiet`openssl req -x509 ${key} -days 2 -subj /CN=pallet-test-ca -keyout ${file("ca.key")} -out ${file("ca.pem")} -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign`;
  await quiet`openssl req ${key} -subj /CN=localhost -keyout ${file("server.key")} -out ${file("server.csr")}`;
  await writeFile(file("server.ext"), "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n");
  await quiet`openssl x509 -req -days 2 -in ${file("server.csr")} -CA ${file("ca.pem")} -CAkey ${file("ca.key")} -CAcreateserial -extfile ${file("server.ext")} -out ${file("server.pem")}`;
  return { caFile: file("ca.pem"), certFile: file("server.pem"), keyFile: file("server.key") };
}

export interface SecureRegistry extends RegistryProcess {
  /** The CA that signed the registry's certificate: what a client passes as caFile. */
  caFile: string;
  /** The temp dir holding everything, removed by stop(). */
  dir: string;
}

interface RegistryConfig {
  dir: string;
  pki: Pki;
  port: number;
  auth: string;
}

/** Distribution over TLS, answering /v2/ with 401 once up. */
async function startSecureDistribution({ dir, pki, port, auth }: RegistryConfig): Promise<RegistryProcess> {
  const configFile = path.join(dir, "config.yml");
  await writeFile(
    configFile,
    `version: 0.1
log:
  level: info
storage:
  filesystem:
    rootdirectory: ${JSON.stringify(path.join(dir, "data"))}
  delete:
    enabled: true
http:
  addr: 127.0.0.1:${port}
  tls:
    certificate: ${JSON.stringify(pki.certFile)}
    key: ${JSON.stringify(pki.keyFile)}
auth:
${auth}`,
  );
  const transport = createTransport({ caFile: pki.caFile, timeoutMs: 500 });
  try {
    return await startDistribution({
      port,
      storageDir: path.join(dir, "data"),
      logFile: path.join(dir, "registry.log"),
      configFile,
      answers: async (address) => {
        try {
          const response = await transport.fetch(`https://${address}/v2/`);
          await response.body?.cancel();
          return response.status === 401;
        } catch {
          return false;
        }
      },
    });
  } finally {
    await transport.close();
  }
}

/**
 * Starts the registry again on the port a stopped one used. A process counts as stopped once its
 * memory is gone, which Linux releases before its sockets: the port may stay taken a moment longer.
 */
async function restartOnSamePort(config: RegistryConfig): Promise<RegistryProcess> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startSecureDistribution(config);
    } catch (error) {
      if (attempt === 50 || !(error instanceof Error && /already in use/.test(error.message))) throw error;
      await sleep(100);
    }
  }
}

/** Removes `dir` if `start` fails, and when what it started stops. */
async function inTempDir<T extends { stop(): Promise<void> }>(start: (dir: string) => Promise<T>): Promise<T & { dir: string }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), "pallet-secure-registry-"));
  try {
    const started = await start(dir);
    const stopStarted = started.stop;
    return Object.assign(started, {
      dir,
      stop: async () => {
        await stopStarted();
        await rm(dir, { recursive: true, force: true });
      },
    });
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}

/** Distribution over TLS with htpasswd (bcrypt) Basic auth for `users` (name -> password). */
export function startBasicAuthRegistry(users: Record<string, string>): Promise<SecureRegistry> {
  return inTempDir(async (dir) => {
    const pki = await createPki(dir);
    const lines = await Promise.all(Object.entries(users).map(([user, password]) => $({ quiet: true })`htpasswd -Bbn ${user} ${password}`));
    const htpasswd = path.join(dir, "htpasswd");
    await writeFile(htpasswd, lines.map((line) => line.stdout.trim()).join("\n") + "\n");
    const registry = await startSecureDistribution({
      dir,
      pki,
      port: await freePort(),
      auth: `  htpasswd:\n    realm: pallet-test\n    path: ${JSON.stringify(htpasswd)}\n`,
    });
    return { ...registry, caFile: pki.caFile };
  });
}

export interface TokenRequest {
  method: string;
  /** How the client identified itself: "basic <user>", "refresh_token", or "anonymous". */
  grant: string;
  service: string | null;
  scopes: string[];
  /** What the token server answered. */
  status: number;
}

export interface TokenServer {
  /** The URL Distribution sends clients to (`realm`). */
  realm: string;
  /** Every token request, in order. */
  requests: TokenRequest[];
  /** The `expires_in` (seconds) of the tokens handed out from now on. */
  expiresIn: number;
}

export interface TokenAuthRegistry extends SecureRegistry {
  tokenServer: TokenServer;
  /**
   * A new token-signing key, trusted by a restarted registry (same port and data): tokens
   * handed out before are refused from now on, though their expires_in has not passed.
   */
  rotateSigningKey(): Promise<void>;
}

export interface TokenAuthOptions {
  /** User name -> password, accepted with Basic auth at the token server. */
  users: Record<string, string>;
  /** Identity (refresh) token -> user, accepted by the OAuth2 refresh_token grant. */
  identityTokens?: Record<string, string>;
  /** Hand anonymous clients a token without access (as public registries do) instead of a 401. */
  anonymousTokens?: boolean;
}

const SERVICE = "pallet-test-registry";
const ISSUER = "pallet-test-token-server";

const base64url = (data: string | Buffer) => Buffer.from(data).toString("base64url");

/** A self-signed certificate and key for signing tokens: Distribution trusts the cert as its rootcertbundle. */
async function createSigningKey(dir: string): Promise<{ certFile: string; key: string; x5c: string }> {
  const name = `token-signing-${randomUUID()}`;
  const certFile = path.join(dir, `${name}.pem`);
  const keyFile = path.join(dir, `${name}.key`);
  await $({ quiet: true })`openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=${name} -keyout ${keyFile} -out ${certFile}`;
  const cert = new X509Certificate(await readFile(certFile));
  return { certFile, key: await readFile(keyFile, "utf8"), x5c: cert.raw.toString("base64") };
}

/**
 * An RS256 JWT as Distribution 2.8 verifies it: the signing certificate in the `x5c` header
 * (checked against the rootcertbundle), `iss`, `aud` = service, and `access` for the scopes.
 */
function signToken(signing: { key: string; x5c: string }, subject: string, scopes: string[], lifetimeSeconds: number): string {
  const now = Math.floor(Date.now() / 1000);
  const access = scopes.map((scope) => {
    const [type, ...rest] = scope.split(":");
    const actions = rest.pop()!.split(",");
    return { type, name: rest.join(":"), actions };
  });
  const header = base64url(JSON.stringify({ typ: "JWT", alg: "RS256", x5c: [signing.x5c] }));
  const claims = base64url(
    JSON.stringify({ iss: ISSUER, sub: subject, aud: SERVICE, exp: now + lifetimeSeconds, nbf: now - 1, iat: now, jti: randomUUID(), access }),
  );
  const signature = sign("sha256", Buffer.from(`${header}.${claims}`), createPrivateKey(signing.key));
  return `${header}.${claims}.${base64url(signature)}`;
}

/** Who the request says it is; undefined when its credentials are wrong. */
function identify(request: { authorization?: string; form?: URLSearchParams }, options: TokenAuthOptions): { grant: string; subject?: string } | undefined {
  if (request.form) {
    const refreshToken = request.form.get("refresh_token") ?? "";
    const user = request.form.get("grant_type") === "refresh_token" ? options.identityTokens?.[refreshToken] : undefined;
    return user ? { grant: "refresh_token", subject: user } : undefined;
  }
  if (!request.authorization) return { grant: "anonymous" };
  const [scheme, encoded] = request.authorization.split(" ");
  const decoded = Buffer.from(encoded ?? "", "base64").toString("utf8");
  const [user, password] = [decoded.slice(0, decoded.indexOf(":")), decoded.slice(decoded.indexOf(":") + 1)];
  return scheme === "Basic" && Object.hasOwn(options.users, user) && options.users[user] === password
    ? { grant: `basic ${user}`, subject: user }
    : undefined;
}

/** Distribution with `auth.token`, and the token server it trusts, both over TLS from one test CA. */
export function startTokenAuthRegistry(options: TokenAuthOptions): Promise<TokenAuthRegistry> {
  return inTempDir(async (dir) => {
    const pki = await createPki(dir);
    let signing = await createSigningKey(dir);
    const bundle = path.join(dir, "token-rootcertbundle.pem");
    await writeFile(bundle, await readFile(signing.certFile));
    const tokenServer = { realm: "", requests: [] as TokenRequest[], expiresIn: 300 };

    const server = https.createServer({ cert: await readFile(pki.certFile), key: await readFile(pki.keyFile) }, async (request, response) => {
      const url = new URL(request.url ?? "/", "https://token.invalid");
      const chunks: Buffer[] = [];
      for await (const chunk of request) chunks.push(chunk as Buffer);
      const form = request.method === "POST" ? new URLSearchParams(Buffer.concat(chunks).toString("utf8")) : undefined;
      const scopes = (form ? (form.get("scope") ?? "").split(" ") : url.searchParams.getAll("scope")).filter(Boolean);
      const service = form ? form.get("service") : url.searchParams.get("service");
      const who = identify({ authorization: request.headers.authorization, form }, options);
      const refused = !who || (!who.subject && !options.anonymousTokens);
      tokenServer.requests.push({ method: request.method ?? "", grant: who?.grant ?? "wrong credentials", service, scopes, status: refused ? 401 : 200 });
      if (refused) {
        response.writeHead(401, { "content-type": "application/json" });
        response.end(JSON.stringify({ errors: [{ code: "UNAUTHORIZED", message: "authentication required" }] }));
        return;
      }
      const token = signToken(signing, who.subject ?? "", who.subject ? scopes : [], tokenServer.expiresIn);
      response.writeHead(200, { "content-type": "application/json" });
      // A form request is OAuth2: its answer names the token access_token only.
      response.end(JSON.stringify(form ? { access_token: token, expires_in: tokenServer.expiresIn } : { token, expires_in: tokenServer.expiresIn }));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    tokenServer.realm = `https://127.0.0.1:${(server.address() as AddressInfo).port}/token`;
    const stopTokenServer = () => {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    };

    const config = {
      dir,
      pki,
      port: await freePort(),
      auth: `  token:
    realm: ${JSON.stringify(tokenServer.realm)}
    service: ${SERVICE}
    issuer: ${ISSUER}
    rootcertbundle: ${JSON.stringify(bundle)}
`,
    };
    let registry: RegistryProcess;
    try {
      registry = await startSecureDistribution(config);
    } catch (error) {
      await stopTokenServer();
      throw error;
    }
    return {
      address: registry.address,
      storageDir: registry.storageDir,
      logFile: registry.logFile,
      caFile: pki.caFile,
      tokenServer,
      // A rotation restarts the process.
      get pid() {
        return registry.pid;
      },
      get launch() {
        return registry.launch;
      },
      async rotateSigningKey() {
        signing = await createSigningKey(dir);
        await writeFile(bundle, await readFile(signing.certFile));
        await registry.stop();
        registry = await restartOnSamePort(config);
      },
      stop: async () => {
        await registry.stop();
        await stopTokenServer();
      },
    };
  });
}

/** The name of the test credential helper: the program is tests/fixtures/docker-credential-pallet-test. */
export const TEST_HELPER = "pallet-test";

/**
 * Called inside a describe: puts the test credential helper on PATH for its tests, as docker
 * finds helpers. `useStore(file)` points the helper at a JSON store (server URL -> Username, Secret).
 */
export function withCredentialHelper(): { useStore(file: string): void } {
  const saved = { PATH: process.env.PATH, PALLET_TEST_CREDENTIALS: process.env.PALLET_TEST_CREDENTIALS };
  let bin: string;
  before(async () => {
    bin = await mkdtemp(path.join(os.tmpdir(), "pallet-helper-bin-"));
    const program = `docker-credential-${TEST_HELPER}`;
    await symlink(fileURLToPath(new URL(`fixtures/${program}`, import.meta.url)), path.join(bin, program));
    process.env.PATH = `${bin}${path.delimiter}${saved.PATH}`;
  });
  after(async () => {
    for (const [name, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
    await rm(bin, { recursive: true, force: true });
  });
  return { useStore: (file) => (process.env.PALLET_TEST_CREDENTIALS = file) };
}
