// A small fleet through a real registry: pushed, found again through the catalog, pulled and
// verified, and checked with skopeo, which shares no code with ours. Then `make bench` itself:
// its help, its settings, and what it leaves behind when it fails or is interrupted.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fleetCard, fleetOriginal, listRepositories, pullAndVerify, pushFleet } from "../../lib/fleet.ts";
import { pushArtifact } from "../../lib/oci/artifacts.ts";
import { Registry } from "../../lib/oci/registry.ts";
import { runScript, skopeo, startScript, withRegistry } from "../helpers.ts";

const COUNT = 20;

describe("a fleet of agent cards", () => {
  const bench = withRegistry();
  let client: Registry;
  const expected = Array.from({ length: COUNT }, (_, index) => fleetCard(index).repository);

  before(async () => {
    client = new Registry(bench.registry.address);
    await pushFleet(client, COUNT, { concurrency: 4 });
  });

  it("lists every card's repository through the catalog", async () => {
    assert.deepEqual((await listRepositories(client)).sort(), [...expected].sort());
  });

  it("tagged each card v1, as skopeo sees it", async () => {
    for (const repository of [expected[0], expected[7], expected[COUNT - 1]]) {
      const listed = JSON.parse(await skopeo(["list-tags", "--tls-verify=false", `docker://${bench.registry.address}/${repository}`]));
      assert.deepEqual(listed.Tags, ["v1"]);
    }
  });

  it("pulls every card back byte-identical to its original", async () => {
    const out = path.join(bench.work, "pulled");
    const check = await pullAndVerify(client, await listRepositories(client), out, { concurrency: 4, original: fleetOriginal });
    assert.deepEqual(check, { verified: COUNT, failed: [] });
    assert.equal(readdirSync(path.join(out, "fleet")).length, COUNT);
  });

  it("names the card that differs from its original and still checks the others", async () => {
    const swapped = fleetCard(COUNT + 1);
    await pushArtifact(new Registry(bench.registry.address).repository(expected[3]), "v1", [
      { title: fleetCard(3).fileName, mediaType: "application/json", bytes: swapped.bytes },
    ]);
    const check = await pullAndVerify(client, expected, path.join(bench.work, "swapped"), { original: fleetOriginal });
    assert.equal(check.verified, COUNT - 1);
    assert.deepEqual(check.failed.map((failure) => failure.repository), [expected[3]]);
    assert.match(check.failed[0].problem, /byte-identical/);
  });
});

describe("make bench (scripts/bench.ts)", () => {
  // Its own TMPDIR, so that whatever it would leave behind is there to see.
  let tmp: string;
  before(() => {
    tmp = mkdtempSync(path.join(os.tmpdir(), "pallet-bench-test-"));
  });
  after(() => rmSync(tmp, { recursive: true, force: true }));
  const ours = () => readdirSync(tmp).filter((name) => /^pallet-(bench|registry)-/.test(name));
  const errorLines = (stderr: string) => stderr.split("\n").filter((line) => line.startsWith("✗"));

  it("--help prints its settings and starts nothing", async () => {
    const result = await runScript("bench", ["--help"], { TMPDIR: tmp });
    assert.equal(result.code, 0, result.stderr);
    for (const knob of ["PART=all", "N=500", "RUNS=5", "FLEET_RUNS=3", "SCALE=1", "SKILL=review_change"]) assert.match(result.stdout, new RegExp(knob));
    assert.equal(result.stderr, "");
    assert.deepEqual(ours(), []);
  });

  it("refuses a setting that is not a whole number, before it starts anything", async () => {
    const result = await runScript("bench", [], { TMPDIR: tmp, N: "1e3" });
    assert.equal(result.code, 2);
    assert.deepEqual(errorLines(result.stderr), ['✗ N must be a whole number from 1, not "1e3"']);
    assert.deepEqual(ours(), []);
  });

  it("refuses a part it does not have, before it starts anything", async () => {
    const result = await runScript("bench", [], { TMPDIR: tmp, PART: "walkthrough,fleets" });
    assert.equal(result.code, 2);
    assert.deepEqual(errorLines(result.stderr), ['✗ PART must be all, or one or more of walkthrough,fleet,discovery,history,service,signing,run joined by commas, not "walkthrough,fleets"']);
    assert.deepEqual(ours(), []);
  });

  it("ends an unexpected failure with one line and removes its scratch directory", async () => {
    const bin = path.join(tmp, "bin");
    mkdirSync(bin);
    writeFileSync(path.join(bin, "make"), "#!/bin/sh\necho 'make: the Makefile is gone' >&2\nexit 2\n");
    chmodSync(path.join(bin, "make"), 0o755);
    const result = await runScript("bench", [], { TMPDIR: tmp, PATH: `${bin}${path.delimiter}${process.env.PATH}` });
    rmSync(bin, { recursive: true });
    assert.equal(result.code, 1);
    const errors = errorLines(result.stderr);
    assert.equal(errors.length, 1, result.stderr);
    assert.match(errors[0], /bench failed: make .*setup.* failed \(exit 2\): make: the Makefile is gone$/);
    assert.doesNotMatch(result.stderr, /\n\s+at /);
    assert.deepEqual(ours(), []);
  });

  it("on SIGTERM stops the registry it started and removes every directory it made", async () => {
    const bench = startScript("bench", [], { TMPDIR: tmp, RUNS: "1" });
    // Waits until the first registry of the walkthrough is up (its directory shows it started).
    while (!readdirSync(tmp).some((name) => name.startsWith("pallet-registry-"))) {
      if (bench.child.exitCode !== null) break;
      await sleep(50);
    }
    // Not child.kill(): Deno then reports the signal, not the exit code the process chose.
    process.kill(bench.child.pid!, "SIGTERM");
    const result = await bench.done;
    assert.equal(result.code, 143, result.stderr);
    assert.deepEqual(errorLines(result.stderr), [
      "✗ interrupted by SIGTERM; stopped the registries and commands this run started, removed its scratch directory",
    ]);
    assert.deepEqual(ours(), []);
  });
});
