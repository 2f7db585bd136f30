// Discovery shows only what it can prove (issue 19, item 3). Each test is an attack by someone with
// push rights, or with write access to the local cache, against a real registry: a forged index
// shard, a hand-written verification record, a card blob edited in the registry's storage, a
// hostile entry in the discovery cache. None of them may make discover, versions or the service
// show a URL the card does not hold, or call a card verified. Then VERIFY (item 2): a signed card
// pushed again changed, its signature kept, is refused by discover, versions and the service, and
// an unsigned one under require; refused cards are problems, never cards.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { DiscoveryCache } from "../../lib/discovery/cache.ts";
import { readIndex, rebuildIndex } from "../../lib/discovery/catalog-index.ts";
import { discover as discoverAll, recheck } from "../../lib/discovery/discover.ts";
import { cardPolicy } from "../../lib/step/trust.ts";
import { readTrustStore } from "../../lib/trust/store.ts";
import { sha256Digest } from "../../lib/oci/digest.ts";
import { attachArtifact } from "../../lib/oci/referrers.ts";
import { Registry } from "../../lib/oci/registry.ts";
import { readSigningKey } from "../../lib/trust/keys.ts";
import { signDocument } from "../../lib/trust/signatures.ts";
import { VERIFICATION_TYPE } from "../../lib/verification.ts";
import { type Bench, blobDataPath, cardsDir, FIXTURE_CARDS, fixtureCard, runScript, startService, trustedKey, withRegistry } from "../helpers.ts";

const EVIL = "https://evil.example/steal";

interface Shown {
  agent: string;
  tag: string;
  url: string;
  urls: string[];
  digest: string;
  verified: boolean | null;
  signature: { status: string; detail: string } | null;
}

/** The steps run against `bench`'s registry, with its own cache and trust store; `extra` settings on top. */
function steps(bench: Bench) {
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
    JSON.parse((await step("discover", ["--json", ...args], extra)).stdout) as { cards: Shown[]; problems: string[]; index: { trusted: boolean } | null };
  const versions = async (agent: string, extra: Record<string, string> = {}) =>
    JSON.parse((await step("versions", ["--json", "--agents", agent], extra)).stdout) as { versions: Shown[]; problems: string[] };

  /** The service's JSON and page once it has checked the registry (it answers from the index alone first), and the status it answers plan:v1's card with. */
  async function served(extra: Record<string, string> = {}) {
    const service = startService(env(extra));
    try {
      const url = await service.url;
      let answer = await (await fetch(`${url}/agents`)).json();
      for (let tries = 0; answer.source === "index-only" && tries < 100; tries++) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        answer = await (await fetch(`${url}/agents`)).json();
      }
      assert.notEqual(answer.source, "index-only", "the service never checked the registry");
      const planCard = (await fetch(`${url}/agents/plan/v1/.well-known/agent-card.json`)).status;
      return { cards: answer.cards as Shown[], problems: answer.problems as string[], page: await (await fetch(`${url}/`)).text(), planCard };
    } finally {
      service.child.kill("SIGKILL");
      await service.done;
    }
  }
  return { env, step, discover, versions, served };
}

const card = (cards: Shown[], agent: string, tag = "v1") => cards.find((shown) => shown.agent === agent && shown.tag === tag);
/** Every URL shown, in the cards' url and urls. */
const urlsOf = (cards: Shown[]) => cards.flatMap((shown) => [shown.url, ...shown.urls]);

describe("discovery shows only what it can prove", () => {
  const bench = withRegistry();
  const registry = () => new Registry(bench.registry.address);
  const { step, discover, versions, served } = steps(bench);

  it("before: records verify left unsigned do not count, and discover and versions say how to sign them", async () => {
    await step("push");
    await step("verify");
    assert.deepEqual((await discover()).cards.map((shown) => shown.verified), [false, false, false]);
    const hint = /3 cards have verification records that do not count: a record counts only when a key of the trust store signed it\. Sign them with `make verify REGISTRY=\S+ KEY=keys\/publisher\.key\.pem` \(`make keygen REGISTRY=\S+` makes that key/;
    const shown = await step("discover");
    assert.match(shown.stdout + shown.stderr, hint);
    const listed = await step("versions", ["--agents", "plan,build,test"]);
    assert.match(listed.stdout + listed.stderr, hint);
  });

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
    assert.equal(card((await versions("plan")).versions, "plan")!.verified, false, "versions");
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
    assert.notEqual(card((await versions("build")).versions, "build")?.verified, true, "versions");
  });
});

