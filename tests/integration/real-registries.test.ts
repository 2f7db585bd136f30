// The walkthrough against registries as they are run for real: Distribution over TLS from a
// private CA with htpasswd (Basic) auth, and Distribution with token auth behind a token server.
// Credentials come from a Docker config or a credential helper, as `oras login` leaves them.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { $ } from "zx";
import { type RegistryProcess, startTestRegistry } from "../../lib/registry-server.ts";
import { FIXTURE_CARDS, PROJECT_ROOT, type Run, RUNTIME, runScript, silentServer } from "../helpers.ts";
import {
  type SecureRegistry,
  startBasicAuthRegistry,
  startTokenAuthRegistry,
  TEST_HELPER,
  type TokenAuthRegistry,
  withCredentialHelper,
} from "../servers.ts";

const PASSWORD = "s3cret-Pa55-9f2c";
const WRONG = "wrong-Pa55-77aa";
const USERS = { alice: PASSWORD };
const WALKTHROUGH = ["push", "list", "manifest", "pull", "verify", "copy", "summary"];
const basic = (user: string, password: string) => Buffer.from(`${user}:${password}`).toString("base64");

/** Neither the password nor its base64 form may show anywhere. */
function assertNoSecret(run: Run, ...secrets: string[]) {
  const output = run.stdout + run.stderr;
  for (const secret of secrets.flatMap((s) => [s, basic("alice", s)])) {
    assert.ok(!output.includes(secret), `the output shows a secret:\n${output}`);
  }
}

