// Faults and load (issue 3, cases 11-13), against a real docker-registry: transient errors come
// from a fault injector in front of it, crashes from SIGKILL, load from concurrent clients.
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { pushArtifact } from "../../lib/oci/artifacts.ts";
import { sha256Digest } from "../../lib/oci/digest.ts";
import { CREATED_ANNOTATION, createdTimestamp, parseManifest } from "../../lib/oci/manifest.ts";
import { CARD_TYPE } from "../../lib/cards.ts";
import { Registry } from "../../lib/oci/registry.ts";
import { parseReference } from "../../lib/oci/reference.ts";
import type { RegistryProcess } from "../../lib/registry-server.ts";
import { AGENTS, fixtureCard, killRegistry, restartRegistry, runScript, startFaultProxy, withRegistry } from "../helpers.ts";

const WALKTHROUGH = ["push", "list", "manifest", "pull", "verify", "copy"];

describe("faults and load", () => {
  const bench = withRegistry();
  const step = (name: string, args: string[] = [], env: Record<string, string> = {}) =>
    runScript(name, args, { ...bench.env, ...env }, bench.work);

  /** Checks what a tag resolves to: a manifest whose every blob is there, of the right size and digest. */
  async function assertConsistent(repository: string, tag: string): Promise<string> {
    const client = new Registry(bench.registry.address).repository(repository);
    const { bytes, descriptor: { digest } } = await client.fetchManifest(tag);
    const manifest = parseManifest(bytes);
    for (const descriptor of [manifest.config, ...manifest.layers]) {
      const blob = new Uint8Array(await (await client.fetchBlob(descriptor.digest)).arrayBuffer());
      assert.equal(blob.byteLength, descriptor.size, `${repository}:${tag} ${descriptor.digest}`);
      assert.equal(sha256Digest(blob), descriptor.digest, `${repository}:${tag}`);
    }
    return digest;
  }

  describe("11. transient errors", () => {
    it("retries 5xx, 408 and 429 with backoff, and the push completes", async () => {
      const proxy = await startFaultProxy(bench.registry.address);
      try {
        for (const status of [500, 502, 503, 504]) proxy.fail("PUT", /^\/v2\/agents\/plan\/manifests\/retried$/, status, 1);
        proxy.fail("HEAD", /^\/v2\/agents\/plan\/blobs\//, 429, 2);
        proxy.fail("POST", /^\/v2\/agents\/plan\/blobs\/uploads\/$/, 408, 1);
        const pushed = await step("push", ["--agents", "plan", "--tag", "retried"], { REGISTRY: proxy.address });
        assert.equal(pushed.code, 0, pushed.stderr);
        // The four failures, then the answer: as many attempts as the client allows, and no more.
        assert.equal(proxy.count("PUT", /^\/v2\/agents\/plan\/manifests\/retried$/), 5);
        assert.equal(proxy.count("POST", /^\/v2\/agents\/plan\/blobs\/uploads\/$/), 3, "two uploads, one retried");
      } finally {
        await proxy.stop();
      }
      await assertConsistent("agents/plan", "retried");
      const verified = await step("verify", ["--agents", "plan", "--tag", "retried"]);
      assert.equal(verified.code, 0, verified.stdout);
    });

    it("retries a manifest refused as DIGEST_INVALID, which Distribution answers while a concurrent push relinks a blob", async () => {
      const proxy = await startFaultProxy(bench.registry.address);
      try {
        proxy.fail("PUT", /^\/v2\/agents\/build\/manifests\/relinked$/, 400, 2, "DIGEST_INVALID");
        const pushed = await step("push", ["--agents", "build", "--tag", "relinked"], { REGISTRY: proxy.address });
        assert.equal(pushed.code, 0, pushed.stderr);
        assert.equal(proxy.count("PUT", /^\/v2\/agents\/build\/manifests\/relinked$/), 3);
      } finally {
        await proxy.stop();
      }
      await assertConsistent("agents/build", "relinked");
    });

    it("gives up on a registry that keeps failing after a bounded number of attempts, with a clear error", async () => {
      const proxy = await startFaultProxy(bench.registry.address);
      try {
        proxy.fail("GET", /^\/v2\/_catalog/, 503);
        const listed = await step("list", [], { REGISTRY: proxy.address });
        assert.equal(listed.code, 2, listed.stderr);
        assert.ok(listed.stderr.includes(`✗ Error response from registry: ${proxy.address}: injected 503 (HTTP 503)\n`), listed.stderr);
        assert.match(listed.stderr, /It answered 503 5 times in a row: check it with `make registry-status REGISTRY=127\.0\.0\.1:\d+` and its log, then run again\./);
        assert.equal(proxy.count("GET", /^\/v2\/_catalog/), 5);
      } finally {
        await proxy.stop();
      }
    });

    it("does not retry 404 or 400", async () => {
      const proxy = await startFaultProxy(bench.registry.address);
      try {
        proxy.fail("GET", /^\/v2\/agents\/plan\/tags\/list/, 400);
        const env = { REGISTRY: proxy.address };
        const [missing, refused] = await Promise.all([
          step("manifest", ["--agents", "plan", "--tag", "v9"], env),
          step("list", ["--agents", "plan"], env),
        ]);
        assert.equal(missing.code, 1, missing.stderr);
        assert.match(missing.stderr, /agents\/plan:v9: not found/);
        assert.equal(proxy.count("GET", /^\/v2\/agents\/plan\/manifests\/v9$/), 1);
        assert.equal(refused.code, 1, refused.stderr);
        assert.ok(refused.stderr.includes(`✗ Error response from registry: ${proxy.address}/agents/plan: injected 400 (HTTP 400)\n`), refused.stderr);
        // One tags/list from list itself, one from the explanation of the manifest step's 404.
        assert.equal(proxy.count("GET", /^\/v2\/agents\/plan\/tags\/list/), 2);
      } finally {
        await proxy.stop();
      }
    });
  });

  describe("13. concurrency", () => {
    it("runs two walkthroughs at once against one registry, and every tag ends consistent", async () => {
      // Pinned, so both write the same manifests: otherwise one's copy step could see the other's
      // later push in between and rightly report that v1 and v2 differ. Different manifests
      // racing for one tag are the next test's case.
      const walkthrough = async (name: string) => {
        for (const stepName of WALKTHROUGH) {
          const result = await step(stepName, [], { OUT_DIR: path.join(bench.work, name), SOURCE_DATE_EPOCH: "1700000000" });
          assert.equal(result.code, 0, `${name} ${stepName}:\n${result.stdout}\n${result.stderr}`);
        }
      };
      await Promise.all([walkthrough("first"), walkthrough("second")]);
      for (const agent of AGENTS) {
        for (const tag of ["v1", "v2"]) await assertConsistent(`agents/${agent}`, tag);
      }
    });

    it("ends consistent after 50 concurrent pushes of the same tag", async () => {
      const card = new Uint8Array(fixtureCard("plan"));
      const ref = parseReference(`${bench.registry.address}/agents/plan:contended`);
      // 50 clients, as 50 separate processes would be; each push its own manifest (created differs).
      const digests = await Promise.all(Array.from({ length: 50 }, async (_, i) => {
        const created = createdTimestamp(new Date(Date.UTC(2025, 0, 1, 0, 0, i)));
        const pushed = await pushArtifact(new Registry(bench.registry.address).repository(ref.repository), ref.tag!, [
          { title: "plan_agent_card.json", mediaType: "application/json", bytes: card },
        ], { artifactType: CARD_TYPE, annotations: { [CREATED_ANNOTATION]: created } });
        return pushed.descriptor.digest;
      }));
      assert.equal(new Set(digests).size, 50);
      const winner = await assertConsistent("agents/plan", "contended");
      assert.ok(digests.includes(winner), "the tag holds one of the pushed manifests");
      for (const digest of digests) await assertConsistent("agents/plan", digest);
      const verified = await step("verify", ["--agents", "plan", "--tag", "contended"]);
      assert.equal(verified.code, 0, verified.stdout + verified.stderr);
    });
  });

  // Last: it leaves the registry restarted, and its after() stops it.
  describe("12. registry restarts and crashes", () => {
    // The registry this block restarted last, on bench.registry's address and storage.
    let restarted: RegistryProcess | undefined;
    after(() => restarted?.stop());
    /** SIGKILL, as a crash would; the next start reads the same storage. */
    const crash = () => killRegistry(restarted ?? bench.registry);
    const start = async () => {
      restarted = await restartRegistry(bench.registry);
    };

    it("keeps the data when the registry restarts between push and verify", async () => {
      const pushed = await step("push");
      assert.equal(pushed.code, 0, pushed.stderr);
      await crash();
      await start();
      const verified = await step("verify");
      assert.equal(verified.code, 0, verified.stdout + verified.stderr);
      assert.match(verified.stdout, /=== All agents verified successfully ===/);
    });

    it("fails clearly when the registry dies in the middle of a push, and a rerun completes", async () => {
      const proxy = await startFaultProxy(bench.registry.address);
      try {
        // Hold the second card's manifest, kill the registry, then let the request go on to nothing.
        const held = proxy.hold("PUT", /^\/v2\/agents\/build\/manifests\/crash$/);
        const pushing = step("push", ["--tag", "crash"], { REGISTRY: proxy.address });
        const release = await held;
        await crash();
        release();
        const crashed = await pushing;
        assert.equal(crashed.code, 2, crashed.stderr);
        assert.match(crashed.stderr, new RegExp(`✗ cannot reach the registry at http://${proxy.address}: connection closed by the registry\n`));
        assert.ok(crashed.stderr.includes(`Start one with \`make registry REGISTRY=${proxy.address}\``), crashed.stderr);
        assert.match(crashed.stdout, /Pushed \[registry\] .*\/agents\/plan:crash\n/, "the first card went through");
      } finally {
        await proxy.stop();
      }
      await start();
      await assertConsistent("agents/plan", "crash");
      const rerun = await step("push", ["--tag", "crash"]);
      assert.equal(rerun.code, 0, rerun.stderr);
      const verified = await step("verify", ["--tag", "crash"]);
      assert.equal(verified.code, 0, verified.stdout + verified.stderr);
    });
  });
});
