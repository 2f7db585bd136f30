// What a broken, hostile or impatient environment must not do to a run (issue 8): interrupts
// leave nothing behind, every manifest is checked against its digest, a server that is not a
// registry is named as such, and the summary tells the truth.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { sha256Digest } from "../../lib/oci/digest.ts";
import { Registry } from "../../lib/oci/registry.ts";
import { blobDataPath, cardsDir, filesBelow, runScript, startFaultProxy, startScript, withRegistry } from "../helpers.ts";

describe("hardening", () => {
  const bench = withRegistry();
  const step = (name: string, args: string[] = [], env: Record<string, string> = {}) =>
    runScript(name, args, { ...bench.env, ...env }, bench.work);

  it("pushes the cards the other cases read", async () => {
    const pushed = await step("push");
    assert.equal(pushed.code, 0, pushed.stderr);
  });

  describe("2. interrupts", () => {
    /** Starts a pull whose blob stalls mid-transfer, and waits until its hidden file exists. */
    async function stalledPull(outDir: string) {
      const proxy = await startFaultProxy(bench.registry.address);
      proxy.stall("GET", /\/blobs\/sha256:/, 100);
      const started = startScript("pull", ["--agents", "plan"], { ...bench.env, REGISTRY: proxy.address, OUT_DIR: outDir }, bench.work);
      for (let waited = 0; !filesBelow(outDir).some((name) => name.endsWith(".partial")); waited += 20) {
        assert.ok(waited < 20_000, "the pull never began writing its hidden file");
        await sleep(20);
      }
      return { proxy, ...started };
    }

    for (const [signal, code] of [["SIGINT", 130], ["SIGTERM", 143]] as const) {
      it(`on ${signal} removes what it half-wrote, says so in one line and exits ${code}`, async () => {
        const outDir = path.join(bench.work, `interrupted-${signal}`);
        const { proxy, child, done } = await stalledPull(outDir);
        try {
          // Sent past the ChildProcess object: Deno's would report the signal, not the exit code the handler chose.
          process.kill(child.pid!, signal);
          const result = await done;
          assert.equal(result.code, code, result.stderr);
          assert.equal(result.stderr, `✗ interrupted by ${signal}; removed 1 half-written file\n`);
          assert.deepEqual(filesBelow(outDir), []);
        } finally {
          await proxy.stop();
        }
      });
    }

    it("removes the leftovers of a run killed outright, and the rerun completes", async () => {
      const outDir = path.join(bench.work, "killed");
      const { proxy, child, done } = await stalledPull(outDir);
      child.kill("SIGKILL");
      await done;
      await proxy.stop();
      assert.equal(filesBelow(outDir).filter((name) => name.endsWith(".partial")).length, 1, "SIGKILL leaves the hidden file");
      const rerun = await step("pull", ["--agents", "plan"], { OUT_DIR: outDir });
      assert.equal(rerun.code, 0, rerun.stderr);
      assert.deepEqual(filesBelow(outDir), ["plan_agent_card.json"]);
    });
  });

  describe("3. every manifest is checked against its digest", () => {
    it("refuses a manifest changed in the registry's storage, in pull, verify, copy and summary", async () => {
      // A copy of plan:v1 under its own tag, whose stored bytes are then changed in place: same
      // size and still JSON, so only the digest can tell.
      const repository = new Registry(bench.registry.address).repository("agents/plan");
      const { bytes, descriptor } = await repository.fetchManifest("v1");
      const changed = new TextDecoder().decode(bytes).replace(/image\.created":"(\d{4})/, (_, year) => `image.created":"${Number(year) + 1}`);
      assert.notEqual(changed, new TextDecoder().decode(bytes));
      await repository.pushManifest("tampered", bytes, descriptor.mediaType);
      writeFileSync(blobDataPath(bench.registry.storageDir, descriptor.digest), changed);
      const announced = `the manifest of ${bench.registry.address}/agents/plan:tampered hashes to ${sha256Digest(changed)}, but the registry says ${descriptor.digest}`;
      const env = { OUT_DIR: path.join(bench.work, "tampered") };
      for (const [name, args] of [["pull", []], ["verify", []], ["copy", ["--to-tag", "v9"]], ["summary", ["--to-tag", "v1"]]] as const) {
        const result = await step(name, ["--agents", "plan", "--tag", "tampered", ...args], env);
        assert.equal(result.code, 1, `${name}: ${result.stdout}${result.stderr}`);
        assert.ok(`${result.stdout}${result.stderr}`.includes(announced), `${name}:\n${result.stdout}${result.stderr}`);
      }
      assert.deepEqual(filesBelow(env.OUT_DIR), []);
      // Put the original bytes back for the cases that follow.
      writeFileSync(blobDataPath(bench.registry.storageDir, descriptor.digest), bytes);
    });
  });

  describe("5. a server that is not a registry is named as such", () => {
    it("says a web server is not an OCI registry, without its HTML", async () => {
      const page = "<!doctype html><html><head><title>Not Found</title></head><body>" + "x".repeat(300) + "</body></html>\n";
      const server = http.createServer((_request, response) => {
        response.writeHead(404, { "content-type": "text/html" });
        response.end(page);
      });
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
      try {
        const address = `127.0.0.1:${(server.address() as AddressInfo).port}`;
        for (const name of ["list", "pull", "push"]) {
          const result = await step(name, ["--agents", "plan"], { REGISTRY: address });
          assert.equal(result.code, 2, `${name}: ${result.stderr}`);
          assert.ok(result.stderr.includes(`✗ http://${address} answers, but not as an OCI registry`), `${name}: ${result.stderr}`);
          assert.ok(!result.stderr.includes("<html>") && !result.stderr.includes("does not exist"), `${name}: ${result.stderr}`);
          assert.match(result.stderr, /Point REGISTRY at an OCI registry/);
        }
      } finally {
        await new Promise((resolve) => server.close(resolve));
      }
    });
  });

  describe("7. the summary tells the truth", () => {
    it("says the tags differ when v2 holds other content than v1", async () => {
      const changed = JSON.parse(readFileSync(path.join(bench.env.CARDS_DIR, "build_agent_card.json"), "utf8"));
      changed.version = "1.0.1";
      const dir = cardsDir(bench.work, { "build_agent_card.json": JSON.stringify(changed, null, 2) });
      const pushed = await step("push", ["--agents", "build", "--tag", "v2"], { CARDS_DIR: dir });
      assert.equal(pushed.code, 0, pushed.stderr);
      const summary = await step("summary", ["--agents", "build"]);
      assert.match(summary.stdout, /\| v2 +\| sha256:[a-f0-9]{64} \| Differs from v1 +\|/);
      assert.doesNotMatch(summary.stdout, /Copied from v1/);
    });
  });
});
