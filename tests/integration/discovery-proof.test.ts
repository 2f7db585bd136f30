// Discovery shows only what it can prove (issue 19, item 3). Each test is an attack by someone with
// push rights, or with write access to the local cache, against a real registry: a forged index
// shard, a hand-written verification record, a card blob edited in the registry's storage, a
// hostile entry in the discovery cache. None of them may make discover, versions or the service
// show a URL the card does not hold, or call a card verified.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { DiscoveryCache } from "../../lib/discovery/cache.ts";
import { readIndex, rebuildIndex } from "../../lib/discovery/catalog-index.ts";
import { sha256Digest } from "../../lib/oci/digest.ts";
import { attachArtifact } from "../../lib/oci/referrers.ts";
import { Registry } from "../../lib/oci/registry.ts";
import { readSigningKey } from "../../lib/trust/keys.ts";
import { signDocument } from "../../lib/trust/signatures.ts";
import { VERIFICATION_TYPE } from "../../lib/verification.ts";
import { blobDataPath, cardsDir, fixtureCard, runScript, startService, trustedKey, withRegistry } from "../helpers.ts";

const EVIL = "https://evil.example/steal";

interface Shown {
  agent: string;
  tag: string;
  url: string;
  urls: string[];
  digest: string;
  verified: boolean | null;
}