describe("VERIFY in discovery: a card the policy refuses is a problem, not a card", () => {
  const bench = withRegistry();
  const { env, step, discover, versions, served } = steps(bench);
  /** What discover, versions and the service say of the tampered plan:v1, as pull says it. */
  const TAMPERED = (policy: string) =>
    new RegExp(`/agents/plan:v1: its signature does not count: does not match the card: it was changed after key \\S+ signed it, or the signature is forged; refused \\(VERIFY=${policy}\\)\nIts signature proves it was changed [^\n]*\nIts publisher signs and publishes it again: make publish CARD=… KEY=…`);
  const UNSIGNED = /\/agents\/test:unsigned: not signed; refused \(VERIFY=require\)\nVERIFY=require takes signed cards only: its publisher signs it \(make sign CARD=… KEY=…\),\nor VERIFY=if-present accepts unsigned cards\./;
  const refusedIn = (problems: string[], pattern: RegExp) => problems.some((problem) => pattern.test(problem));

  it("setup: three cards pushed signed; plan:v1 pushed again changed, its signature kept; test:unsigned pushed unsigned", async () => {
    const { key } = await trustedKey(bench.work, bench.registry.address);
    const cards = cardsDir(bench.work);
    await step("push", ["--key", key], { CARDS_DIR: cards });
    const signed = JSON.parse(readFileSync(path.join(cards, "plan_agent_card.json"), "utf8"));
    const tampered = JSON.stringify({ ...signed, url: EVIL }, null, 2);
    await step("push", ["--agents", "plan"], { CARDS_DIR: cardsDir(bench.work, { "plan_agent_card.json": tampered }) });
    await step("push", ["--agents", "test", "--tag", "unsigned"], { CARDS_DIR: FIXTURE_CARDS });

    const { cards: shown } = await discover([], { VERIFY: "off" });
    assert.deepEqual(shown.map((entry) => [entry.agent, entry.tag]), [["build", "v1"], ["plan", "v1"], ["test", "v1"], ["test", "unsigned"]]);
    assert.equal(card(shown, "plan")!.url, EVIL, "the tampered card is in the registry");
  });

  it("discover refuses the tampered card under VERIFY=require and under the default, whichever way it reads the cards", async () => {
    for (const policy of ["require", undefined]) {
      for (const args of [[], ["--crawl"], ["--index-only"]]) {
        const { cards, problems } = await discover(args, policy ? { VERIFY: policy } : {});
        const said = `VERIFY=${policy} discover ${args.join(" ")}: ${JSON.stringify({ cards, problems })}`;
        assert.equal(card(cards, "plan"), undefined, said);
        assert.ok(!urlsOf(cards).includes(EVIL), said);
        assert.ok(refusedIn(problems, TAMPERED(policy ?? "if-present")), said);
        assert.equal(card(cards, "build")?.signature?.status, "verified", said);
      }
    }
  });

  it("an unsigned card is shown under the default (if-present) and refused under VERIFY=require", async () => {
    const shown = await discover();
    assert.equal(card(shown.cards, "test", "unsigned")?.signature?.status, "unsigned");
    assert.ok(!refusedIn(shown.problems, /test:unsigned/), JSON.stringify(shown.problems));
    const required = await discover([], { VERIFY: "require" });
    assert.equal(card(required.cards, "test", "unsigned"), undefined);
    assert.ok(refusedIn(required.problems, UNSIGNED), JSON.stringify(required.problems));
    assert.deepEqual(required.cards.map((entry) => [entry.agent, entry.tag, entry.signature?.status]), [["build", "v1", "verified"], ["test", "v1", "verified"]]);
  });

  it("VERIFY=off shows every card, its signatures unchecked", async () => {
    const { cards, problems } = await discover([], { VERIFY: "off" });
    assert.deepEqual(cards.map((entry) => [entry.agent, entry.tag, entry.signature]), [["build", "v1", null], ["plan", "v1", null], ["test", "v1", null], ["test", "unsigned", null]]);
    assert.deepEqual(problems, []);
  });

  it("versions refuses the tampered card, and the unsigned one under VERIFY=require", async () => {
    const plan = await versions("plan");
    assert.deepEqual(plan.versions, []);
    assert.ok(refusedIn(plan.problems, TAMPERED("if-present")), JSON.stringify(plan.problems));
    const test = await versions("test", { VERIFY: "require" });
    assert.deepEqual(test.versions.map((entry) => entry.tag), ["v1"]);
    assert.ok(refusedIn(test.problems, UNSIGNED), JSON.stringify(test.problems));
    assert.deepEqual((await versions("plan", { VERIFY: "off" })).versions.map((entry) => entry.url), [EVIL]);
  });

  it("the service refuses the tampered card under VERIFY=require and the default: not in GET /agents, not on the page, no card served", async () => {
    for (const policy of ["require", undefined]) {
      const { cards, problems, page, planCard } = await served(policy ? { VERIFY: policy } : {});
      const said = `VERIFY=${policy}: ${JSON.stringify({ cards, problems })}`;
      assert.equal(card(cards, "plan"), undefined, said);
      assert.ok(refusedIn(problems, TAMPERED(policy ?? "if-present")), said);
      assert.equal(card(cards, "test", "unsigned") === undefined, policy === "require", said);
      assert.equal(planCard, 404);
      assert.ok(!page.includes(EVIL), "the page showed the tampered card's URL");
      const notShown = page.slice(page.indexOf('<section class="problems">'));
      assert.match(notShown, /<h2>Not shown \(\d+\)<\/h2>/);
      assert.match(notShown, new RegExp(`<li>\\S+/agents/plan:v1: its signature does not count: [^<]*; refused \\(VERIFY=${policy ?? "if-present"}\\)<br>Its signature proves`));
      assert.equal(/<h2>plan-agent /.test(page), false, "plan is on the page as an agent");
    }
  });

  it("a recheck after another agent's publish (the service's update) still names the refused card", async () => {
    const trustStore = env().TRUST_STORE;
    const reading = { cache: DiscoveryCache.open("off"), trust: await readTrustStore(trustStore), policy: cardPolicy({ verify: "if-present", trustStore }) };
    const registry = new Registry(bench.registry.address);
    const previous = await discoverAll(registry, { filter: {}, ...reading });
    assert.equal(previous.source, "index");
    assert.ok(refusedIn(previous.problems, TAMPERED("if-present")), JSON.stringify(previous.problems));
    await step("push", ["--agents", "build", "--tag", "v2"], { CARDS_DIR: FIXTURE_CARDS, SOURCE_DATE_EPOCH: "1700000000" });
    const updated = await recheck(registry, previous, reading);
    assert.deepEqual(updated.entries.filter((entry) => entry.repository === "agents/build").map((entry) => entry.tag), ["v1", "v2"], "the recheck saw the publish");
    assert.ok(refusedIn(updated.problems, TAMPERED("if-present")), JSON.stringify(updated.problems));
    assert.equal(new Set(updated.problems).size, updated.problems.length, "no problem said twice");
    await step("untag", ["--agents", "build", "--tag", "v2"], { YES: "1" });
  });

  it("a trusted index stands for its cards under the default; under VERIFY=require each card's bytes are read", async () => {
    const { key } = await trustedKey(bench.work, bench.registry.address);
    const refused = await runScript("discover", ["--refresh"], env({ KEY: key, VERIFY: "off" }));
    assert.equal(refused.code, 2, refused.stderr);
    assert.match(refused.stderr, /KEY vouches for the cards of the index it signs, and VERIFY=off checks none of their signatures/);

    const rebuilt = await discover(["--refresh", "--key", key]);
    assert.ok(refusedIn(rebuilt.problems, TAMPERED("if-present")), JSON.stringify(rebuilt.problems));
    const fromIndex = await discover();
    assert.equal(fromIndex.index?.trusted, true);
    assert.deepEqual(fromIndex.cards.map((entry) => [entry.agent, entry.tag, entry.signature]), [["build", "v1", null], ["test", "v1", null], ["test", "unsigned", null]]);
    const required = await discover([], { VERIFY: "require" });
    assert.equal(required.index?.trusted, true);
    assert.deepEqual(required.cards.map((entry) => [entry.agent, entry.tag, entry.signature?.status]), [["build", "v1", "verified"], ["test", "v1", "verified"]]);
    assert.ok(refusedIn(required.problems, UNSIGNED), JSON.stringify(required.problems));
  });
});
