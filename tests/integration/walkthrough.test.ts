// The whole of Phase 3 against a real registry, checked afterwards with skopeo, an OCI client
// that shares no code with ours.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { sha256Digest } from "../../lib/oci/digest.ts";
import { referrersTag } from "../../lib/oci/referrers.ts";
import { MEDIA_TYPE, TITLE_ANNOTATION } from "../../lib/oci/manifest.ts";
import { CARD_TYPE } from "../../lib/cards.ts";
import { AGENTS, fixtureCard as fixture, runScript, skopeo, withRegistry } from "../helpers.ts";

describe("the Phase 3 walkthrough", () => {
  const bench = withRegistry();
  const docker = (repository: string) => `docker://${bench.registry.address}/${repository}`;

  it("runs every step in spec order, each printing the oras command it stands for", async () => {
    const expected: Record<string, string> = {
      push: "oras push --plain-http --artifact-type application/a2a-agent-card+json",
      list: `oras repo ls --plain-http ${bench.registry.address}`,
      manifest: `oras manifest fetch --plain-http --pretty ${bench.registry.address}/agents/plan:v1`,
      pull: `oras pull --plain-http ${bench.registry.address}/agents/plan:v1 -o`,
      verify: "=== All agents verified successfully ===",
      copy: `oras cp --from-plain-http --to-plain-http ${bench.registry.address}/agents/plan:v1 ${bench.registry.address}/agents/plan:v2`,
    };
    for (const [step, text] of Object.entries(expected)) {
      const result = await runScript(step, [], bench.env);
      assert.equal(result.code, 0, `${step} failed:\n${result.stdout}\n${result.stderr}`);
      assert.ok(result.stdout.includes(text), `${step} output lacks "${text}":\n${result.stdout}`);
    }
  });

  it("left each card as an OCI image manifest with one application/json layer titled after the file", async () => {
    for (const agent of AGENTS) {
      const raw = await skopeo(["inspect", "--raw", "--tls-verify=false", docker(`agents/${agent}:v1`)]);
      const manifest = JSON.parse(raw);
      assert.equal(manifest.mediaType, MEDIA_TYPE.ociManifest);
      assert.equal(manifest.artifactType, CARD_TYPE);
      assert.equal(manifest.config.mediaType, MEDIA_TYPE.empty);
      assert.equal(manifest.layers.length, 1);
      assert.equal(manifest.layers[0].mediaType, "application/json");
      assert.equal(manifest.layers[0].annotations[TITLE_ANNOTATION], `${agent}_agent_card.json`);
      assert.equal(manifest.layers[0].digest, sha256Digest(fixture(agent)));
    }
  });

  it("tagged v1 and v2 of every agent with the same manifest", async () => {
    for (const agent of AGENTS) {
      const tags = JSON.parse(await skopeo(["list-tags", "--tls-verify=false", docker(`agents/${agent}`)])).Tags;
      const [v1, v2] = await Promise.all(
        ["v1", "v2"].map((tag) => skopeo(["inspect", "--raw", "--tls-verify=false", docker(`agents/${agent}:${tag}`)])),
      );
      assert.equal(sha256Digest(v2), sha256Digest(v1));
      // verify's record of the card sits in the index under the referrers tag of its manifest.
      assert.deepEqual([...tags].sort(), [referrersTag(sha256Digest(v1)), "v1", "v2"].sort());
    }
  });

  it("stored blobs that skopeo copies out byte-identical to the fixtures", async () => {
    for (const agent of AGENTS) {
      const dir = path.join(bench.work, `skopeo-${agent}`);
      await skopeo(["copy", "--src-tls-verify=false", docker(`agents/${agent}:v1`), `dir:${dir}`]);
      const layer = JSON.parse(readFileSync(path.join(dir, "manifest.json"), "utf8")).layers[0].digest.slice(7);
      assert.deepEqual(readFileSync(path.join(dir, layer)), fixture(agent));
    }
  });

  it("pulled every card into OUT_DIR byte-identical to its fixture, and nothing else", () => {
    assert.deepEqual(readdirSync(bench.env.OUT_DIR).sort(), AGENTS.map((agent) => `${agent}_agent_card.json`).sort());
    for (const agent of AGENTS) {
      assert.deepEqual(readFileSync(path.join(bench.env.OUT_DIR, `${agent}_agent_card.json`)), fixture(agent));
    }
  });

  it("reports with --json what it printed for people, and keeps stdout for the JSON", async () => {
    const result = await runScript("copy", ["--json"], bench.env);
    assert.equal(result.code, 0, result.stderr);
    const { copied } = JSON.parse(result.stdout);
    assert.deepEqual(copied.map((entry: { agent: string }) => entry.agent), AGENTS);
    for (const entry of copied) assert.match(entry.digest, /^sha256:[a-f0-9]{64}$/);
    assert.match(result.stderr, /\$ oras cp /);
  });

  it("gives the same digest for the same card when SOURCE_DATE_EPOCH pins the created time", async () => {
    const pushes = [];
    for (const tag of ["r1", "r2"]) {
      const result = await runScript("push", ["--agents", "plan", "--tag", tag, "--json"], { ...bench.env, SOURCE_DATE_EPOCH: "1700000000" });
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stderr, /--annotation org\.opencontainers\.image\.created=2023-11-14T22:13:20Z/);
      pushes.push(JSON.parse(result.stdout).pushed[0].digest);
    }
    assert.equal(pushes[0], pushes[1]);
  });
});