describe("discovery shows only what it can prove", () => {
  const bench = withRegistry();
  const registry = () => new Registry(bench.registry.address);
  const env = (extra: Record<string, string> = {}) => ({
    ...bench.env,
    DISCOVERY_CACHE: path.join(bench.work, "cache"),
    TRUST_STORE: path.join(bench.work, "keys", "trust.json"),
    ...extra,
  });
  const step = async (name: string, args: string[] = [], extra: Record<string, string> = {}) => {
    const result = await runScript(name, args, env(extra));
    assert.equal(result.code, 0, `${name} ${args.join(" ")} failed:\n${result.stdout}\n${result.stderr}`);
    return result;
  };
  const discover = async (args: string[] = [], extra: Record<string, string> = {}) =>
    JSON.parse((await step("discover", ["--json", ...args], extra)).stdout) as { cards: Shown[]; problems: string[] };
  const versions = async (agent: string) => JSON.parse((await step("versions", ["--json", "--agents", agent])).stdout).versions as Shown[];
  const card = (cards: Shown[], agent: string, tag = "v1") => cards.find((shown) => shown.agent === agent && shown.tag === tag);
  /** Every URL shown, in the cards' url and urls. */
  const urlsOf = (cards: Shown[]) => cards.flatMap((shown) => [shown.url, ...shown.urls]);

  /** The service's JSON and page once it has checked the registry (it answers from the index alone first). */
  async function served(): Promise<{ cards: Shown[]; page: string }> {
    const service = startService(env());
    try {
      const url = await service.url;
      let answer = await (await fetch(`${url}/agents`)).json();
      for (let tries = 0; answer.source === "index-only" && tries < 100; tries++) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        answer = await (await fetch(`${url}/agents`)).json();
      }
      assert.notEqual(answer.source, "index-only", "the service never checked the registry");
      return { cards: answer.cards, page: await (await fetch(`${url}/`)).text() };
    } finally {
      service.child.kill("SIGKILL");
      await service.done;
    }
  }

  it("setup: three cards pushed, and verified with a trusted key", async () => {
    const { key } = await trustedKey(bench.work, bench.registry.address);
    await step("push");
    await step("verify", ["--key", key]);
    const cards = (await discover()).cards;
    assert.deepEqual(cards.map((shown) => [shown.agent, shown.verified]), [["build", true], ["plan", true], ["test", true]]);
  });

  it("attack 1: a forged index shard that gives plan's real digest another URL is not believed", async () => {
    const index = await readIndex(registry());
    const plan = index!.entries.find((entry) => entry.repository === "agents/plan")!;
    const forged = index!.entries.map((entry) => entry === plan ? { ...entry, card: { ...entry.card, urls: [EVIL] } } : entry);
    await rebuildIndex(registry(), forged, new Map(), DiscoveryCache.open("off"));
    assert.deepEqual((await readIndex(registry()))!.entries.find((entry) => entry.repository === "agents/plan")!.card.urls, [EVIL], "the index was forged");

    for (const args of [[], ["--index-only"]]) {
      const { cards } = await discover(args);
      assert.ok(!urlsOf(cards).includes(EVIL), `discover ${args.join(" ")} showed the forged URL: ${JSON.stringify(cards)}`);
      assert.equal(card(cards, "plan")!.url, "http://localhost:8001");
    }
    assert.equal(card((await discover()).cards, "plan")!.verified, true, "the real card, with its signed record");
    const { cards, page } = await served();
    assert.ok(!urlsOf(cards).includes(EVIL), `GET /agents showed the forged URL: ${JSON.stringify(cards)}`);
    assert.ok(!page.includes(EVIL), "the page showed the forged URL");
    assert.equal(card(cards, "plan")!.url, "http://localhost:8001");
  });

  it("attack 2: a hand-written verification record on a replaced card is not counted", async () => {
    const replaced = JSON.parse(fixtureCard("plan").toString());
    const dir = cardsDir(bench.work, { "plan_agent_card.json": JSON.stringify({ ...replaced, description: "Replaced by someone with push rights." }, null, 2) });
    await step("push", ["--agents", "plan"], { CARDS_DIR: dir });
    const repository = registry().repository("agents/plan");
    const { digest } = await repository.resolve("v1");
    const attach = (record: object) =>
      attachArtifact(repository, "v1", [{ title: "verification.json", mediaType: "application/json", bytes: new TextEncoder().encode(JSON.stringify(record)) }], {
        artifactType: VERIFICATION_TYPE,
      });
    await attach({ subject: { reference: "x", digest }, result: "passed", checks: [] });
    // Signed by the trusted key itself, but listing no checks: it says nothing was checked.
    const signer = await readSigningKey((await trustedKey(bench.work, bench.registry.address)).key);
    await attach(await signDocument({ subject: { reference: "x", digest }, result: "passed", checks: [] }, signer));

    const shown = card((await discover()).cards, "plan")!;
    assert.equal(shown.digest, digest);
    assert.equal(shown.verified, false, `discover: ${JSON.stringify(shown)}`);
    assert.equal(card(await versions("plan"), "plan")!.verified, false, "versions");
    assert.equal(card((await served()).cards, "plan")!.verified, false, "GET /agents");
  });

  it("attack 4: a hostile entry in the local cache is neither shown nor written into the index", async () => {
    const cache = path.join(bench.work, "hostile-cache");
    await discover(["--crawl"], { DISCOVERY_CACHE: cache });
    // Whatever the cache keeps of the test card, its URL is made the forged one.
    let edited = 0;
    for (const file of readdirSync(path.join(cache, "cards"))) {
      const text = readFileSync(path.join(cache, "cards", file), "utf8");
      if (!text.includes("http://localhost:8003")) continue;
      writeFileSync(path.join(cache, "cards", file), text.replaceAll("http://localhost:8003", EVIL));
      edited++;
    }
    assert.ok(edited > 0, "the cache keeps the test card somewhere");

    const crawled = (await discover(["--crawl"], { DISCOVERY_CACHE: cache })).cards;
    assert.ok(!urlsOf(crawled).includes(EVIL), `discover showed the cache's claim: ${JSON.stringify(crawled)}`);
    assert.equal(card(crawled, "test")!.url, "http://localhost:8003");
    await discover(["--refresh"], { DISCOVERY_CACHE: cache });
    const listed = (await readIndex(registry()))!.entries.find((entry) => entry.repository === "agents/test")!;
    assert.deepEqual(listed.card.urls, ["http://localhost:8003"], "REFRESH=1 wrote the cache's claim into the shared index");
    const elsewhere = (await discover([], { DISCOVERY_CACHE: "off" })).cards;
    assert.ok(!urlsOf(elsewhere).includes(EVIL), "another machine showed it");
  });

  it("attack 3: a card blob edited in the registry's storage is no longer shown as verified", async () => {
    await discover(); // the cache now keeps the good card
    const file = blobDataPath(bench.registry.storageDir, sha256Digest(fixtureCard("build")));
    writeFileSync(file, Buffer.from(readFileSync(file).toString().replace("build", "b0ild")));

    const shown = card((await discover()).cards, "build");
    assert.notEqual(shown?.verified, true, `discover: ${JSON.stringify(shown)}`);
    assert.notEqual(card(await versions("build"), "build")?.verified, true, "versions");
  });
});
