// The Troubleshooting cases of phase3-spec.md (issue 3, cases 1-5) and `make doctor`, against a
// real docker-registry: what the steps say (what is wrong, what to do), their exit code
// (2 environment, 1 content), and that nothing is lost or written where it should not be.
import { before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { sha256Digest } from "../../lib/oci/digest.ts";
import { freePort } from "../../lib/registry-server.ts";
import {
  cardsDir,
  filesBelow,
  fixtureCard,
  pathWith,
  runScript,
  silentServer,
  startFaultProxy,
  withRegistry,
} from "../helpers.ts";

const STEPS = ["push", "list", "manifest", "pull", "verify", "copy", "summary"];
/** Not a timing test: generous, only there to catch a step that hangs. */
/** Far beyond any step's own time limits: reached only by a step that hangs. */
const NO_HANG_MS = 120_000;

describe("the spec's Troubleshooting cases", () => {
  const bench = withRegistry();
  /** A step as a user runs it here, in the work dir, with extra environment. */
  const step = (name: string, args: string[] = [], env: Record<string, string> = {}) =>
    runScript(name, args, { ...bench.env, ...env }, bench.work);
  before(async () => {
    const pushed = await step("push");
    assert.equal(pushed.code, 0, pushed.stderr);
  });

  describe("1. registry not running", () => {
    /** Every step at once. A step that hung would hold the test until its time-out fails it. */
    const everyStep = (env: Record<string, string>) =>
      Promise.all(STEPS.map(async (name) => ({ name, ...await step(name, [], env) })));

    it("every step fails fast on connection refused, naming the address and `make registry` there", { timeout: NO_HANG_MS }, async () => {
      const address = `127.0.0.1:${await freePort()}`;
      for (const result of await everyStep({ REGISTRY: address })) {
        assert.equal(result.code, 2, `${result.name}: ${result.stderr}`);
        assert.ok(result.stderr.includes(`✗ cannot reach the registry at http://${address}: connection refused\n`), result.stderr);
        assert.ok(result.stderr.includes(`Start one with \`make registry REGISTRY=${address}\``), `${result.name}: ${result.stderr}`);
      }
    });

    it("every step times out on a registry that accepts connections but never answers, and names it silent", { timeout: NO_HANG_MS }, async () => {
      const silent = await silentServer();
      try {
        for (const result of await everyStep({ REGISTRY: silent.address, REGISTRY_TIMEOUT: "1" })) {
          assert.equal(result.code, 2, `${result.name}: ${result.stderr}`);
            assert.match(result.stderr, new RegExp(`✗ the registry at http://${silent.address} did not answer [A-Z]+ /v2/\\S* within 1 s`));
          assert.match(result.stderr, /accepts connections but is silent/, result.name);
          assert.match(result.stderr, /REGISTRY_TIMEOUT=seconds/, result.name);
        }
      } finally {
        await silent.close();
      }
    });
  });

  describe("2. oras not found", () => {
    it("ORAS_BACKEND=oras without oras on PATH says how to install it or use the built-in client, before any request", async () => {
      const proxy = await startFaultProxy(bench.registry.address);
      try {
        const result = await step("push", [], { REGISTRY: proxy.address, ORAS_BACKEND: "oras", PATH: pathWith(bench.work, []) });
        assert.equal(result.code, 2, result.stderr);
        assert.match(result.stderr, /^✗ ORAS_BACKEND=oras, but the oras CLI is not on PATH\n/);
        assert.match(result.stderr, /Install oras 1\.2 or later \(https:\/\/oras\.land\/docs\/installation/);
        assert.match(result.stderr, /or use the built-in client, which writes the same artifacts: ORAS_BACKEND=builtin\./);
        assert.deepEqual(proxy.requests, []);
      } finally {
        await proxy.stop();
      }
    });

    it("ORAS_BACKEND=auto without oras says once, right before its first command, that the built-in client runs them", async () => {
      const result = await step("push", [], { ORAS_BACKEND: "auto", PATH: pathWith(bench.work, []) });
      assert.equal(result.code, 0, result.stderr);
      const lines = result.stdout.split("\n");
      const note = "(oras is not on PATH: the built-in OCI client runs each command below, with the same results)";
      assert.equal(lines.filter((line) => line === note).length, 1, result.stdout);
      assert.equal(lines.indexOf(note), lines.findIndex((line) => line.startsWith("$ ")) - 1, result.stdout);
      assert.equal(lines.filter((line) => line.startsWith("$ ")).length, 3, "three commands, one note");
    });
  });

  describe("3. artifact not found", () => {
    it("names the missing tag and lists the tags that exist, in every step that reads it", async () => {
      const missing = `${bench.registry.address}/agents/plan:v9`;
      const steps = ["manifest", "pull", "copy", "verify"];
      const results = await Promise.all(steps.map((name) => step(name, ["--tag", "v9", "--agents", "plan"])));
      for (const [i, result] of results.entries()) {
        assert.equal(result.code, 1, `${steps[i]}: ${result.stderr}`);
        const output = result.stdout + result.stderr;
        // manifest fetch says what it was doing, in oras's words.
        const doing = steps[i] === "manifest" ? `failed to fetch the content of "${missing}": ` : "";
        assert.ok(output.includes(`Error response from registry: ${doing}${missing}: not found`), `${steps[i]}:\n${output}`);
        assert.ok(
          output.includes(`Tags in ${bench.registry.address}/agents/plan: v1. Push the missing one first (make push REGISTRY=${bench.registry.address} TAG=…) or pick one of these.`),
          `${steps[i]}:\n${output}`,
        );
      }
    });

    it("says when the repository itself does not exist", async () => {
      const results = await Promise.all(["list", "pull"].map((name) => step(name, ["--agents", "ghost"])));
      for (const result of results) {
        assert.equal(result.code, 1, result.stderr);
        assert.ok(result.stderr.includes(`✗ Error response from registry: ${bench.registry.address}/agents/ghost`), result.stderr);
        assert.ok(result.stderr.includes(`The repository ${bench.registry.address}/agents/ghost does not exist. Push it first: make push`));
      }
    });
  });

  describe("4. content does not match after pull", () => {
    const original = fixtureCard("plan");
    const card = JSON.parse(original.toString());

    /** Pushes `bytes` as the plan card under `tag`, then verifies that tag against the fixture. */
    async function verifyAgainstFixture(tag: string, bytes: string) {
      const pushed = await step("push", ["--agents", "plan", "--tag", tag], { CARDS_DIR: cardsDir(bench.work, { "plan_agent_card.json": bytes }) });
      assert.equal(pushed.code, 0, pushed.stderr);
      return step("verify", ["--agents", "plan", "--tag", tag]);
    }

    it("tells a formatting-only difference apart, with sizes and both sha256", async () => {
      const compact = JSON.stringify(card);
      const result = await verifyAgainstFixture("compact", compact);
      assert.equal(result.code, 1, result.stderr);
      assert.ok(result.stdout.includes(`✗ byte-identical: original ${sha256Digest(original)}, pulled ${sha256Digest(compact)}`), result.stdout);
      assert.ok(result.stdout.includes(`✗ same size: ${original.length.toLocaleString("en-US")} B vs ${compact.length.toLocaleString("en-US")} B`));
      assert.ok(result.stdout.includes("✓ canonical JSON equal: same content, only the formatting differs"));
      assert.ok(result.stdout.includes("✗ plan agent: formatting differs, JSON content is the same (something re-serialised the card)"));
      assert.doesNotMatch(result.stdout, /^[-+] /m, "no diff for the same content");
      assert.match(result.stderr, /✗ 1 of 1 agents failed verification: plan\n/);
    });

    it("shows a real content difference as a json-diff, with sizes and both sha256", async () => {
      const changed = JSON.stringify({ ...card, description: "Writes poems" }, null, 2) + "\n";
      const result = await verifyAgainstFixture("changed", changed);
      assert.equal(result.code, 1, result.stderr);
      assert.ok(result.stdout.includes(`✗ byte-identical: original ${sha256Digest(original)}, pulled ${sha256Digest(changed)}`), result.stdout);
      assert.match(result.stdout, /✗ same size: [\d,]+ B vs [\d,]+ B/);
      assert.ok(result.stdout.includes("✗ canonical JSON equal: the content differs"));
      assert.ok(result.stdout.includes("✗ plan agent: Content mismatch"));
      assert.match(result.stdout, new RegExp(`^-\\s+description: ${JSON.stringify(card.description)}$`, "m"));
      assert.match(result.stdout, /^\+\s+description: "Writes poems"$/m);
    });
  });

  describe("5. output directory not writable", () => {
    /** Each step into its directory, all at once; each must fail with its message and write nothing. */
    async function refused(cases: { name: string; outDir: string; message: string; hint: RegExp }[]) {
      const before = filesBelow(bench.work);
      const runs = cases.map(async (c) => ({ ...c, result: await step(c.name, [], { OUT_DIR: c.outDir }) }));
      for (const { name, message, hint, result } of await Promise.all(runs)) {
        assert.equal(result.code, 2, `${name}: ${result.stderr}`);
        assert.ok(result.stderr.includes(message), `${name}: ${result.stderr}`);
        assert.match(result.stderr, hint);
      }
      assert.deepEqual(filesBelow(bench.work), before);
    }

    it("refuses a file where the output directory should be, and writes nothing anywhere", async () => {
      const file = path.join(bench.work, "in-the-way");
      writeFileSync(file, "mine\n");
      const hint = /Move the file away, or choose another directory with --out \(OUT_DIR\)\./;
      await refused([["pull", file], ["verify", path.join(file, "sub")]].map(([name, outDir]) => ({
        name,
        outDir,
        message: `✗ cannot create the output directory ${outDir}: a file stands where a directory should be\n`,
        hint,
      })));
      assert.equal(readFileSync(file, "utf8"), "mine\n");
    });

    // sysfs refuses new files and directories even to root, who ignores mode bits (tests often
    // run as root, where a chmod 555 directory would not do).
    it("refuses an output directory that takes no new files, or cannot be created, and writes nothing", async () => {
      await refused([
        { name: "verify", outDir: "/sys/kernel", message: "✗ cannot write into /sys/kernel: permission denied\n", hint: /Make the directory writable/ },
        {
          name: "pull",
          outDir: "/sys/kernel/pallet-out",
          message: "✗ cannot create the output directory /sys/kernel/pallet-out: permission denied\n",
          hint: /Choose a directory you can write to with --out \(OUT_DIR\)/,
        },
      ]);
    });
  });

  describe("make doctor", () => {
    it("passes with ✓ for each requirement when the registry answers", async () => {
      const result = await step("doctor");
      assert.equal(result.code, 0, result.stdout);
      for (const line of [
        /^✓ Node v\d+\.\d+\.\d+ \(20 or later needed\)$/m,
        /^✓ deno \d+\.\d+\.\d+ \(node_modules\/\.bin\/deno\)$/m,
        /^✓ npm dependencies: all \d+ installed$/m,
        new RegExp(`^✓ a registry answers at http://${bench.registry.address}/v2/$`, "m"),
        /^✓ .*(oras|the built-in OCI client)/m,
      ]) assert.match(result.stdout, line);
      assert.match(result.stdout, /Everything Phase 3 needs is here\./);
    });

    it("fails with ✗ and the fix when no registry answers", async () => {
      const address = `127.0.0.1:${await freePort()}`;
      const result = await step("doctor", [], { REGISTRY: address });
      assert.equal(result.code, 2, result.stdout);
      assert.ok(result.stdout.includes(`✗ no registry answers at http://${address}/v2/\n  fix: Start one with \`make registry REGISTRY=${address}\``), result.stdout);
      assert.match(result.stdout, /1 required check failed/);
    });

    it("fails with the install advice when ORAS_BACKEND=oras and oras is missing, but never for optional tools", async () => {
      // Only node on PATH: no oras, skopeo, jq or docker-registry.
      const onlyNode = pathWith(bench.work, ["node"]);
      const [wantsOras, auto] = await Promise.all([
        step("doctor", [], { ORAS_BACKEND: "oras", PATH: onlyNode }),
        step("doctor", [], { ORAS_BACKEND: "auto", PATH: onlyNode }),
      ]);
      assert.equal(wantsOras.code, 2, wantsOras.stdout);
      assert.match(wantsOras.stdout, /^✗ ORAS_BACKEND=oras, but the oras CLI is not on PATH\n {2}fix: Install oras 1\.2 or later/m);
      assert.match(wantsOras.stdout, /1 required check failed/);
      assert.equal(auto.code, 0, auto.stdout);
      assert.match(auto.stdout, /^✓ the built-in OCI client runs the oras commands \(oras is not on PATH\)$/m);
      assert.match(auto.stdout, /^✗ skopeo is not on PATH \(optional: .*\)\n {2}fix: sudo apt-get install skopeo$/m);
      assert.match(auto.stdout, /^✗ jq is not on PATH \(optional: .*\)\n {2}fix: sudo apt-get install jq$/m);
    });
  });
});
