// What a hostile registry, a second publisher, an impatient user or a careless URL must not do:
// grow memory without bound, loop forever, end in a stack trace, lose a card silently, leave
// half-written files, or repeat a password. Real registries; the fault proxy in front of one
// plays the source that misbehaves.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { MAX_PAGE_BYTES } from "../../lib/oci/registry.ts";
import { type RegistryProcess, startTestRegistry } from "../../lib/registry-server.ts";
import { cardsDir, type FaultProxy, filesBelow, FIXTURE_CARDS, PROJECT_ROOT, runScript, startFaultProxy, startScript, withRegistry } from "../helpers.ts";

/** No stack trace, no "unexpected failure": the message of a failure someone can act on. */
function failsCleanly(result: { code: number; stderr: string }, code: number, message: RegExp) {
  assert.equal(result.code, code, result.stderr);
  assert.match(result.stderr, message);
  assert.doesNotMatch(result.stderr, /unexpected failure|    at /);
}

describe("robustness", () => {
  const bench = withRegistry();
  /** `work` with a fault proxy in front of the test registry, stopped afterwards. */
  async function throughProxy(work: (proxy: FaultProxy) => Promise<void>) {
    const proxy = await startFaultProxy(bench.registry.address);
    try {
      await work(proxy);
    } finally {
      await proxy.stop();
    }
  }
  let target: RegistryProcess;
  const step = (name: string, env: Record<string, string> = {}, args: string[] = []) =>
    runScript(name, args, { ...bench.env, DISCOVERY_CACHE: "off", ...env }, bench.work);

  before(async () => {
    target = await startTestRegistry();
    const pushed = await step("push");
    assert.equal(pushed.code, 0, pushed.stderr);
  });
  after(() => target?.stop());

  describe("1. no answer is read without a bound", () => {
    it("mirror stops reading a blob at the size its descriptor says, however much the source sends", { timeout: 60_000 }, async () => {
      await throughProxy(async (proxy) => {
        proxy.flood("GET", /\/blobs\/sha256:/, 256 * 1024 * 1024);
        const result = await step("mirror", { FROM: proxy.address, TO: target.address, AGENTS: "plan" });
        failsCleanly(result, 1, /blob sha256:[a-f0-9]{64} of .* is larger than [\d,]+ bytes; refusing it/);
        assert.ok(proxy.flooded() < 64 * 1024 * 1024, `the source sent ${proxy.flooded()} bytes before the mirror stopped reading`);
      });
    });

    it("list refuses a catalog page past its limit instead of reading it whole", async () => {
      await throughProxy(async (proxy) => {
        proxy.pad("GET", /\/v2\/_catalog/, 2 * MAX_PAGE_BYTES, false);
        failsCleanly(await step("list", { REGISTRY: proxy.address }), 1, /a page of the list .* is larger than 1,048,576 bytes; refusing it/);
      });
    });
  });

  describe("2. no loop follows a server forever", () => {
    it("list refuses a catalog whose next page is the page it just read", { timeout: 60_000 }, async () => {
      await throughProxy(async (proxy) => {
        proxy.link("GET", /\/v2\/_catalog/, "/v2/_catalog?n=1000");
        failsCleanly(await step("list", { REGISTRY: proxy.address }), 1, /the registry's next page is one it sent already \(\/v2\/_catalog\?n=1000\); stopped\n {2}The registry's list pages lead back to themselves/);
      });
    });

    it("versions refuses a tag list that links back to itself", { timeout: 60_000 }, async () => {
      await throughProxy(async (proxy) => {
        proxy.link("GET", /\/tags\/list/, "/v2/agents/plan/tags/list");
        failsCleanly(await step("versions", { REGISTRY: proxy.address, AGENTS: "plan" }), 1, /next page is one it sent already/);
      });
    });
  });

  describe("3. a stall is a network failure", () => {
    it("mirror names a blob that stalls mid-transfer, and exits 2", { timeout: 60_000 }, async () => {
      await throughProxy(async (proxy) => {
        // The cards' blobs, not the 2-byte empty config, which would be whole before it stalls.
        proxy.stall("GET", /\/blobs\/sha256:(?!44136fa355b3)/, 100);
        // Time enough for a loaded machine to answer; the stall itself never ends.
        const result = await step("mirror", { FROM: proxy.address, TO: target.address, AGENTS: "plan", REGISTRY_TIMEOUT: "3" });
        failsCleanly(result, 2, /blob sha256:[a-f0-9]{64} of .* stalled: the sender stopped after 100 of \d+ bytes[^\n]*\n {2}It stopped sending in the middle of an answer/);
      });
    });

    it("discover CRAWL=1 fails when every card it finds stalls, instead of reporting 0 cards", { timeout: 60_000 }, async () => {
      await throughProxy(async (proxy) => {
        proxy.stall("GET", /\/blobs\/sha256:(?!44136fa355b3)/, 10);
        const result = await step("discover", { REGISTRY: proxy.address, CRAWL: "1", REGISTRY_TIMEOUT: "3" });
        failsCleanly(result, 2, /stalled/);
        assert.doesNotMatch(result.stdout, /0 agent cards/);
      });
    });
  });

  describe("4. two publishers at once", () => {
    it("the one whose card the tag does not keep finds out, and says who won", { timeout: 120_000 }, async () => {
      const changed = JSON.parse(readFileSync(path.join(FIXTURE_CARDS, "plan_agent_card.json"), "utf8"));
      changed.version = "9.9.9";
      const other = cardsDir(bench.work, { "plan_agent_card.json": JSON.stringify(changed, null, 2) + "\n" });
      for (let trial = 0; trial < 5; trial++) {
        const tag = `race-${trial}`;
        const [a, b] = await Promise.all([
          step("publish", { TAG: tag, CARD: path.join(FIXTURE_CARDS, "plan_agent_card.json") }),
          step("publish", { TAG: tag, CARD: path.join(other, "plan_agent_card.json") }),
        ]);
        const winners = [a, b].filter((result) => result.code === 0);
        assert.equal(winners.length, 1, `trial ${trial}: ${winners.length} publishers succeeded\n${a.stderr}\n${b.stderr}`);
        const loser = a.code === 0 ? b : a;
        assert.equal(loser.code, 1, loser.stderr);
        assert.match(loser.stderr, new RegExp(`agents/plan:${tag} (was published by someone else while this push ran|already holds a different card)`));
        // The winner's card is the one the tag holds.
        const versions = await step("versions", { AGENTS: "plan" }, ["--json"]);
        const held = JSON.parse(versions.stdout).versions.find((entry: { tag: string }) => entry.tag === tag);
        assert.equal(held.version, winners[0] === a ? "1.0.0" : "9.9.9");
      }
    });
  });

  describe("5. interrupts leave nothing behind", () => {
    it("no hidden .partial file after SIGINT at any moment of a pull of many large cards", { timeout: 300_000 }, async () => {
      // 30 cards of 900 KB: 30 hidden files made while 8 transfers run, as often as an interrupt can meet one.
      const agents = Array.from({ length: 30 }, (_, i) => `big${i}`);
      const plan = JSON.parse(readFileSync(path.join(FIXTURE_CARDS, "plan_agent_card.json"), "utf8"));
      const cards = path.join(bench.work, "big-cards");
      mkdirSync(cards);
      for (const agent of agents) {
        writeFileSync(path.join(cards, `${agent}_agent_card.json`), JSON.stringify({ ...plan, name: `${agent} agent`, description: "x".repeat(900 * 1024) }));
      }
      const env = { ...bench.env, AGENTS: agents.join(","), TAG: "big" };
      assert.equal((await step("push", { ...env, CARDS_DIR: cards })).code, 0);
      const started = performance.now();
      assert.equal((await step("pull", { ...env, OUT_DIR: path.join(bench.work, "whole") })).code, 0);
      const whole = performance.now() - started;
      const trials = 20;
      for (let trial = 0; trial < trials; trial++) {
        const outDir = path.join(bench.work, `interrupted-${trial}`);
        mkdirSync(outDir);
        const { child, done } = startScript("pull", [], { ...env, OUT_DIR: outDir }, bench.work);
        // Spread over the second half of start-up and the transfers, where the hidden files are made.
        await sleep(whole * (0.3 + (0.6 * trial) / trials));
        try {
          process.kill(child.pid!, "SIGINT");
        } catch (error) {
          // The pull was done already: nothing to interrupt this time.
          if ((error as NodeJS.ErrnoException).code !== "ESRCH") throw error;
        }
        await done;
        assert.deepEqual(filesBelow(outDir).filter((name) => name.endsWith(".partial")), [], `trial ${trial}`);
      }
    });
  });

  describe("9. no secret in an error", () => {
    for (const args of [["repo", "ls", "alice:pw@HOST"], ["manifest", "fetch", "https://alice:pw@HOST/agents/plan:v1"], ["repo", "ls", "http://alice:pw@HOST"]]) {
      it(`oras ${args.join(" ")} never repeats the password`, async () => {
        const result = await runScript("oras", args.map((arg) => arg.replace("HOST", bench.registry.address)), {}, PROJECT_ROOT);
        assert.equal(result.code, 1);
        assert.match(result.stderr, /a registry written user:password@host was refused \(not shown here, not used\)/);
        assert.doesNotMatch(result.stdout + result.stderr, /pw/);
      });
    }

    it("a reference with only a user name is shown with it masked", async () => {
      const result = await runScript("oras", ["manifest", "fetch", `bob@${bench.registry.address}/agents/plan:v1`], {}, PROJECT_ROOT);
      assert.equal(result.code, 1);
      assert.match(result.stderr, /invalid reference "\*\*\*@/);
      assert.doesNotMatch(result.stderr, /bob/);
    });
  });
});
