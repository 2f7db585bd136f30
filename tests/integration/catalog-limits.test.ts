// Server limits: a catalog page cap below what the client asks for (Distribution's
// catalog.maxentries), thousands of repositories, and registries that offer no catalog at all.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { mapLimit } from "../../lib/concurrency.ts";
import { pushArtifact } from "../../lib/oci/artifacts.ts";
import { EMPTY_CONFIG, MEDIA_TYPE } from "../../lib/oci/manifest.ts";
import { Registry } from "../../lib/oci/registry.ts";
import { freePort, type RegistryProcess, startDistribution } from "../../lib/registry-server.ts";
import { AGENTS, fixtureCard, runScript, startFaultProxy } from "../helpers.ts";

const PAGE_CAP = 50;
/** Not a multiple of the cap, so the last page is a short one. */
const OTHER_REPOSITORIES = 2014;

describe("catalog limits: a page cap, thousands of repositories, no catalog", () => {
  let registry: RegistryProcess;
  let work: string;
  const expected: string[] = [];

  before(async () => {
    work = mkdtempSync(path.join(os.tmpdir(), "pallet-catalog-"));
    const configFile = path.join(work, "config.yml");
    writeFileSync(configFile, `version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: ${JSON.stringify(path.join(work, "data"))}\nhttp:\n  addr: 127.0.0.1:5000\ncatalog:\n  maxentries: ${PAGE_CAP}\n`);
    registry = await startDistribution({ port: await freePort(), storageDir: path.join(work, "data"), logFile: path.join(work, "registry.log"), configFile });
    // The agents as the walkthrough pushes them, then thousands more repositories holding the
    // same manifest: its blobs are mounted, so each costs two mounts and a manifest PUT.
    const client = new Registry(registry.address);
    const pushed = await Promise.all(AGENTS.map((agent) =>
      pushArtifact(client.repository(`agents/${agent}`), "v1", [{ title: `${agent}_agent_card.json`, mediaType: "application/json", bytes: fixtureCard(agent) }])
    ));
    const { bytes, manifest } = pushed[0];
    const others = Array.from({ length: OTHER_REPOSITORIES }, (_, i) => `fleet/r${String(i).padStart(4, "0")}`);
    await mapLimit(others, 16, async (name) => {
      const repository = client.repository(name);
      await Promise.all([EMPTY_CONFIG, ...manifest.layers].map((blob) => repository.ensureBlob(blob.digest, () => new Uint8Array())));
      await repository.pushManifest("v1", bytes, MEDIA_TYPE.ociManifest);
    });
    expected.push(...AGENTS.map((agent) => `agents/${agent}`), ...others);
    expected.sort();
  });
  after(async () => {
    await registry?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  it("lists every repository when the registry refuses pages of 1,000: its own page size, following Link", async () => {
    const proxy = await startFaultProxy(registry.address);
    try {
      const result = await runScript("list", ["--json"], { REGISTRY: proxy.address, ORAS_BACKEND: "builtin" });
      assert.equal(result.code, 0, result.stderr);
      const listed = JSON.parse(result.stdout);
      assert.equal(listed.repositories.length, expected.length);
      assert.deepEqual(listed.repositories, expected);
      assert.deepEqual(listed.tags, { "agents/plan": ["v1"], "agents/build": ["v1"], "agents/test": ["v1"] });
      const catalog = proxy.requests.filter((line) => line.startsWith("GET /v2/_catalog"));
      assert.deepEqual(catalog.slice(0, 2), ["GET /v2/_catalog?n=1000", "GET /v2/_catalog"]);
      assert.equal(catalog.length, 2 + Math.ceil(expected.length / PAGE_CAP) - 1);
      for (const line of catalog.slice(2)) assert.match(line, new RegExp(`^GET /v2/_catalog\\?last=[^&]+&n=${PAGE_CAP}$`));
    } finally {
      await proxy.stop();
    }
  });

  it("make doctor finds the page limit", async () => {
    const result = await runScript("doctor", [], { REGISTRY: registry.address });
    assert.match(result.stdout, new RegExp(`^✓ the catalog is offered, in pages of up to ${PAGE_CAP} repositories$`, "m"));
  });

  for (const [status, code] of [[401, "UNAUTHORIZED"], [403, "DENIED"], [404, undefined]] as const) {
    it(`says plainly that a registry answering ${status} on _catalog offers none, and lists the agents named`, async () => {
      const proxy = await startFaultProxy(registry.address);
      proxy.fail("GET", /^\/v2\/_catalog/, status, Infinity, code);
      try {
        const result = await runScript("list", [], { REGISTRY: proxy.address, AGENTS: "plan,test", ORAS_BACKEND: "builtin" });
        assert.equal(result.code, 0, result.stderr);
        assert.match(result.stderr, new RegExp(`^! ${proxy.address} does not let this client list its repositories \\(GET /v2/_catalog: .+\\)$`, "m"));
        assert.match(
          result.stdout,
          new RegExp(`So listing the agent repositories named by AGENTS instead: agents/plan, agents/test\n\\$ oras repo tags --plain-http ${proxy.address}/agents/plan\nv1\n`),
        );
      } finally {
        await proxy.stop();
      }
    });
  }
});
