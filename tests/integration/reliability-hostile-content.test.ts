// Hostile or broken registry content (issue 3, cases 8-10). The artifacts are written into a
// real docker-registry by hand with the built-in client's lower layer, or its storage is
// tampered with on disk; oversized answers come from a fault injector in front of it. Every
// case must be refused with exit code 1 and leave the output directory as it was.
import { before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readFileSync, truncateSync, writeFileSync } from "node:fs";
import path from "node:path";
import { sha256Digest } from "../../lib/oci/digest.ts";
import {
  artifactManifest,
  EMPTY_BLOB,
  EMPTY_CONFIG,
  encodeManifest,
  MAX_MANIFEST_BYTES,
  MEDIA_TYPE,
} from "../../lib/oci/manifest.ts";
import { CARD_TYPE } from "../../lib/cards.ts";
import { Registry } from "../../lib/oci/registry.ts";
import { blobDataPath, filesBelow, fixtureCard, runScript, startFaultProxy, withRegistry } from "../helpers.ts";

const REPOSITORY = "agents/plan";
const CARD = new Uint8Array(fixtureCard("plan"));

describe("hostile or broken registry content", () => {
  const bench = withRegistry();
  const step = (name: string, args: string[], env: Record<string, string> = {}) =>
    runScript(name, args, { ...bench.env, ...env }, bench.work);
  /** Pulls REPOSITORY:tag into a fresh directory below the work dir. */
  const pull = (tag: string, env: Record<string, string> = {}) =>
    step("pull", ["--agents", "plan", "--tag", tag], { OUT_DIR: path.join(bench.work, `out-${tag}`), ...env });

  /** Writes REPOSITORY:tag by hand: an empty config and these layers, each titled unless `title` is null. */
  async function putArtifact(tag: string, layers: { title: string | null; bytes: Uint8Array; size?: number }[]) {
    const repository = new Registry(bench.registry.address).repository(REPOSITORY);
    const manifest = artifactManifest(
      layers.map((layer) => ({ title: layer.title ?? "", mediaType: "application/json", bytes: layer.bytes })),
      { artifactType: CARD_TYPE },
    );
    manifest.layers.forEach((descriptor, i) => {
      if (layers[i].title === null) delete descriptor.annotations;
      descriptor.size = layers[i].size ?? descriptor.size;
    });
    await repository.ensureBlob(EMPTY_CONFIG.digest, () => EMPTY_BLOB);
    for (const layer of layers) await repository.ensureBlob(sha256Digest(layer.bytes), () => layer.bytes);
    await repository.pushManifest(tag, encodeManifest(manifest), MEDIA_TYPE.ociManifest);
  }

  /** Runs `work`, then checks that nothing below the work dir changed. */
  async function writesNothing(work: () => Promise<void>) {
    const before = filesBelow(bench.work);
    await work();
    assert.deepEqual(filesBelow(bench.work), before);
  }

  before(async () => {
    const pushed = await step("push", []);
    assert.equal(pushed.code, 0, pushed.stderr);
  });

  describe("8. titles and manifests", () => {
    it("refuses titles that escape the output directory, before writing anything", async () => {
      const outside = `${bench.work}-outside/x`;
      const titles = ["../x", outside, "a/../../x"];
      // A good layer first: it must not be written either.
      await Promise.all(titles.map((title, i) => putArtifact(`escape${i}`, [{ title: "plan_agent_card.json", bytes: CARD }, { title, bytes: CARD }])));
      await writesNothing(async () => {
        const results = await Promise.all(titles.map((_, i) => pull(`escape${i}`)));
        for (const [i, result] of results.entries()) {
          assert.equal(result.code, 1, result.stderr);
          const outDir = path.join(bench.work, `out-escape${i}`);
          assert.ok(
            result.stderr.includes(`✗ path traversal disallowed: the layer title ${JSON.stringify(titles[i])} would be written outside ${outDir}\n`),
            result.stderr,
          );
          assert.match(result.stderr, /The artifact is hostile or broken; nothing was written\. Do not pull it with --allow-path-traversal\./);
        }
        const verified = await step("verify", ["--agents", "plan", "--tag", "escape0"]);
        assert.equal(verified.code, 1, verified.stderr);
        assert.match(verified.stdout, /✗ plan agent: path traversal disallowed: the layer title "\.\.\/x"/);
      });
      assert.equal(existsSync(outside), false);
    });

    it("refuses duplicate titles, and titles that would need one file to be the other's directory", async () => {
      await putArtifact("duplicate", [{ title: "plan_agent_card.json", bytes: CARD }, { title: "plan_agent_card.json", bytes: EMPTY_BLOB }]);
      await putArtifact("nested", [{ title: "plan_agent_card.json", bytes: CARD }, { title: "plan_agent_card.json/x", bytes: EMPTY_BLOB }]);
      await writesNothing(async () => {
        const [duplicate, nested] = await Promise.all([pull("duplicate"), pull("nested")]);
        assert.equal(duplicate.code, 1, duplicate.stderr);
        assert.ok(duplicate.stderr.includes(`✗ ${bench.registry.address}/agents/plan:duplicate has two layers titled "plan_agent_card.json"; refusing to pull\n`));
        assert.equal(nested.code, 1, nested.stderr);
        assert.ok(nested.stderr.includes(
          `✗ ${bench.registry.address}/agents/plan:nested has layers titled "plan_agent_card.json" and "plan_agent_card.json/x", which cannot both be files; refusing to pull\n`,
        ), nested.stderr);
      });
    });

    it("refuses a manifest with no titled layer", async () => {
      await putArtifact("untitled", [{ title: null, bytes: CARD }]);
      await writesNothing(async () => {
        const result = await pull("untitled");
        assert.equal(result.code, 1, result.stderr);
        assert.ok(result.stderr.includes(
          `✗ ${bench.registry.address}/agents/plan:untitled has no layer with an org.opencontainers.image.title annotation: nothing to pull\n`,
        ), result.stderr);
        assert.match(result.stderr, /Push files with `oras push REF FILE`/);
      });
    });

    it("refuses an unexpected manifest media type, in pull and in manifest", async () => {
      const index = new TextEncoder().encode(JSON.stringify({ schemaVersion: 2, mediaType: MEDIA_TYPE.ociIndex, manifests: [] }));
      await new Registry(bench.registry.address).repository(REPOSITORY).pushManifest("index", index, MEDIA_TYPE.ociIndex);
      await writesNothing(async () => {
        const results = await Promise.all([pull("index"), step("manifest", ["--agents", "plan", "--tag", "index"])]);
        for (const result of results) {
          assert.equal(result.code, 1, result.stderr);
          assert.ok(result.stderr.includes(
            `✗ ${bench.registry.address}/agents/plan:index: unexpected manifest media type "${MEDIA_TYPE.ociIndex}"\n`,
          ), result.stderr);
          assert.ok(result.stderr.includes(`Expected ${MEDIA_TYPE.ociManifest}, the form oras push writes`));
        }
      });
    });
  });

  describe("9. blobs that do not match their digest or size", () => {
    const outDir = () => path.join(bench.work, "registry-verify");
    before(async () => {
      const pulled = await step("pull", []);
      assert.equal(pulled.code, 0, pulled.stderr);
    });

    /** Damages the stored blob of an agent's card, then pulls and verifies that agent again. */
    async function afterDamage(agent: string, damage: (file: string) => void) {
      const card = fixtureCard(agent);
      damage(blobDataPath(bench.registry.storageDir, sha256Digest(card)));
      const before = filesBelow(bench.work);
      const pulled = await step("pull", ["--agents", agent]);
      const verified = await step("verify", ["--agents", agent]);
      assert.deepEqual(filesBelow(bench.work), before, "no file left behind, none added");
      assert.deepEqual(readFileSync(path.join(outDir(), `${agent}_agent_card.json`)), card, "the good earlier pull stays");
      assert.equal(pulled.code, 1, pulled.stderr);
      assert.equal(verified.code, 1, verified.stderr);
      return { pulled, verified, digest: sha256Digest(card), size: card.length };
    }

    it("refuses a blob whose bytes were changed on disk, and keeps the good file pulled before", async () => {
      let damaged = "";
      const { pulled, verified, digest, size } = await afterDamage("test", (file) => {
        const bytes = readFileSync(file);
        bytes.reverse();
        writeFileSync(file, bytes);
        damaged = sha256Digest(bytes);
      });
      const message = `blob ${digest} failed verification: got ${size} bytes with digest ${damaged}, expected ${size} bytes`;
      assert.ok(pulled.stderr.includes(`✗ ${message}\n`), pulled.stderr);
      assert.match(pulled.stderr, /The registry's storage is damaged or the artifact was tampered with; nothing was written\./);
      assert.match(pulled.stderr, /start over with `make reset registry push REGISTRY=127\.0\.0\.1:\d+` \(reset asks first\)/);
      assert.ok(verified.stdout.includes(`✗ test agent: ${message}`), verified.stdout);
    });

    it("writes none of an artifact's files when one of its blobs is bad", async () => {
      const extra = new TextEncoder().encode('{"extra": true}\n');
      await putArtifact("half-bad", [
        { title: "plan_agent_card.json", bytes: CARD },
        { title: "extra.json", bytes: extra, size: extra.length - 1 },
      ]);
      const outDir = path.join(bench.work, "out-half-bad");
      mkdirSync(outDir);
      await writesNothing(async () => {
        const result = await pull("half-bad");
        assert.equal(result.code, 1, result.stderr);
        assert.ok(result.stderr.includes(`✗ blob ${sha256Digest(extra)} is larger than the ${extra.length - 1} bytes its descriptor says`), result.stderr);
      });
    });

    it("refuses a blob cut short on disk, and keeps the good file pulled before", async () => {
      const { pulled, verified, digest, size } = await afterDamage("build", (file) => truncateSync(file, 1000));
      assert.match(pulled.stderr, new RegExp(`✗ blob ${digest} broke off after (0|1000) of ${size} bytes\n`));
      assert.match(pulled.stderr, /The registry stopped while sending it, or its storage is damaged/);
      assert.match(verified.stdout, new RegExp(`✗ build agent: blob ${digest} broke off`));
    });
  });

  describe("10. oversized answers", () => {
    it("refuses a manifest over 4 MiB, whether its size is announced or only streamed", async () => {
      const proxy = await startFaultProxy(bench.registry.address);
      try {
        proxy.pad("GET", /\/manifests\/v1$/, MAX_MANIFEST_BYTES, true);
        proxy.pad("GET", /\/manifests\/v2$/, MAX_MANIFEST_BYTES, false);
        const copied = await step("copy", ["--agents", "plan"]);
        assert.equal(copied.code, 0, copied.stderr);
        await writesNothing(async () => {
          for (const tag of ["v1", "v2"]) {
            const result = await pull(tag, { REGISTRY: proxy.address });
            assert.equal(result.code, 1, result.stderr);
            assert.ok(result.stderr.includes(`✗ the manifest of ${proxy.address}/agents/plan:${tag} is larger than 4,194,304 bytes; refusing it\n`), result.stderr);
            assert.match(result.stderr, /No registry stores anything this big/);
          }
        });
      } finally {
        await proxy.stop();
      }
    });

    it("refuses a blob larger than its descriptor says, whether its size is announced or only streamed", async () => {
      await putArtifact("understated", [{ title: "plan_agent_card.json", bytes: CARD, size: CARD.length - 10 }]);
      const proxy = await startFaultProxy(bench.registry.address);
      try {
        proxy.pad("GET", /\/blobs\/sha256:/, 10, false);
        // pull creates the directory first, as the spec's `mkdir -p` does; the files are what matter.
        for (const tag of ["understated", "v1"]) mkdirSync(path.join(bench.work, `out-${tag}`), { recursive: true });
        await writesNothing(async () => {
          const [announced, streamed] = await Promise.all([pull("understated"), pull("v1", { REGISTRY: proxy.address })]);
          for (const [result, size] of [[announced, CARD.length - 10], [streamed, CARD.length]] as const) {
            assert.equal(result.code, 1, result.stderr);
            assert.ok(result.stderr.includes(`✗ blob ${sha256Digest(CARD)} is larger than the ${size} bytes its descriptor says; refusing it\n`), result.stderr);
            assert.match(result.stderr, /The artifact is hostile or broken; nothing was written\./);
          }
        });
      } finally {
        await proxy.stop();
      }
    });
  });
});
