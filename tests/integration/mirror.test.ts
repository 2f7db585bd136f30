// make mirror: agent repositories from one registry to another, each side with its own TLS and
// credentials; referrers included; resumable after an interrupt.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { Authenticator } from "../../lib/oci/auth.ts";
import { pushArtifact } from "../../lib/oci/artifacts.ts";
import { credentialLookup } from "../../lib/oci/credentials.ts";
import { encodeIndex, MEDIA_TYPE } from "../../lib/oci/manifest.ts";
import { collect, Registry } from "../../lib/oci/registry.ts";
import { createTransport } from "../../lib/oci/transport.ts";
import { type RegistryProcess, startTestRegistry } from "../../lib/registry-server.ts";
import { fixtureCard, RUNTIME, runScript, startFaultProxy, startScript } from "../helpers.ts";
import { type SecureRegistry, startBasicAuthRegistry, startTokenAuthRegistry, type TokenAuthRegistry } from "../servers.ts";

const SOURCE_USER = { alice: "source-Pa55-1" };
const TARGET_USER = { bob: "target-Pa55-2" };
const basic = (user: string, password: string) => Buffer.from(`${user}:${password}`).toString("base64");

/** A lib client of a TLS registry, logged in as the only user given. */
function client(registry: SecureRegistry, users: Record<string, string>): Registry {
  const transport = createTransport({ caFile: registry.caFile });
  const [[username, password]] = Object.entries(users);
  const credentials = credentialLookup({ explicit: { [registry.address]: { username, password, source: "the test" } } });
  return new Registry(registry.address, { transport, authorizer: new Authenticator({ fetch: transport.fetch, credentials }) });
}

const card = (agent: string, extra = "") => [{ title: `${agent}_agent_card.json`, mediaType: "application/json", bytes: new Uint8Array([...fixtureCard(agent), ...new TextEncoder().encode(extra)]) }];
const named = (states: { repository: string; tag: string }[]) => states.map((state) => `${state.repository}:${state.tag}`);

