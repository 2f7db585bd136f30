import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import {
  credentialLookup,
  dockerConfigPath,
  dockerCredential,
  eraseCredential,
  storeCredential,
} from "../../lib/oci/credentials.ts";
import { OciError } from "../../lib/oci/errors.ts";
import { TEST_HELPER as HELPER, withCredentialHelper } from "../servers.ts";

const REGISTRY = "registry.example:5000";
const basic = (user: string, password: string) => Buffer.from(`${user}:${password}`).toString("base64");

/** A Docker config in its own dir, and the helper's store beside it. */
interface Setup {
  dir: string;
  configFile: string;
  helperStore: string;
}

describe("Docker config credentials", () => {
  let work: string;
  let count = 0;
  const helper = withCredentialHelper();
  before(() => (work = mkdtempSync(path.join(os.tmpdir(), "pallet-credentials-"))));
  after(() => rmSync(work, { recursive: true, force: true }));

  /** A fresh config (written unless undefined) and an empty helper store that the helper uses. */
  function setup(config?: unknown, helperEntries?: Record<string, { Username: string; Secret: string }>): Setup {
    const dir = path.join(work, `case-${++count}`);
    mkdirSync(dir);
    const configFile = path.join(dir, "config.json");
    if (config !== undefined) writeFileSync(configFile, JSON.stringify(config));
    const helperStore = path.join(dir, "helper-store.json");
    if (helperEntries) writeFileSync(helperStore, JSON.stringify(helperEntries));
    helper.useStore(helperStore);
    return { dir, configFile, helperStore };
  }

  const refusedWith = (kind: string, pattern: RegExp, secret?: string) => (error: unknown) => {
    assert.ok(error instanceof OciError, `expected an OciError, got ${error}`);
    assert.equal(error.kind, kind);
    assert.match(error.message, pattern);
    if (secret) assert.ok(!error.message.includes(secret), `the message shows the secret: ${error.message}`);
    return true;
  };

  it("finds the config in $DOCKER_CONFIG, else in ~/.docker", () => {
    assert.equal(dockerConfigPath({ DOCKER_CONFIG: "/etc/docker-conf" }), "/etc/docker-conf/config.json");
    assert.equal(dockerConfigPath({}), path.join(os.homedir(), ".docker", "config.json"));
  });

  it("reads auths entries keyed host:port or https://host:port, with a password or an identity token", async () => {
    const { configFile } = setup({
      auths: {
        [REGISTRY]: { auth: basic("alice", "pa:ss") },
        "https://other.example:443/v1/": { auth: basic("bob", "secret") },
        "tokens.example": { auth: basic("carol", ""), identitytoken: "refresh-me" },
      },
    });
    assert.deepEqual(await dockerCredential(REGISTRY, { configFile }), {
      username: "alice",
      password: "pa:ss",
      source: `docker config auths["${REGISTRY}"] (${configFile})`,
    });
    assert.deepEqual(await dockerCredential("other.example:443", { configFile }), {
      username: "bob",
      password: "secret",
      source: `docker config auths["https://other.example:443/v1/"] (${configFile})`,
    });
    assert.deepEqual(await dockerCredential("tokens.example", { configFile }), {
      identityToken: "refresh-me",
      source: `docker config auths["tokens.example"] (${configFile})`,
    });
    assert.equal(await dockerCredential("unknown.example", { configFile }), undefined);
  });

  it("has nothing when there is no config file", async () => {
    const { configFile } = setup();
    assert.equal(await dockerCredential(REGISTRY, { configFile }), undefined);
  });

  it("asks the credHelpers helper for its registry, before credsStore and auths", async () => {
    const { configFile } = setup(
      { credHelpers: { [REGISTRY]: HELPER }, credsStore: "absent-helper", auths: { [REGISTRY]: { auth: basic("file", "user") } } },
      { [REGISTRY]: { Username: "helped", Secret: "from-helper" } },
    );
    assert.deepEqual(await dockerCredential(REGISTRY, { configFile }), {
      username: "helped",
      password: "from-helper",
      source: `credential helper docker-credential-${HELPER} (credHelpers in ${configFile})`,
    });
  });

  it("asks the credsStore helper before auths; a <token> user name means an identity token", async () => {
    const { configFile } = setup(
      { credsStore: HELPER, auths: { [REGISTRY]: { auth: basic("file", "user") } } },
      { [REGISTRY]: { Username: "<token>", Secret: "refresh-me" } },
    );
    assert.deepEqual(await dockerCredential(REGISTRY, { configFile }), {
      identityToken: "refresh-me",
      source: `credential helper docker-credential-${HELPER} (credsStore in ${configFile})`,
    });
    // "credentials not found" from the helper is an answer: nothing, without falling back to auths, as oras does.
    assert.equal(await dockerCredential("elsewhere.example", { configFile }), undefined);
  });

  it("names a helper that is missing or fails, and the config that chose it", async () => {
    const missing = setup({ credsStore: "not-installed" });
    await assert.rejects(
      dockerCredential(REGISTRY, { configFile: missing.configFile }),
      refusedWith("unauthorized", new RegExp(`^credential helper docker-credential-not-installed \\(credsStore in ${missing.configFile}\\): get failed: the program is not on PATH$`)),
    );
    const failing = setup({ credHelpers: { [REGISTRY]: HELPER } });
    writeFileSync(failing.helperStore, "{ not json");
    await assert.rejects(
      dockerCredential(REGISTRY, { configFile: failing.configFile }),
      refusedWith("unauthorized", /^credential helper docker-credential-pallet-test \(credHelpers in .*\): get failed \(exit 1/),
    );
  });

  it("refuses a config that is not JSON without quoting it, and a malformed auth", async () => {
    const broken = setup();
    writeFileSync(broken.configFile, `{"auths": {"${REGISTRY}": {"auth": "${basic("alice", "hunter2")}"}}`);
    await assert.rejects(
      dockerCredential(REGISTRY, { configFile: broken.configFile }),
      refusedWith("unauthorized", /is not valid JSON$/, basic("alice", "hunter2")),
    );
    const malformed = setup({ auths: { [REGISTRY]: { auth: Buffer.from("no-colon-hunter2").toString("base64") } } });
    await assert.rejects(
      dockerCredential(REGISTRY, { configFile: malformed.configFile }),
      refusedWith("unauthorized", /auths\["registry\.example:5000"\]\.auth is not the base64 of user:password$/, "hunter2"),
    );
  });

  it("prefers the explicit credential for its registry only", async () => {
    const { configFile } = setup({ auths: { "b.example": { auth: basic("bob", "pw") } } });
    const lookup = credentialLookup({ configFile, explicit: { "a.example": { username: "ann", password: "flag", source: "--username" } } });
    assert.deepEqual(await lookup("a.example"), { username: "ann", password: "flag", source: "--username" });
    assert.equal((await lookup("b.example"))?.username, "bob");
  });

  it("stores in auths and erases again, keeping the other settings, the file readable by its owner only", async () => {
    const { configFile } = setup({ auths: { "https://keep.example": { auth: basic("k", "k") } }, currentContext: "default", proxies: { x: 1 } });
    assert.equal(await storeCredential(REGISTRY, { username: "alice", password: "s3cret" }, { configFile }), `docker config auths (${configFile})`);
    assert.equal(statSync(configFile).mode & 0o777, 0o600);
    const stored = JSON.parse(readFileSync(configFile, "utf8"));
    assert.deepEqual(stored, {
      auths: { "https://keep.example": { auth: basic("k", "k") }, [REGISTRY]: { auth: basic("alice", "s3cret") } },
      currentContext: "default",
      proxies: { x: 1 },
    });
    assert.equal((await dockerCredential(REGISTRY, { configFile }))?.password, "s3cret");

    assert.equal(await eraseCredential(REGISTRY, { configFile }), `docker config auths (${configFile})`);
    assert.equal(await dockerCredential(REGISTRY, { configFile }), undefined);
    assert.deepEqual(JSON.parse(readFileSync(configFile, "utf8")).auths, { "https://keep.example": { auth: basic("k", "k") } });
    assert.equal(await eraseCredential(REGISTRY, { configFile }), undefined);
  });

  it("replaces an https:// spelling of the same registry instead of adding a second key", async () => {
    const { configFile } = setup({ auths: { [`https://${REGISTRY}`]: { auth: basic("old", "old") } } });
    await storeCredential(REGISTRY, { identityToken: "refresh-me" }, { configFile });
    assert.deepEqual(JSON.parse(readFileSync(configFile, "utf8")).auths, { [`https://${REGISTRY}`]: { identitytoken: "refresh-me" } });
  });

  it("creates the config and its directory when there are none", async () => {
    const { dir } = setup();
    const configFile = path.join(dir, "new", ".docker", "config.json");
    await storeCredential(REGISTRY, { username: "alice", password: "s3cret" }, { configFile });
    assert.equal(statSync(path.dirname(configFile)).mode & 0o777, 0o700);
    assert.equal((await dockerCredential(REGISTRY, { configFile }))?.username, "alice");
  });

  it("stores through the credsStore helper, leaving config.json alone, and erases there", async () => {
    const { configFile, helperStore } = setup({ credsStore: HELPER });
    const before = readFileSync(configFile, "utf8");
    const where = `credential helper docker-credential-${HELPER} (credsStore in ${configFile})`;
    assert.equal(await storeCredential(REGISTRY, { username: "alice", password: "s3cret" }, { configFile }), where);
    assert.equal(await storeCredential("tokens.example", { identityToken: "refresh-me" }, { configFile }), where);
    assert.deepEqual(JSON.parse(readFileSync(helperStore, "utf8")), {
      [REGISTRY]: { Username: "alice", Secret: "s3cret" },
      "tokens.example": { Username: "<token>", Secret: "refresh-me" },
    });
    assert.equal(readFileSync(configFile, "utf8"), before);
    assert.equal(await eraseCredential(REGISTRY, { configFile }), where);
    assert.equal(await eraseCredential(REGISTRY, { configFile }), undefined);
    assert.deepEqual(Object.keys(JSON.parse(readFileSync(helperStore, "utf8"))), ["tokens.example"]);
  });

  it("refuses a user name with a colon, which auth could not tell from the password", async () => {
    const { configFile } = setup({});
    await assert.rejects(storeCredential(REGISTRY, { username: "a:b", password: "s3cret" }, { configFile }), refusedWith("unauthorized", /cannot contain ":"/, "s3cret"));
  });
});
