// make walkthrough PAUSE=1: each step shows its title and the commands it will run, as they will
// run (the participant's REGISTRY, the registry start command of this machine, every flag), waits
// for Enter, then runs them; the summary sets the steps' times against the workshop's budget.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { freePort } from "../../lib/registry-server.ts";
import { FIXTURE_CARDS, PROJECT_ROOT, run, RUNTIME } from "../helpers.ts";

const STEPS = [
  "Prerequisite: a registry",
  "3.1 Publish Agent Cards",
  "3.2 Verify Storage, Step 1: List Registry Contents",
  "3.2 Verify Storage, Step 1: Manifests and Digests",
  "3.2 Verify Storage, Step 2: Pull Agent Cards Back",
  "3.2 Verify Storage, Steps 3-4: Registry Verification Report",
  "Copy to a New Version",
  "All Agents Summary",
];
const PROMPT = "Press Enter to run it.";

/** The `$ …` lines of some output. */
const commands = (text: string) => text.split("\n").filter((line) => line.startsWith("$ "));
/** A shown command as a pattern for the one run: "…" stands for what only the run knows (a digest, a scratch directory). */
const asRun = (shown: string) => new RegExp(`^${shown.replace(/[.*+?^${}()|[\]\\]/g, "\\$&").replaceAll("…", ".+")}$`);

describe("presenter mode", () => {
  let address: string;
  const out = mkdtempSync(path.join(os.tmpdir(), "pallet-presenter-"));
  before(async () => {
    address = `127.0.0.1:${await freePort()}`;
  });
  after(async () => {
    rmSync(out, { recursive: true, force: true });
    await run("make", ["--no-print-directory", "registry-stop", `REGISTRY=${address}`], { env: { RUNTIME } });
    rmSync(path.join(PROJECT_ROOT, "tmp/registry", address.replace(":", "_")), { recursive: true, force: true });
  });

  it("shows each step's commands as they will run, waits for Enter, then runs exactly those", { timeout: 300_000 }, async () => {
    const child = spawn("make", ["--no-print-directory", "walkthrough", `REGISTRY=${address}`], {
      cwd: PROJECT_ROOT,
      env: { ...process.env, NO_COLOR: "1", PAUSE: "1", RUNTIME, CARDS_DIR: FIXTURE_CARDS, OUT_DIR: out, ORAS_BACKEND: "builtin", DISCOVERY_CACHE: "off" },
      stdio: ["pipe", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.on("data", (chunk) => (output += chunk));
    child.stderr.on("data", (chunk) => (output += chunk));
    const exited = new Promise<number | null>((resolve) => child.on("close", resolve));

    for (const [i, title] of STEPS.entries()) {
      while (output.split(PROMPT).length - 1 <= i) {
        assert.equal(child.exitCode, null, `the walkthrough ended before step ${i + 1}:\n${output}`);
        await sleep(20);
      }
      const shownAt = output.lastIndexOf(`== ${title} ==`);
      assert.ok(shownAt >= 0, `${title} was not announced:\n${output}`);
      const shown = commands(output.slice(shownAt, output.lastIndexOf(PROMPT)));
      // Waiting: what the step does has not happened yet.
      await sleep(300);
      assert.deepEqual(commands(output.slice(output.lastIndexOf(PROMPT))), [], `${title} ran before Enter`);
      const ranFrom = output.length;
      child.stdin.write("\n");
      while (!/\(\d+\.\d+ s\)\n/.test(output.slice(ranFrom))) {
        assert.equal(child.exitCode, null, `the walkthrough ended in ${title}:\n${output}`);
        await sleep(20);
      }
      const ran = commands(output.slice(ranFrom));
      assert.equal(ran.length, shown.length, `${title} showed:\n${shown.join("\n")}\nbut ran:\n${ran.join("\n")}`);
      ran.forEach((line, j) => assert.match(line, asRun(shown[j]), title));
      // The registry this machine starts: a container where a Docker engine answers, else docker-registry.
      if (i === 0) {
        const started = `REGISTRY_HTTP_ADDR='"${address}"' \\S+ docker-registry serve fixtures/registry/config\\.yml > tmp/registry/\\S+/registry\\.log 2>&1 &`;
        assert.match(shown[0], new RegExp(`^\\$ (${started}|docker run -d -p ${address}:5000 --name \\S+ registry:2)$`));
      }
      if (i === 1) for (const line of shown) assert.match(line, new RegExp(`--annotation org\\.opencontainers\\.image\\.created=2026-01-01T00:00:00Z ${address}/agents/`));
    }
    child.stdin.end();
    assert.equal(await exited, 0, output);
    assert.match(output, /^Publishing: [\d.]+ s \(the workshop budgets 8 minutes: push\)$/m);
    assert.match(output, /^Verifying: [\d.]+ s \(the workshop budgets 12 minutes: list, manifest, pull, verify\)$/m);
    assert.match(output, /^Phase 3 done in [\d.]+ s/m);
    assert.equal(output.match(/\| Copied from v1 \|/g)?.length, 3, output);
  });
});