describe("real registries: TLS, credentials and token auth in every step", () => {
  let basicRegistry: SecureRegistry;
  let tokenRegistry: TokenAuthRegistry;
  let plainRegistry: RegistryProcess;
  let work: string;
  let cases = 0;
  const helper = withCredentialHelper();

  before(async () => {
    [basicRegistry, tokenRegistry, plainRegistry] = await Promise.all([
      startBasicAuthRegistry(USERS),
      startTokenAuthRegistry({ users: USERS }),
      startTestRegistry(),
    ]);
    work = mkdtempSync(path.join(os.tmpdir(), "pallet-real-"));
  });
  after(async () => {
    await Promise.all([basicRegistry?.stop(), tokenRegistry?.stop(), plainRegistry?.stop()]);
    rmSync(work, { recursive: true, force: true });
  });

  /**
   * A Docker config dir of its own (DOCKER_CONFIG) holding `config`, the helper's store beside
   * it, and the environment every step needs to reach `registry` through its CA.
   */
  function setup(registry: SecureRegistry, config: unknown, helperEntries: Record<string, unknown> = {}) {
    const dir = path.join(work, `case-${++cases}`);
    mkdirSync(dir);
    writeFileSync(path.join(dir, "config.json"), JSON.stringify(config));
    const helperStore = path.join(dir, "helper-store.json");
    writeFileSync(helperStore, JSON.stringify(helperEntries));
    helper.useStore(helperStore);
    const env: Record<string, string> = {
      REGISTRY: registry.address,
      REGISTRY_CA_FILE: registry.caFile,
      DOCKER_CONFIG: dir,
      CARDS_DIR: FIXTURE_CARDS,
      OUT_DIR: path.join(dir, "out"),
      ORAS_BACKEND: "builtin",
    };
    return { dir, configFile: path.join(dir, "config.json"), helperStore, env };
  }

  const auths = (registry: SecureRegistry, password = PASSWORD) => ({ auths: { [registry.address]: { auth: basic("alice", password) } } });

  async function walkthrough(env: Record<string, string>, caFile: string) {
    for (const step of WALKTHROUGH) {
      const result = await runScript(step, [], env);
      assert.equal(result.code, 0, `${step}:\n${result.stdout}\n${result.stderr}`);
      assertNoSecret(result, PASSWORD);
      // Every printed oras command carries the CA, as oras needs it.
      for (const line of result.stdout.split("\n").filter((l) => l.includes("$ ") && l.includes("oras "))) {
        assert.ok(line.includes(`--ca-file ${caFile}`) || line.includes(`--from-ca-file ${caFile}`), `${step}: ${line}`);
      }
      if (step === "verify") assert.match(result.stdout, /=== All agents verified successfully ===/);
      if (step === "summary") assert.equal(result.stdout.match(new RegExp(`\\| Copied from ${env.TAG ?? "v1"} \\|`, "g"))?.length, 3, result.stdout);
    }
  }

  for (const kind of ["TLS + htpasswd", "token auth"] as const) {
    const registryOf = () => (kind === "TLS + htpasswd" ? basicRegistry : tokenRegistry);
    it(`runs the whole walkthrough against ${kind}, credentials from a Docker config's auths`, async () => {
      const registry = registryOf();
      await walkthrough(setup(registry, auths(registry)).env, registry.caFile);
    });
    it(`runs the whole walkthrough against ${kind}, credentials from a credential helper`, async () => {
      const registry = registryOf();
      const { env } = setup(registry, { credHelpers: { [registry.address]: TEST_HELPER } }, {
        [registry.address]: { Username: "alice", Secret: PASSWORD },
      });
      await walkthrough({ ...env, TAG: "helper1", TO_TAG: "helper2" }, registry.caFile);
    });
  }

  describe("make login and make logout", () => {
    /** scripts/login.ts with the password on stdin, as `printf %s "$PW" | make login` gives it. */
    const login = (env: Record<string, string>, password: string) => {
      const script = `${PROJECT_ROOT}scripts/login.ts`;
      const command = RUNTIME === "deno"
        ? [`${PROJECT_ROOT}node_modules/.bin/deno`, "run", "-A", "--quiet", script]
        : [process.execPath, "--import", import.meta.resolve("tsx"), script];
      return $({ input: password, nothrow: true, quiet: true, env: { ...process.env, NO_COLOR: "1", ...env } })`${command}`;
    };

    it("checks the password, stores it in the Docker config where oras looks, and erases it again", async () => {
      const { env, configFile } = setup(basicRegistry, {});
      const refused = await login({ ...env, REGISTRY_USERNAME: "alice" }, WRONG);
      assert.equal(refused.exitCode, 2, refused.stdout + refused.stderr);
      assert.match(refused.stderr, new RegExp(`✗ ${basicRegistry.address} refused access with the credentials from --username and --password-stdin \\(user alice\\)`));
      assert.ok(!(refused.stdout + refused.stderr).includes(WRONG));
      assert.deepEqual(JSON.parse(readFileSync(configFile, "utf8")), {}, "nothing stored after a refusal");

      const accepted = await login({ ...env, REGISTRY_USERNAME: "alice" }, `${PASSWORD}\n`);
      assert.equal(accepted.exitCode, 0, accepted.stdout + accepted.stderr);
      assert.match(accepted.stdout, new RegExp(`\\$ oras login --ca-file \\S+ --username alice --password-stdin ${basicRegistry.address}\nLogin Succeeded\n`));
      assert.match(accepted.stdout, new RegExp(`✓ the credentials of alice for ${basicRegistry.address} are in docker config auths \\(${configFile}\\)`));
      assert.ok(!accepted.stdout.includes(PASSWORD));
      assert.deepEqual(JSON.parse(readFileSync(configFile, "utf8")).auths, { [basicRegistry.address]: { auth: basic("alice", PASSWORD) } });
      assert.equal((await runScript("list", [], env)).code, 0, "a step finds the stored credentials");

      const out = await runScript("logout", [], env);
      assert.equal(out.code, 0, out.stderr);
      assert.match(out.stdout, new RegExp(`\\$ oras logout ${basicRegistry.address}\n✓ removed the credentials for ${basicRegistry.address} from docker config auths`));
      assert.deepEqual(JSON.parse(readFileSync(configFile, "utf8")).auths, {});
      const again = await runScript("logout", [], env);
      assert.match(again.stdout, /no credentials for .* were stored in docker config auths .*; nothing to remove/);
    });

    it("stores the credentials through the credsStore helper, taking the password from REGISTRY_PASSWORD", async () => {
      const { env, helperStore } = setup(tokenRegistry, { credsStore: TEST_HELPER });
      const result = await runScript("login", [], { ...env, REGISTRY_USERNAME: "alice", REGISTRY_PASSWORD: PASSWORD });
      assert.equal(result.code, 0, result.stdout + result.stderr);
      assert.match(result.stdout, new RegExp(`are in credential helper docker-credential-${TEST_HELPER} \\(credsStore in `));
      assert.deepEqual(JSON.parse(readFileSync(helperStore, "utf8")), { [tokenRegistry.address]: { Username: "alice", Secret: PASSWORD } });
      assertNoSecret(result, PASSWORD);
      const out = await runScript("logout", [], env);
      assert.equal(out.code, 0, out.stderr);
      assert.deepEqual(JSON.parse(readFileSync(helperStore, "utf8")), {});
    });

    it("needs a user name, and refuses a half-given credential", async () => {
      const { env } = setup(basicRegistry, {});
      const noUser = await runScript("login", [], { ...env, REGISTRY_PASSWORD: PASSWORD });
      assert.equal(noUser.code, 2);
      assert.match(noUser.stderr, /✗ make login needs a user name\n {2}Set REGISTRY_USERNAME=<user>/);
      const half = await runScript("list", [], { ...env, REGISTRY_USERNAME: "alice" });
      assert.equal(half.code, 2);
      assert.match(half.stderr, /✗ REGISTRY_USERNAME is set, but REGISTRY_PASSWORD is not/);
    });
  });

  describe("each failure gives a clear message and exit 2 from every step", () => {
    const everyStep = async (env: Record<string, string>, message: RegExp, hint: RegExp) => {
      const results = await Promise.all(WALKTHROUGH.map((step) => runScript(step, [], env)));
      results.forEach((result, i) => {
        assert.equal(result.code, 2, `${WALKTHROUGH[i]}:\n${result.stdout}\n${result.stderr}`);
        assert.match(result.stderr, message, WALKTHROUGH[i]);
        assert.match(result.stderr, hint, WALKTHROUGH[i]);
        assertNoSecret(result, PASSWORD, WRONG);
      });
    };

    it("a wrong password", async () => {
      const { env } = setup(basicRegistry, auths(basicRegistry, WRONG));
      await everyStep(
        env,
        new RegExp(`✗ ${basicRegistry.address} refused access for repository:agents/\\S+ with the credentials from docker config auths\\["${basicRegistry.address}"\\] \\(.+\\) \\(user alice\\)|✗ ${basicRegistry.address} refused access for registry:catalog:\\* with the credentials`),
        /Check the user name and password \(or token\), then log in again: make login/,
      );
    });

    it("missing credentials", async () => {
      const { env } = setup(basicRegistry, {});
      await everyStep(
        env,
        new RegExp(`✗ ${basicRegistry.address} asks for a user name and password \\(Basic auth\\), and none were found for it\n`),
        // The login suggested reaches the registry as the step did: its address and its CA.
        new RegExp(`Log in once: make login REGISTRY=${basicRegistry.address} REGISTRY_CA_FILE=${basicRegistry.caFile} REGISTRY_USERNAME=<user>`),
      );
    });

    it("an expired token", async () => {
      const { env } = setup(tokenRegistry, auths(tokenRegistry));
      // Past Distribution's leeway of 60 s.
      tokenRegistry.tokenServer.expiresIn = -120;
      try {
        await everyStep(
          env,
          new RegExp(`✗ ${tokenRegistry.address} refused the token its token service issued for \\S+: invalid_token \\(the token has expired, or is not signed by a key the registry trusts\\)`),
          /Run again: a new token is fetched each run/,
        );
      } finally {
        tokenRegistry.tokenServer.expiresIn = 300;
      }
    });

    it("an untrusted certificate", async () => {
      // Another CA than the one that signed the registry's certificate.
      const { env } = setup(basicRegistry, auths(basicRegistry));
      await everyStep(
        { ...env, REGISTRY_CA_FILE: tokenRegistry.caFile },
        new RegExp(`✗ the TLS certificate of ${basicRegistry.address} is not signed by a trusted CA \\(.+\\)\n`),
        /Trust the CA that signed it: --ca-file ca\.pem \(env REGISTRY_CA_FILE=ca\.pem\)/,
      );
    });

    it("plain HTTP to a TLS registry, and TLS to a plain HTTP one", async () => {
      const { env } = setup(basicRegistry, auths(basicRegistry));
      const { REGISTRY_CA_FILE: _, ...plainToTls } = env;
      await everyStep(
        plainToTls,
        new RegExp(`✗ ${basicRegistry.address} speaks HTTPS, but the request went over plain HTTP \\(it answered 400: "Client sent an HTTP request to an HTTPS server\\."\\)\n`),
        /Reach it over TLS: give its CA with --ca-file \(REGISTRY_CA_FILE\)/,
      );
      await everyStep(
        { ...env, REGISTRY: plainRegistry.address },
        new RegExp(`✗ ${plainRegistry.address} speaks plain HTTP, but the request went over HTTPS`),
        /It speaks plain HTTP: add --plain-http \(PLAIN_HTTP=1\) and drop --ca-file\/--insecure/,
      );
    });
  });

  it("refuses a registry written user:password@host without repeating it", async () => {
    const { env } = setup(basicRegistry, {});
    const result = await runScript("push", [], { ...env, REGISTRY: `alice:${PASSWORD}@${basicRegistry.address}` });
    assert.equal(result.code, 2);
    assert.match(result.stderr, /✗ the registry given with --registry \(env REGISTRY\) holds credentials \(user:password@host\); refused, and not shown here/);
    assertNoSecret(result, PASSWORD);
  });

  it("--insecure skips verification with a visible warning; --json output holds no secret", async () => {
    const { env } = setup(basicRegistry, auths(basicRegistry));
    const { REGISTRY_CA_FILE: _, ...rest } = env;
    const result = await runScript("list", ["--insecure", "--json"], { ...rest, REGISTRY_USERNAME: "alice", REGISTRY_PASSWORD: PASSWORD });
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stderr, new RegExp(`\\$ oras repo ls --insecure ${basicRegistry.address}\n! --insecure: the TLS certificate of ${basicRegistry.address} is not verified`));
    assert.ok(Array.isArray(JSON.parse(result.stdout).repositories));
    assertNoSecret(result, PASSWORD);
  });

  describe("make doctor tells what answers", () => {
    it("a TLS registry: whose CA, where the credentials come from (not the secret), the catalog and its page limit", async () => {
      const { env, configFile } = setup(basicRegistry, auths(basicRegistry));
      const result = await runScript("doctor", [], env);
      const url = `https://${basicRegistry.address}/v2/`;
      assert.match(result.stdout, new RegExp(`^✓ a registry answers at ${url} and wants Basic credentials \\(realm "pallet-test"\\)$`, "m"));
      assert.match(result.stdout, new RegExp(`^✓ TLS: the certificate of ${basicRegistry.address} \\(localhost, valid until .+\\) is issued by pallet-test-ca, trusted through the system's CAs and ${basicRegistry.caFile} \\(CN=pallet-test-ca\\)$`, "m"));
      assert.match(result.stdout, new RegExp(`^✓ credentials for ${basicRegistry.address} from docker config auths\\["${basicRegistry.address}"\\] \\(${configFile}\\) \\(user alice\\), accepted$`, "m"));
      assert.match(result.stdout, /^✓ the catalog is offered, in pages of up to 1,000 repositories$/m);
      assertNoSecret(result, PASSWORD);
    });

    it("a registry that wants credentials none are found for, a token service, and TLS that is not trusted", async () => {
      const missing = await runScript("doctor", [], setup(tokenRegistry, {}).env);
      assert.equal(missing.code, 2);
      assert.match(missing.stdout, new RegExp(`^✓ a registry answers at https://${tokenRegistry.address}/v2/ and wants a token from ${tokenRegistry.tokenServer.realm}$`, "m"));
      assert.match(missing.stdout, new RegExp(`^✗ no credentials for ${tokenRegistry.address} \\(REGISTRY_USERNAME/REGISTRY_PASSWORD, or the Docker config\\)\n {2}fix: Log in once: make login`, "m"));
      const untrusted = await runScript("doctor", [], { ...setup(basicRegistry, {}).env, REGISTRY_CA_FILE: tokenRegistry.caFile });
      assert.equal(untrusted.code, 2);
      assert.match(untrusted.stdout, new RegExp(`^✗ TLS: the TLS certificate of ${basicRegistry.address} is not signed by a trusted CA`, "m"));
    });

    it("something that is not a registry, and something silent", async () => {
      const web = http.createServer((_request, response) => {
        response.writeHead(404, { "content-type": "text/html" });
        response.end("<html>no</html>");
      });
      await new Promise<void>((resolve) => web.listen(0, "127.0.0.1", resolve));
      const silent = await silentServer();
      try {
        const webAddress = `127.0.0.1:${(web.address() as AddressInfo).port}`;
        const [notRegistry, quiet] = await Promise.all([
          runScript("doctor", [], { REGISTRY: webAddress }),
          runScript("doctor", [], { REGISTRY: silent.address, REGISTRY_TIMEOUT: "1" }),
        ]);
        assert.equal(notRegistry.code, 2);
        assert.match(notRegistry.stdout, new RegExp(`^✗ http://${webAddress}/v2/ answers HTTP 404 text/html, but not as an OCI registry does$`, "m"));
        assert.equal(quiet.code, 2);
        assert.match(quiet.stdout, new RegExp(`^✗ something at ${silent.address} accepts connections but is silent: the registry at http://${silent.address} did not answer GET /v2/ within 1 s$`, "m"));
      } finally {
        web.close();
        await silent.close();
      }
    });
  });
});
