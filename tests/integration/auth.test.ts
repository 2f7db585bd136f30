import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { Authenticator, CATALOG_SCOPE, pullScope } from "../../lib/oci/auth.ts";
import { credentialLookup } from "../../lib/oci/credentials.ts";
import { OciError } from "../../lib/oci/errors.ts";
import { createTransport, type Transport } from "../../lib/oci/transport.ts";
import { freePort } from "../../lib/registry-server.ts";
import {
  type SecureRegistry,
  startBasicAuthRegistry,
  startTokenAuthRegistry,
  TEST_HELPER as HELPER,
  type TokenAuthRegistry,
  withCredentialHelper,
} from "../servers.ts";

const USERS = { alice: "s3cret-Pa55" };
const IDENTITY_TOKEN = "refresh-6f1c2a";
const basic = (user: string, password: string) => Buffer.from(`${user}:${password}`).toString("base64");

describe("authentication against real registries: Basic over TLS, and token auth", () => {
  let basicRegistry: SecureRegistry;
  let tokenRegistry: TokenAuthRegistry;
  let publicRegistry: TokenAuthRegistry;
  let work: string;
  let cases = 0;
  const transports: Transport[] = [];
  const helper = withCredentialHelper();

  before(async () => {
    [basicRegistry, tokenRegistry, publicRegistry] = await Promise.all([
      startBasicAuthRegistry(USERS),
      startTokenAuthRegistry({ users: USERS, identityTokens: { [IDENTITY_TOKEN]: "alice" } }),
      startTokenAuthRegistry({ users: USERS, anonymousTokens: true }),
    ]);
    work = mkdtempSync(path.join(os.tmpdir(), "pallet-auth-"));
  });
  after(async () => {
    await Promise.all(transports.map((transport) => transport.close()));
    await Promise.all([basicRegistry?.stop(), tokenRegistry?.stop(), publicRegistry?.stop()]);
    rmSync(work, { recursive: true, force: true });
  });

  /** A Docker config (and helper store) of its own, and a client with a fresh authenticator that reads it. */
  function client(registry: SecureRegistry, config: unknown, helperEntries: Record<string, unknown> = {}) {
    const dir = path.join(work, `case-${++cases}`);
    mkdirSync(dir);
    const configFile = path.join(dir, "config.json");
    writeFileSync(configFile, JSON.stringify(config));
    const helperStore = path.join(dir, "helper-store.json");
    writeFileSync(helperStore, JSON.stringify(helperEntries));
    helper.useStore(helperStore);
    const transport = createTransport({ caFile: registry.caFile });
    transports.push(transport);
    const auth = new Authenticator({ fetch: transport.fetch, credentials: credentialLookup({ configFile }) });
    const sent: (string | undefined)[] = [];
    return {
      configFile,
      auth,
      /** Every Authorization header sent to the registry (undefined: none), in order. */
      sent,
      async get(urlPath: string, scope: string) {
        const response = await auth.authorized(registry.address, scope, (authorization) => {
          sent.push(authorization);
          return transport.fetch(`${transport.baseUrl(registry.address)}${urlPath}`, { headers: authorization ? { authorization } : {} });
        });
        return { status: response.status, body: await response.text() };
      },
    };
  }

  const auths = (registry: SecureRegistry, user: string, password: string) => ({ auths: { [registry.address]: { auth: basic(user, password) } } });

  const unauthorized = (pattern: RegExp, secret?: string) => (error: unknown) => {
    assert.ok(error instanceof OciError, `expected an OciError, got ${error}`);
    assert.equal(error.kind, "unauthorized", error.message);
    assert.match(error.message, pattern);
    if (secret) assert.ok(!error.message.includes(secret), `the message shows the secret: ${error.message}`);
    return true;
  };

  describe("Basic (htpasswd over TLS)", () => {
    it("answers the challenge with the Docker config's credentials, then sends them unasked", async () => {
      const c = client(basicRegistry, auths(basicRegistry, "alice", USERS.alice));
      assert.equal((await c.get("/v2/", "")).status, 200);
      assert.deepEqual(await c.get("/v2/_catalog", CATALOG_SCOPE), { status: 200, body: '{"repositories":[]}\n' });
      const header = `Basic ${basic("alice", USERS.alice)}`;
      assert.deepEqual(c.sent, [undefined, header, header]);
    });

    it("takes the credentials from a credHelpers helper", async () => {
      const c = client(basicRegistry, { credHelpers: { [basicRegistry.address]: HELPER } }, {
        [basicRegistry.address]: { Username: "alice", Secret: USERS.alice },
      });
      assert.equal((await c.get("/v2/_catalog", CATALOG_SCOPE)).status, 200);
    });

    it("says whose credentials were refused, without the password, and does not offer them again", async () => {
      const c = client(basicRegistry, auths(basicRegistry, "alice", "wrong-password"));
      const refused = unauthorized(
        new RegExp(`^${basicRegistry.address} refused access for registry:catalog:\\* with the credentials from docker config auths\\["${basicRegistry.address}"\\] \\(.*\\) \\(user alice\\)$`),
        "wrong-password",
      );
      await assert.rejects(c.get("/v2/_catalog", CATALOG_SCOPE), refused);
      await assert.rejects(c.get("/v2/_catalog", CATALOG_SCOPE), refused);
      assert.equal(c.sent.length, 3, "the second attempt sent the refused credentials once, not twice");
    });

    it("says that credentials are needed when none are found", async () => {
      const c = client(basicRegistry, {});
      await assert.rejects(
        c.get("/v2/", ""),
        unauthorized(new RegExp(`^${basicRegistry.address} asks for a user name and password \\(Basic auth\\), and none were found for it$`)),
      );
    });
  });

  describe("Bearer (Distribution auth.token and a token server)", () => {
    /** The token requests made since `from`. */
    const tokenRequests = (registry: TokenAuthRegistry, from: number) => registry.tokenServer.requests.slice(from);

    it("fetches one token per scope, with the credentials, and reuses it", async () => {
      const c = client(tokenRegistry, auths(tokenRegistry, "alice", USERS.alice));
      const from = tokenRegistry.tokenServer.requests.length;
      assert.deepEqual(await c.get("/v2/_catalog", CATALOG_SCOPE), { status: 200, body: '{"repositories":[]}\n' });
      assert.equal((await c.get("/v2/_catalog", CATALOG_SCOPE)).status, 200);
      // Authorized: the repository is simply not there.
      const tags = await c.get("/v2/agents/plan/tags/list", pullScope("agents/plan"));
      assert.equal(tags.status, 404);
      assert.match(tags.body, /NAME_UNKNOWN/);
      assert.equal((await c.get("/v2/agents/plan/tags/list", pullScope("agents/plan"))).status, 404);
      // Concurrent first requests for a new scope share one token request.
      const statuses = await Promise.all(Array.from({ length: 5 }, () => c.get("/v2/agents/build/tags/list", pullScope("agents/build"))));
      assert.deepEqual(statuses.map((s) => s.status), [404, 404, 404, 404, 404]);
      assert.deepEqual(tokenRequests(tokenRegistry, from), [
        { method: "GET", grant: "basic alice", service: "pallet-test-registry", scopes: [CATALOG_SCOPE], status: 200 },
        { method: "GET", grant: "basic alice", service: "pallet-test-registry", scopes: [pullScope("agents/plan")], status: 200 },
        { method: "GET", grant: "basic alice", service: "pallet-test-registry", scopes: [pullScope("agents/build")], status: 200 },
      ]);
    });

    it("fetches a new token once expires_in has passed", async () => {
      const c = client(tokenRegistry, auths(tokenRegistry, "alice", USERS.alice));
      const from = tokenRegistry.tokenServer.requests.length;
      tokenRegistry.tokenServer.expiresIn = 1;
      try {
        assert.equal((await c.get("/v2/_catalog", CATALOG_SCOPE)).status, 200);
        await sleep(1100);
        assert.equal((await c.get("/v2/_catalog", CATALOG_SCOPE)).status, 200);
      } finally {
        tokenRegistry.tokenServer.expiresIn = 300;
      }
      assert.equal(tokenRequests(tokenRegistry, from).length, 2);
      assert.equal(c.sent.filter((header) => header === undefined).length, 2, "the expired token was not sent");
    });

    it("fetches a new token when the registry refuses the cached one", async () => {
      const c = client(tokenRegistry, auths(tokenRegistry, "alice", USERS.alice));
      const from = tokenRegistry.tokenServer.requests.length;
      assert.equal((await c.get("/v2/_catalog", CATALOG_SCOPE)).status, 200);
      const [, first] = c.sent;
      await tokenRegistry.rotateSigningKey();
      assert.equal((await c.get("/v2/_catalog", CATALOG_SCOPE)).status, 200);
      assert.equal(tokenRequests(tokenRegistry, from).length, 2);
      assert.equal(c.sent[2], first, "the cached token was tried first");
      assert.notEqual(c.sent[3], first);
    });

    it("trades an identity token from a credsStore helper with the OAuth2 refresh_token grant", async () => {
      const c = client(tokenRegistry, { credsStore: HELPER }, { [tokenRegistry.address]: { Username: "<token>", Secret: IDENTITY_TOKEN } });
      const from = tokenRegistry.tokenServer.requests.length;
      assert.equal((await c.get("/v2/_catalog", CATALOG_SCOPE)).status, 200);
      assert.deepEqual(tokenRequests(tokenRegistry, from), [
        { method: "POST", grant: "refresh_token", service: "pallet-test-registry", scopes: [CATALOG_SCOPE], status: 200 },
      ]);
    });

    it("says that credentials are needed when the token service refuses an anonymous request", async () => {
      const c = client(tokenRegistry, {});
      await assert.rejects(
        c.get("/v2/_catalog", CATALOG_SCOPE),
        unauthorized(
          new RegExp(`^token service ${tokenRegistry.tokenServer.realm} for ${tokenRegistry.address}: it refused an anonymous request: ${tokenRegistry.address} needs credentials, and none were found for it \\(HTTP 401\\)$`),
        ),
      );
    });

    it("says whose credentials the token service refused, without the password", async () => {
      const c = client(tokenRegistry, auths(tokenRegistry, "alice", "wrong-password"));
      await assert.rejects(
        c.get("/v2/_catalog", CATALOG_SCOPE),
        unauthorized(
          new RegExp(`^token service ${tokenRegistry.tokenServer.realm} for ${tokenRegistry.address}: it refused the credentials from docker config auths\\[.*\\] \\(.*\\) \\(user alice\\) \\(HTTP 401\\)$`),
          "wrong-password",
        ),
      );
    });

    it("says that credentials are needed when an anonymous token grants nothing", async () => {
      const c = client(publicRegistry, {});
      await assert.rejects(
        c.get("/v2/_catalog", CATALOG_SCOPE),
        unauthorized(new RegExp(`^${publicRegistry.address} refused access for registry:catalog:\\*: it needs credentials, and none were found for it$`)),
      );
      assert.equal(publicRegistry.tokenServer.requests.at(-1)?.grant, "anonymous");
    });

    it("sends credentials to a token service over plain HTTP only on this machine", async () => {
      const c = client(tokenRegistry, auths(tokenRegistry, "alice", USERS.alice));
      const challenge = (realm: string) => new Response(null, { status: 401, headers: { "www-authenticate": `Bearer realm="${realm}",service="x"` } });
      await assert.rejects(
        c.auth.onChallenge(tokenRegistry.address, CATALOG_SCOPE, challenge("http://192.0.2.1/token")),
        (error: unknown) => {
          unauthorized(new RegExp(`^refusing to send the credentials from .+ to the token service http://192\\.0\\.2\\.1 of ${tokenRegistry.address} over plain HTTP$`), USERS.alice)(error);
          assert.equal((error as OciError).details.reason, "cleartext-token-service");
          return true;
        },
      );
      // On loopback it is asked (nothing listens there, so it cannot be reached).
      const local = `http://127.0.0.1:${await freePort()}/token`;
      await assert.rejects(c.auth.onChallenge(tokenRegistry.address, CATALOG_SCOPE, challenge(local)), (error: unknown) => {
        assert.ok(error instanceof OciError && error.kind === "unreachable", `expected an unreachable OciError, got ${error}`);
        return true;
      });
    });

    it("names the token service it cannot reach", async () => {
      const realm = `https://127.0.0.1:${await freePort()}/token`;
      const c = client(tokenRegistry, auths(tokenRegistry, "alice", USERS.alice));
      const challenge = new Response(null, { status: 401, headers: { "www-authenticate": `Bearer realm="${realm}",service="x"` } });
      await assert.rejects(c.auth.onChallenge(tokenRegistry.address, CATALOG_SCOPE, challenge), (error: unknown) => {
        assert.ok(error instanceof OciError && error.kind === "unreachable", `expected an unreachable OciError, got ${error}`);
        assert.equal(error.message, `token service ${realm} for ${tokenRegistry.address}: cannot reach ${new URL(realm).origin}: connection refused`);
        return true;
      });
    });
  });
});