describe("make mirror", () => {
  describe("between a TLS + htpasswd registry and a token-auth registry", () => {
    let source: SecureRegistry;
    let target: TokenAuthRegistry;
    let work: string;
    let env: Record<string, string>;
    let referrersTag: string;
    let referrer: string;
    let staleBuild: string;

    before(async () => {
      [source, target] = await Promise.all([startBasicAuthRegistry(SOURCE_USER), startTokenAuthRegistry({ users: TARGET_USER })]);
      work = mkdtempSync(path.join(os.tmpdir(), "pallet-mirror-"));
      // The source's credentials from the Docker config; the target's from TO_USERNAME/TO_PASSWORD.
      writeFileSync(path.join(work, "config.json"), JSON.stringify({ auths: { [source.address]: { auth: basic("alice", SOURCE_USER.alice) } } }));
      env = {
        FROM: source.address,
        TO: target.address,
        FROM_CA_FILE: source.caFile,
        TO_CA_FILE: target.caFile,
        TO_USERNAME: "bob",
        TO_PASSWORD: TARGET_USER.bob,
        DOCKER_CONFIG: work,
      };
      const [from, to] = [client(source, SOURCE_USER), client(target, TARGET_USER)];
      const plan = await pushArtifact(from.repository("agents/plan"), "v1", card("plan"));
      await from.repository("agents/plan").pushManifest("v2", plan.bytes, MEDIA_TYPE.ociManifest);
      await pushArtifact(from.repository("agents/build"), "v1", card("build"));
      const test = await pushArtifact(from.repository("agents/test"), "v1", card("test"));
      await pushArtifact(from.repository("other/thing"), "v1", card("plan"));
      // A referrer of plan:v1 and the index the referrers tag schema keeps for it.
      const signature = await pushArtifact(from.repository("agents/plan"), undefined, card("plan", " "), {
        artifactType: "application/vnd.example.signature",
        subject: plan.descriptor,
      });
      referrer = signature.descriptor.digest;
      referrersTag = plan.descriptor.digest.replace(":", "-");
      const index = encodeIndex({
        schemaVersion: 2,
        mediaType: MEDIA_TYPE.ociIndex,
        manifests: [{ ...signature.descriptor, artifactType: "application/vnd.example.signature" }],
      });
      await from.repository("agents/plan").pushManifest(referrersTag, index, MEDIA_TYPE.ociIndex);
      // The target has test:v1 already, and a different build:v1.
      const same = await pushArtifact(to.repository("agents/test"), "v1", card("test"), { annotations: test.manifest.annotations });
      assert.equal(same.descriptor.digest, test.descriptor.digest);
      staleBuild = (await pushArtifact(to.repository("agents/build"), "v1", card("build", "\n"))).descriptor.digest;
    });
    after(async () => {
      await Promise.all([source?.stop(), target?.stop()]);
      rmSync(work, { recursive: true, force: true });
    });

    it("copies what is missing or different, referrers included, skips what is equal, and proves both sides agree", async () => {
      const result = await runScript("mirror", ["--json"], env);
      assert.equal(result.code, 0, result.stderr);
      const report = JSON.parse(result.stdout);
      assert.equal(report.catalog, true);
      assert.deepEqual(report.repositories, ["agents/build", "agents/plan", "agents/test"]);
      assert.deepEqual(named(report.copied), ["agents/build:v1", `agents/plan:${referrersTag}`, "agents/plan:v1", "agents/plan:v2"].sort());
      assert.deepEqual(named(report.skipped), ["agents/test:v1"]);
      assert.equal(report.verified.length, 5);
      assert.deepEqual(report.mismatched, []);
      assert.match(result.stderr, new RegExp(`✓ copied agents/build:v1 sha256:[a-f0-9]{64} \\(${target.address} had ${staleBuild}\\)`));
      assert.match(result.stderr, new RegExp(`= agents/test:v1 sha256:[a-f0-9]{64} is on ${target.address} already`));
      assert.match(result.stderr, new RegExp(`✓ verified: ${source.address} and ${target.address} resolve all 5 tags to the same digests`));
      for (const secret of [SOURCE_USER.alice, TARGET_USER.bob]) assert.ok(!(result.stdout + result.stderr).includes(secret));

      // Checked independently of the mirror's own report.
      const [from, to] = [client(source, SOURCE_USER), client(target, TARGET_USER)];
      for (const name of ["agents/plan", "agents/build", "agents/test"]) {
        for (const tag of await collect(from.repository(name).tags())) {
          assert.equal((await to.repository(name).resolve(tag)).digest, (await from.repository(name).resolve(tag)).digest, `${name}:${tag}`);
        }
      }
      assert.ok(await to.repository("agents/plan").hasManifest(referrer), "the referrer the index lists is on the target");
      assert.ok(!(await collect(to.catalog())).includes("other/thing"), "only agent repositories are mirrored");
    });

    it("copies nothing the second time", async () => {
      const result = await runScript("mirror", ["--json"], env);
      assert.equal(result.code, 0, result.stderr);
      const report = JSON.parse(result.stdout);
      assert.deepEqual(report.copied, []);
      assert.equal(report.skipped.length, 5);
      assert.equal(report.verified.length, 5);
    });

    it("names the side whose credentials are missing, and exits 2", async () => {
      const { TO_PASSWORD: _, TO_USERNAME: __, ...withoutTarget } = env;
      const result = await runScript("mirror", [], withoutTarget);
      assert.equal(result.code, 2, result.stdout);
      assert.match(result.stderr, new RegExp(`✗ token service ${target.tokenServer.realm} for ${target.address}: it refused an anonymous request`));
    });
  });

  describe("interrupted, then run again", () => {
    let source: RegistryProcess;
    let target: RegistryProcess;
    const AGENT_NAMES = ["a1", "a2", "a3", "a4", "a5", "held"];

    before(async () => {
      [source, target] = await Promise.all([startTestRegistry(), startTestRegistry()]);
      const from = new Registry(source.address);
      await Promise.all(AGENT_NAMES.map(async (agent) => {
        const pushed = await pushArtifact(from.repository(`agents/${agent}`), "v1", card("plan", agent));
        await from.repository(`agents/${agent}`).pushManifest("v2", pushed.bytes, MEDIA_TYPE.ociManifest);
      }));
    });
    after(async () => {
      await Promise.all([source?.stop(), target?.stop()]);
    });

    it("resumes: what was copied before the interrupt is skipped, the rest is copied", async () => {
      const proxy = await startFaultProxy(target.address);
      try {
        const held = proxy.hold("PUT", /^\/v2\/agents\/held\/manifests\/v1$/);
        const first = startScript("mirror", [], { FROM: source.address, TO: proxy.address });
        let output = "";
        const othersCopied = new Promise<void>((resolve) =>
          first.child.stdout.on("data", (chunk) => {
            output += chunk;
            if ((output.match(/✓ copied /g) ?? []).length === AGENT_NAMES.length * 2 - 1) resolve();
          })
        );
        await Promise.all([held, othersCopied]);
        first.child.kill("SIGTERM");
        const interrupted = await first.done;
        // Node reports the child's exit code (143); Deno's child_process reports the signal it sent.
        assert.equal(interrupted.code, RUNTIME === "node" ? 143 : -1, interrupted.stderr);
        assert.match(interrupted.stderr, /✗ interrupted by SIGTERM/);

        const second = await runScript("mirror", ["--json"], { FROM: source.address, TO: proxy.address });
        assert.equal(second.code, 0, second.stderr);
        const report = JSON.parse(second.stdout);
        assert.deepEqual(named(report.copied), ["agents/held:v1"]);
        assert.equal(report.skipped.length, AGENT_NAMES.length * 2 - 1);
        assert.equal(report.verified.length, AGENT_NAMES.length * 2);
      } finally {
        await proxy.stop();
      }
    });
  });
});