describe("cards another OCI client wrote in oras's format", () => {
  const bench = withRegistry();

  // oras 1.1+ (empty config, artifactType) and oras 1.0 / --image-spec v1.0 (unknown config).
  const configs = {
    "image spec v1.1": { mediaType: MEDIA_TYPE.empty, artifactType: CARD_TYPE },
    "image spec v1.0": { mediaType: MEDIA_TYPE.unknownConfig, artifactType: undefined },
  };
  for (const [form, config] of Object.entries(configs)) {
    it(`pull and verify what skopeo pushed in the ${form} form`, async () => {
      const tag = form.endsWith("1.1") ? "v11" : "v10";
      for (const agent of AGENTS) {
        const dir = path.join(bench.work, `${agent}-${tag}`);
        const card = fixture(agent);
        const manifest = {
          schemaVersion: 2,
          mediaType: MEDIA_TYPE.ociManifest,
          ...(config.artifactType && { artifactType: config.artifactType }),
          config: { mediaType: config.mediaType, digest: sha256Digest("{}"), size: 2 },
          layers: [{
            mediaType: "application/json",
            digest: sha256Digest(card),
            size: card.byteLength,
            annotations: { [TITLE_ANNOTATION]: `${agent}_agent_card.json` },
          }],
        };
        writeDirLayout(dir, manifest, ["{}", card]);
        await skopeo(["copy", "--dest-tls-verify=false", `dir:${dir}`, `docker://${bench.registry.address}/agents/${agent}:${tag}`]);
      }
      const out = path.join(bench.work, `out-${tag}`);
      const result = await runScript("verify", ["--tag", tag], { ...bench.env, OUT_DIR: out });
      assert.equal(result.code, 0, `${result.stdout}\n${result.stderr}`);
      assert.match(result.stdout, /All agents verified successfully/);
      for (const agent of AGENTS) assert.deepEqual(readFileSync(path.join(out, `${agent}_agent_card.json`)), fixture(agent));
    });
  }
});

/** skopeo's `dir:` transport: the manifest plus one file per blob, named by its hex digest. */
function writeDirLayout(dir: string, manifest: unknown, blobs: (string | Uint8Array)[]) {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, "version"), "Directory Transport Version: 1.1\n");
  writeFileSync(path.join(dir, "manifest.json"), JSON.stringify(manifest));
  for (const blob of blobs) writeFileSync(path.join(dir, sha256Digest(blob).slice(7)), blob);
}
