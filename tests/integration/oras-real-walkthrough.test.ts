// `make walkthrough` twice, each on a registry of its own: once with the real oras 1.3.6
// (ORAS_BACKEND=oras, tmp/tools/bin first on PATH for that make alone) and once with the built-in
// client (ORAS_BACKEND=builtin). The README says the built-in writes the same artifacts, byte for
// byte: the same manifest bytes and digests, read back by crane and skopeo (two clients sharing no
// code with ours or each other), the same pulled files, the same commands printed and the same summary.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { type RegistryProcess, startTestRegistry } from "../../lib/registry-server.ts";
import { AGENTS, FIXTURE_CARDS, fixtureCard, run, type Run, RUNTIME, skopeo } from "../helpers.ts";
import { crane, needsTools, pathWithOras } from "../reference-tools.ts";

const BACKENDS = ["oras", "builtin"] as const;
type Backend = (typeof BACKENDS)[number];

describe("make walkthrough with the real oras and with the built-in client", needsTools("oras", "crane"), () => {
  const registries = {} as Record<Backend, RegistryProcess>;
  const runs = {} as Record<Backend, Run>;
  let work: string;
  const outDir = (backend: Backend) => path.join(work, backend);

  before(async () => {
    work = mkdtempSync(path.join(os.tmpdir(), "pallet-walkthrough-"));
    [registries.oras, registries.builtin] = await Promise.all([startTestRegistry(), startTestRegistry()]);
    for (const backend of BACKENDS) {
      runs[backend] = await run("make", ["--no-print-directory", "walkthrough"], {
        env: {
          REGISTRY: registries[backend].address,
          CARDS_DIR: FIXTURE_CARDS,
          OUT_DIR: outDir(backend),
          RUNTIME,
          ORAS_BACKEND: backend,
          ...(backend === "oras" && { PATH: pathWithOras() }),
        },
      });
    }
  });
  after(async () => {
    await Promise.all(Object.values(registries).map((registry) => registry?.stop()));
    rmSync(work, { recursive: true, force: true });
  });

  /** A run's output with its registry and OUT_DIR as the README shows them, and the times and temp dirs that differ from run to run left out. */
  const shown = (backend: Backend) =>
    (runs[backend].stdout + runs[backend].stderr).replaceAll(registries[backend].address, "localhost:5000").replaceAll(outDir(backend), "tmp/registry-verify")
      .replace(/\/tmp\/pallet-verification-\w+/g, "/tmp/pallet-verification-…")
      .replace(/\d+\.\d\d s\b/g, "… s");

  it("passes both ways; the real oras runs every command, the built-in says once that it stands in", () => {
    for (const backend of BACKENDS) assert.equal(runs[backend].code, 0, `${backend}:\n${runs[backend].stdout}\n${runs[backend].stderr}`);
    assert.doesNotMatch(shown("oras"), /oras is not on PATH/);
    assert.equal(shown("builtin").match(/oras is not on PATH: the built-in OCI client runs each command below/g)?.length, 1);
  });

  it("prints the same oras commands and the same summary", () => {
    const commands = (backend: Backend) => shown(backend).split("\n").filter((line) => /^\$ .*oras /.test(line));
    assert.ok(commands("oras").length >= 20, commands("oras").join("\n"));
    assert.deepEqual(commands("builtin"), commands("oras"));
    const summary = (backend: Backend) => shown(backend).slice(shown(backend).indexOf("== All Agents Summary =="));
    assert.match(summary("oras"), /\| localhost:5000\/agents\/plan +\| v2 +\| sha256:[a-f0-9]{64} \| Copied from v1 +\|/);
    assert.equal(summary("builtin"), summary("oras"));
  });

  it("left the same manifest bytes under the same digests, as crane and skopeo read them, with every blob in place", async () => {
    for (const agent of AGENTS) {
      for (const tag of ["v1", "v2"]) {
        const [theirs, ours] = await Promise.all(BACKENDS.map((backend) => crane(["manifest", "--insecure", `${registries[backend].address}/agents/${agent}:${tag}`])));
        assert.equal(ours, theirs, `agents/${agent}:${tag}`);
        const digests = await Promise.all(BACKENDS.map((backend) => crane(["digest", "--insecure", `${registries[backend].address}/agents/${agent}:${tag}`])));
        assert.deepEqual(digests, [digests[0], digests[0]]);
        const bySkopeo = await skopeo(["inspect", "--raw", "--tls-verify=false", `docker://${registries.builtin.address}/agents/${agent}:${tag}`]);
        assert.equal(bySkopeo, ours);
        // crane checks that every blob the manifest names is there, with its size (layers are not tarballs: --fast).
        assert.match(await crane(["validate", "--fast", "--insecure", "--remote", `${registries.builtin.address}/agents/${agent}:${tag}`]), /^PASS: /);
      }
    }
  });

  it("left one verification record per card, the same shape from both, under the same tags", async () => {
    for (const agent of AGENTS) {
      const [theirs, ours] = await Promise.all(BACKENDS.map(async (backend) => {
        const repository = `${registries[backend].address}/agents/${agent}`;
        const tags = (await crane(["ls", "--insecure", repository])).trim().split("\n").sort();
        const index = JSON.parse(await crane(["manifest", "--insecure", `${repository}:${tags.find((tag) => tag.startsWith("sha256-"))}`]));
        const record = JSON.parse(await crane(["manifest", "--insecure", `${repository}@${index.manifests[0].digest}`]));
        return { tags, entries: index.manifests.length, artifactType: record.artifactType, subject: record.subject, layers: record.layers.map((layer: { mediaType: string; annotations: unknown }) => [layer.mediaType, layer.annotations]) };
      }));
      assert.deepEqual(ours, theirs, agent);
      assert.equal(theirs.entries, 1);
    }
  });

  it("pulled the same files, byte-identical to the fixtures", () => {
    for (const backend of BACKENDS) {
      assert.deepEqual(readdirSync(outDir(backend)).sort(), AGENTS.map((agent) => `${agent}_agent_card.json`).sort(), backend);
      for (const agent of AGENTS) assert.deepEqual(readFileSync(path.join(outDir(backend), `${agent}_agent_card.json`)), fixtureCard(agent), `${backend}: ${agent}`);
    }
  });
});
