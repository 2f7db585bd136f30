// Discovery against a real registry: the index push writes (read back with skopeo, which shares
// no code with ours), filters, a stale index, the crawl and its cache, artifacts that are not
// cards, and publishers racing each other on the index.
import { before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { ANNOTATION, addToIndex, INDEX_ARTIFACT_TYPE, readIndex, shardOf } from "../../lib/discovery/catalog-index.ts";
import type { CardEntry } from "../../lib/discovery/card-entry.ts";
import { pushArtifact } from "../../lib/oci/artifacts.ts";
import { sha256Digest } from "../../lib/oci/digest.ts";
import { CREATED_ANNOTATION, createdTimestamp, type Descriptor, encodeIndex, MEDIA_TYPE } from "../../lib/oci/manifest.ts";
import { Registry } from "../../lib/oci/registry.ts";
import { CARD_TYPE } from "../../lib/cards.ts";
import { AGENTS, cardsDir, fixtureCard, runScript, skopeo, startFaultProxy, trustedKey, withRegistry } from "../helpers.ts";

interface Listed {
  agent: string;
  tag: string;
  version: string;
  a2aVersion: string;
  url: string;
  skills: string[];
  digest: string;
  verified: boolean | null;
}

const SKILLS: Record<string, string> = { plan: "create_plan", build: "generate_code", test: "run_tests" };

describe("make discover", () => {
  const bench = withRegistry();
  let env: Record<string, string>;
  const docker = (reference: string) => `docker://${bench.registry.address}/${reference}`;
  const discover = async (args: string[] = [], extra: Record<string, string> = {}) => {
    const result = await runScript("discover", ["--json", ...args], { ...env, ...extra });
    assert.equal(result.code, 0, `discover ${args.join(" ")} failed:\n${result.stdout}\n${result.stderr}`);
    return { ...JSON.parse(result.stdout), stderr: result.stderr } as { source: string; crawled?: string; stale: string[]; cardsFetched: number; cards: Listed[]; problems: string[]; stderr: string };
  };
  const digestOf = async (reference: string) => sha256Digest(await skopeo(["inspect", "--raw", "--tls-verify=false", docker(reference)]));

  before(async () => {
    env = { ...bench.env, DISCOVERY_CACHE: path.join(bench.work, "cache"), TRUST_STORE: (await trustedKey(bench.work, bench.registry.address)).trust };
    for (const step of ["push", "copy"]) {
      const result = await runScript(step, [], env);
      assert.equal(result.code, 0, `${step} failed:\n${result.stdout}\n${result.stderr}`);
    }
  });

  it("push and copy keep an OCI index at agents:index that skopeo reads: one descriptor per card, annotated", async () => {
    const top = JSON.parse(await skopeo(["inspect", "--raw", "--tls-verify=false", docker("agents:index")]));
    assert.equal(top.mediaType, MEDIA_TYPE.ociIndex);
    assert.equal(top.artifactType, INDEX_ARTIFACT_TYPE);
    assert.equal(top.annotations[ANNOTATION.cards], "6");
    const cards = [];
    for (const shard of top.manifests) {
      const listed = JSON.parse(await skopeo(["inspect", "--raw", "--tls-verify=false", docker(`agents@${shard.digest}`)]));
      assert.equal(listed.annotations[ANNOTATION.shard], shard.annotations[ANNOTATION.shard]);
      for (const card of listed.manifests) assert.equal(shardOf(card.annotations[ANNOTATION.repository]), listed.annotations[ANNOTATION.shard]);
      cards.push(...listed.manifests);
    }
    assert.deepEqual(
      cards.map((card) => `${card.annotations[ANNOTATION.repository]}:${card.annotations[ANNOTATION.tag]}`).sort(),
      AGENTS.flatMap((agent) => [`agents/${agent}:v1`, `agents/${agent}:v2`]).sort(),
    );
    for (const card of cards) {
      const agent = card.annotations[ANNOTATION.repository].slice("agents/".length);
      assert.equal(card.artifactType, CARD_TYPE);
      assert.equal(card.annotations[ANNOTATION.name], `${agent}-agent`);
      assert.equal(card.annotations[ANNOTATION.version], "1.0.0");
      assert.equal(card.annotations[ANNOTATION.a2aVersion], "0.3");
      assert.deepEqual(JSON.parse(card.annotations[ANNOTATION.skills]), [SKILLS[agent]]);
      assert.equal(card.digest, await digestOf(`agents/${agent}:${card.annotations[ANNOTATION.tag]}`));
      // The index lists only what its own repository holds: each card manifest was copied there.
      assert.equal(await digestOf(`agents@${card.digest}`), card.digest);
    }
  });

  it("lists every card with version, A2A version, URL, skills and digest, reading the index and checking it", async () => {
    const found = await discover();
    assert.equal(found.source, "index");
    assert.deepEqual(found.cards.map((card) => `${card.agent}:${card.tag}`), ["build:v1", "build:v2", "plan:v1", "plan:v2", "test:v1", "test:v2"]);
    for (const card of found.cards) {
      assert.equal(card.digest, await digestOf(`agents/${card.agent}:${card.tag}`));
      assert.equal(card.version, "1.0.0");
      assert.equal(card.a2aVersion, "0.3");
      assert.match(card.url, /^http:\/\/localhost:800[123]$/);
      assert.deepEqual(card.skills, [SKILLS[card.agent]]);
      assert.equal(card.verified, false);
    }
    assert.deepEqual(found.stale, []);
    assert.doesNotMatch(found.stderr, /out of date/);
  });

  it("shows a card as verified only where a signed verification record names its exact digest", async () => {
    const verified = await runScript("verify", ["--agents", "plan", "--key", (await trustedKey(bench.work, bench.registry.address)).key], env);
    assert.equal(verified.code, 0, `verify failed:\n${verified.stdout}\n${verified.stderr}`);
    const found = await discover();
    // plan:v2 is the same manifest as plan:v1, so the one record covers both.
    assert.deepEqual(Object.fromEntries(found.cards.map((card) => [`${card.agent}:${card.tag}`, card.verified])), {
      "build:v1": false, "build:v2": false, "plan:v1": true, "plan:v2": true, "test:v1": false, "test:v2": false,
    });
  });

  it("prints the same cards as a table", async () => {
    const result = await runScript("discover", [], env);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /\| Agent +\| Tag +\| Card version +\| A2A +\| URL +\| Skills +\| Digest +\| Verified +\| Signed by +\|/);
    const plan = await digestOf("agents/plan:v1");
    assert.match(result.stdout, new RegExp(`\\| plan +\\| v2 +\\| 1\\.0\\.0 +\\| 0\\.3 +\\| http://localhost:8001 +\\| create_plan +\\| ${plan} +\\| yes +\\|`));
  });

  it("filters by skill, tag and name", async () => {
    const pick = async (args: string[]) => (await discover(args)).cards.map((card) => `${card.agent}:${card.tag}`);
    assert.deepEqual(await pick(["--skill", "create_plan"]), ["plan:v1", "plan:v2"]);
    assert.deepEqual(await pick(["--tag", "v2"]), ["build:v2", "plan:v2", "test:v2"]);
    assert.deepEqual(await pick(["--name", "BUILD"]), ["build:v1", "build:v2"]);
    assert.deepEqual(await pick(["--skill", "run_tests", "--tag", "v1"]), ["test:v1"]);
    assert.deepEqual(await pick(["--skill", "no_such_skill"]), []);
    // The same through the environment twins make passes.
    assert.deepEqual((await discover([], { SKILL: "generate_code", DISCOVER_TAG: "v1" })).cards.map((card) => card.agent), ["build"]);
  });

  it("--refresh rebuilds the index from a crawl, after which it is current", async () => {
    const cache = { DISCOVERY_CACHE: path.join(bench.work, "refreshed") };
    const refreshed = await discover(["--refresh"], cache);
    assert.equal(refreshed.source, "crawl");
    assert.equal(refreshed.cards.length, 6);
    const index = await readIndex(new Registry(bench.registry.address));
    assert.deepEqual(index?.entries.map((entry) => `${entry.repository}:${entry.tag}`), [
      "agents/build:v1", "agents/build:v2", "agents/plan:v1", "agents/plan:v2", "agents/test:v1", "agents/test:v2",
    ]);
    // It kept the shards it wrote: the next search fetches none of them.
    const proxy = await startFaultProxy(bench.registry.address);
    try {
      assert.equal((await discover(["--index-only"], { ...cache, REGISTRY: proxy.address })).cards.length, 6);
      assert.equal(proxy.count("GET", /^\/v2\/agents\/manifests\/sha256:/), 0);
    } finally {
      await proxy.stop();
    }
    const again = await discover();
    assert.equal(again.source, "index");
    assert.deepEqual(again.stale, []);
  });

  it("passes over artifacts that are not agent cards without a word, and names a broken card", async () => {
    const registry = new Registry(bench.registry.address);
    await pushArtifact(registry.repository("agents/plan"), "sbom", [{ title: "sbom.json", mediaType: "application/json", bytes: new TextEncoder().encode("{}") }], {
      artifactType: "application/spdx+json",
    });
    const image = path.join(bench.work, "image");
    writeImageLayout(image);
    await skopeo(["copy", "--dest-tls-verify=false", `dir:${image}`, docker("library/busybox:1")]);
    const plan = await registry.repository("agents/plan").fetchManifest("v1");
    const index = encodeIndex({ schemaVersion: 2, mediaType: MEDIA_TYPE.ociIndex, manifests: [plan.descriptor] });
    await registry.repository("agents/plan").pushManifest("multi", index, MEDIA_TYPE.ociIndex);
    await pushArtifact(registry.repository("agents/broken"), "v1", [{ title: "broken_agent_card.json", mediaType: "application/json", bytes: new TextEncoder().encode('{"name": "broken"}') }], {
      artifactType: CARD_TYPE,
    });

    const found = await discover(["--crawl"]);
    assert.equal(found.source, "crawl");
    assert.deepEqual(found.cards.map((card) => `${card.agent}:${card.tag}`), ["build:v1", "build:v2", "plan:v1", "plan:v2", "test:v1", "test:v2"]);
    assert.equal(found.problems.length, 1);
    assert.match(found.problems[0], /agents\/broken:v1 has neither "protocolVersion" nor "supportedInterfaces"/);
    assert.match(found.stderr, /passed over: .*agents\/broken:v1/);
    assert.doesNotMatch(found.stderr, /sbom|busybox|multi/);
  });

  it("shows tags pushed behind the index's back as the registry has them, and --index-only as the index says", async () => {
    const registry = new Registry(bench.registry.address);
    const before = await digestOf("agents/test:v2");
    const changed = JSON.parse(fixtureCard("test").toString());
    changed.version = "2.0.0";
    // One created time for both tags: two pushes straddling a second would otherwise make two digests.
    const annotations = { [CREATED_ANNOTATION]: createdTimestamp() };
    for (const tag of ["v2", "v3"]) {
      await pushArtifact(registry.repository("agents/test"), tag, [{ title: "test_agent_card.json", mediaType: "application/json", bytes: new TextEncoder().encode(JSON.stringify(changed)) }], {
        artifactType: CARD_TYPE,
        annotations,
      });
    }
    const after = await digestOf("agents/test:v2");

    const checked = await discover(["--name", "test"]);
    assert.deepEqual(checked.cards.map((card) => [card.tag, card.digest, card.version]), [["v1", await digestOf("agents/test:v1"), "1.0.0"], ["v2", after, "2.0.0"], ["v3", after, "2.0.0"]]);
    assert.deepEqual(checked.stale, ["agents/test"]);
    // A tag the index has never heard of is found by a search for it too.
    assert.deepEqual((await discover(["--tag", "v3"])).cards.map((card) => `${card.agent}:${card.tag}`), ["test:v3"]);

    const trusted = await discover(["--tag", "v2", "--name", "test", "--index-only"]);
    assert.equal(trusted.source, "index-only");
    assert.deepEqual(trusted.cards.map((card) => [card.digest, card.version, card.verified]), [[before, "1.0.0", null]]);
  });

  it("keeps a cache by manifest digest: a second crawl fetches only the card that changed", async () => {
    const cache = { DISCOVERY_CACHE: path.join(bench.work, "second-crawl") };
    assert.equal((await discover(["--crawl"], cache)).cardsFetched, 4); // build, plan and test v1, and test's new v2 and v3
    assert.equal((await discover(["--crawl"], cache)).cardsFetched, 0);
    const changed = JSON.parse(fixtureCard("build").toString());
    changed.version = "1.0.1";
    await pushArtifact(new Registry(bench.registry.address).repository("agents/build"), "v3", [
      { title: "build_agent_card.json", mediaType: "application/json", bytes: new TextEncoder().encode(JSON.stringify(changed)) },
    ], { artifactType: CARD_TYPE });
    assert.equal((await discover(["--crawl"], cache)).cardsFetched, 1);
    assert.equal((await discover(["--crawl"], { DISCOVERY_CACHE: "off" })).cardsFetched, 5);
  });

  it("reads only the tagged index the second time: its shards come from the cache", async () => {
    const proxy = await startFaultProxy(bench.registry.address);
    try {
      const through = { REGISTRY: proxy.address, DISCOVERY_CACHE: path.join(bench.work, "shards") };
      const first = await discover(["--index-only"], through);
      const shards = proxy.count("GET", /^\/v2\/agents\/manifests\/sha256:/);
      assert.ok(shards > 0, "the first search fetched no shard");
      const second = await discover(["--index-only"], through);
      assert.deepEqual(second.cards, first.cards);
      assert.equal(proxy.count("GET", /^\/v2\/agents\/manifests\/sha256:/), shards, "the second search fetched shards again");
      assert.equal(proxy.count("GET", /^\/v2\/agents\/manifests\/index$/), 2);
    } finally {
      await proxy.stop();
    }
  });

  it("says what is wrong with its options, and that there is no registry, with exit 2", async () => {
    const cases: [string[], Record<string, string>, RegExp][] = [
      [["--tag", "v1/x"], {}, /invalid tag "v1\/x"/],
      [["--refresh", "--crawl"], {}, /--refresh and --crawl exclude each other/],
      [["--colour"], {}, /unknown option --colour/],
      [[], { REGISTRY: "127.0.0.1:1" }, /cannot reach the registry at http:\/\/127\.0\.0\.1:1/],
    ];
    for (const [args, extra, message] of cases) {
      const result = await runScript("discover", args, { ...env, ...extra });
      assert.equal(result.code, 2, `${args.join(" ")}: ${result.stderr}`);
      assert.match(result.stderr, message);
    }
  });

  it("--help says what it does, its options and an example", async () => {
    const result = await runScript("discover", ["--help"], env);
    assert.equal(result.code, 0);
    for (const text of ["Discover Agent Cards", "--skill VALUE", "--tag VALUE", "--name VALUE", "--refresh", "--index-only", "Example: make discover"]) {
      assert.ok(result.stdout.includes(text), `help lacks ${text}:\n${result.stdout}`);
    }
  });
});

describe("what discovery keeps does not grow with history", () => {
  const bench = withRegistry();
  const sizes = (dir: string) => Object.fromEntries(readdirSync(dir).map((file) => [file, statSync(path.join(dir, file))]));

  it("keeps a few KB per card in the file of its digest, a large card not at all, and writes only the files a step touches", async () => {
    const cache = path.join(bench.work, "cache");
    const large = JSON.parse(fixtureCard("plan").toString());
    large.description = "A plan agent. ".repeat(64 * 1024); // 900 KB of card
    const env = { ...bench.env, DISCOVERY_CACHE: cache, CARDS_DIR: cardsDir(bench.work, { "plan_agent_card.json": JSON.stringify(large) }) };
    const pushed = await runScript("push", [], env);
    assert.equal(pushed.code, 0, pushed.stderr);
    const crawled = await runScript("discover", ["--crawl", "--json"], env);
    assert.equal(crawled.code, 0, crawled.stderr);
    assert.equal(JSON.parse(crawled.stdout).cards.find((card: Listed) => card.agent === "plan").description.length, 300);

    const files = path.join(cache, "cards");
    const before = sizes(files);
    assert.equal(existsSync(path.join(cache, "cards.json")), false);
    assert.ok(Object.keys(before).every((file) => /^[0-9a-f]{2}\.json$/.test(file)), Object.keys(before).join(" "));
    // The bytes of three manifests and of the two small cards (3 KB each); the 900 KB card is not kept.
    const total = Object.values(before).reduce((sum, stat) => sum + stat.size, 0);
    assert.ok(total < 12 * 1024, `the cache holds ${total} bytes for three cards`);

    // A step that publishes one card writes the file of that card's digest alone.
    // Created at another time than v1 (push pins the workshop's time by default), so its manifest is new.
    const again = await runScript("push", ["--agents", "build", "--tag", "v2", "--json"], { ...env, SOURCE_DATE_EPOCH: "1700000000" });
    assert.equal(again.code, 0, again.stderr);
    const digest: string = JSON.parse(again.stdout).pushed[0].digest;
    const after = sizes(files);
    const touched = Object.keys(after).filter((file) => before[file]?.mtimeMs !== after[file].mtimeMs);
    assert.deepEqual(touched, [`${digest.slice(7, 9)}.json`]);
  });

  it("forgets, at a crawl of the whole registry, the cards the registry no longer has", async () => {
    const cache = path.join(bench.work, "cache");
    const env = { ...bench.env, DISCOVERY_CACHE: cache };
    const { digest } = await new Registry(bench.registry.address).repository("agents/build").resolve("v2");
    const kept = () => readFileSync(path.join(cache, "cards", `${digest.slice(7, 9)}.json`), "utf8").includes(digest);
    assert.ok(kept());
    const removed = await fetch(`http://${bench.registry.address}/v2/agents/build/manifests/${digest}`, { method: "DELETE" });
    assert.equal(removed.status, 202);
    const crawled = await runScript("discover", ["--crawl"], env);
    assert.equal(crawled.code, 0, crawled.stderr);
    assert.equal(kept(), false);
  });
});

describe("an index that would hide the registry", () => {
  const bench = withRegistry();
  const registry = () => new Registry(bench.registry.address);
  /** Replaces agents:index with these shards, each a list of descriptors. */
  const pushIndex = async (shards: Map<string, Descriptor[]>) => {
    const agents = registry().repository("agents");
    const listed = [];
    for (const [id, manifests] of shards) {
      const bytes = encodeIndex({ schemaVersion: 2, mediaType: MEDIA_TYPE.ociIndex, artifactType: INDEX_ARTIFACT_TYPE, manifests, annotations: { [ANNOTATION.shard]: id } });
      listed.push({ ...await agents.pushManifest(sha256Digest(bytes), bytes, MEDIA_TYPE.ociIndex), annotations: { [ANNOTATION.shard]: id } });
    }
    await agents.pushManifest("index", encodeIndex({ schemaVersion: 2, mediaType: MEDIA_TYPE.ociIndex, artifactType: INDEX_ARTIFACT_TYPE, manifests: listed }), MEDIA_TYPE.ociIndex);
  };
  /** A card manifest in the index's repository alone, for an index to list under names that do not exist. */
  const ghostCard = async () =>
    (await pushArtifact(registry().repository("agents"), undefined, [{ title: "ghost_agent_card.json", mediaType: "application/json", bytes: fixtureCard("plan") }], {
      artifactType: CARD_TYPE,
    })).descriptor;
  const ghostEntry = (ghost: Descriptor, repository: string, description = "") => ({
    ...ghost,
    artifactType: CARD_TYPE,
    annotations: {
      [ANNOTATION.repository]: repository, [ANNOTATION.tag]: "v1", [ANNOTATION.name]: "ghost-agent", [ANNOTATION.version]: "6.6.6",
      [ANNOTATION.a2aVersion]: "0.3", [ANNOTATION.urls]: "[]", [ANNOTATION.skills]: '["create_plan"]', [ANNOTATION.description]: description,
    },
  });
  /** Puts these shards in the index, then runs `discover --skill create_plan` through a proxy that counts its requests. */
  const discoverWith = async (shards: Map<string, Descriptor[]>) => {
    await pushIndex(shards);
    const proxy = await startFaultProxy(bench.registry.address);
    try {
      const result = await runScript("discover", ["--skill", "create_plan", "--json"], { ...bench.env, REGISTRY: proxy.address, DISCOVERY_CACHE: "off" });
      assert.equal(result.code, 0, result.stderr);
      return { found: JSON.parse(result.stdout), stderr: result.stderr, proxy };
    } finally {
      await proxy.stop();
    }
  };

  before(async () => {
    const pushed = await runScript("push", [], { ...bench.env, DISCOVERY_CACHE: "off" });
    assert.equal(pushed.code, 0, pushed.stderr);
  });

  it("drops 32,000 entries for repositories the registry does not have with one catalog page, and finds the real cards", async () => {
    const ghost = await ghostCard();
    const shards = new Map<string, Descriptor[]>();
    for (let i = 0; i < 32_000; i++) {
      const repository = `ghost/g-${i}`;
      shards.set(shardOf(repository), [...shards.get(shardOf(repository)) ?? [], ghostEntry(ghost, repository)]);
    }
    const { found, stderr, proxy } = await discoverWith(shards);
    assert.deepEqual(found.cards.map((card: Listed) => `${card.agent}:${card.tag}:${card.version}`), ["plan:v1:1.0.0"]);
    assert.equal(found.stale.length, 32_003);
    assert.match(stderr, /the index is out of date for ghost\/g-0, .* and 31993 more repositories/);
    assert.equal(proxy.count("GET", /^\/v2\/_catalog/), 1);
    assert.equal(proxy.count("GET", /^\/v2\/ghost\//), 0);
    assert.deepEqual(proxy.requests.filter((line) => line.includes("/tags/list")).sort(), ["build", "plan", "test"].map((agent) => `GET /v2/agents/${agent}/tags/list`));
  });

  it("refuses an index larger than it reads, without fetching a shard of it, and crawls instead", async () => {
    // Five shards of 3.5 MB each: every one within a registry's 4 MiB, together more than 16 MiB.
    const description = "x".repeat(3_500_000);
    const ghost = await ghostCard();
    const shards = new Map(["00", "01", "02", "03", "04"].map((id) => [id, [ghostEntry(ghost, `ghost/g-${id}`, description)]]));
    const { found, stderr, proxy } = await discoverWith(shards);
    assert.equal(found.source, "crawl");
    assert.equal(found.crawled, "unreadable index");
    assert.deepEqual(found.cards.map((card: Listed) => `${card.agent}:${card.tag}`), ["plan:v1"]);
    assert.match(stderr, new RegExp(`${proxy.address}/agents:index is 16\\.7 MiB in 5 shards; discovery reads an index of at most 16 MiB in 64`));
    assert.equal(proxy.count("GET", /^\/v2\/agents\/manifests\/sha256:/), 0);
  });

  it("--refresh replaces it, reading each card manifest once: the crawl's bytes are what it copies into the index", async () => {
    const proxy = await startFaultProxy(bench.registry.address);
    try {
      const result = await runScript("discover", ["--refresh", "--json"], { ...bench.env, REGISTRY: proxy.address, DISCOVERY_CACHE: "off" });
      assert.equal(result.code, 0, result.stderr);
      assert.equal(JSON.parse(result.stdout).cards.length, 3);
      const reads = proxy.requests.filter((line) => /^GET \/v2\/agents\/(plan|build|test)\/manifests\//.test(line));
      assert.deepEqual(reads.sort(), ["build", "plan", "test"].map((agent) => `GET /v2/agents/${agent}/manifests/v1`));
      assert.equal((await readIndex(registry()))?.entries.length, 3);
    } finally {
      await proxy.stop();
    }
  });
});

describe("the discovery index under concurrent publishers", () => {
  const bench = withRegistry();

  /** Registries take If-Match and ignore it, so the index cannot be updated conditionally. */
  it("Distribution accepts a manifest PUT whose If-Match names another version", async () => {
    const registry = new Registry(bench.registry.address);
    const pushed = await pushArtifact(registry.repository("agents/probe"), "v1", [{ title: "a.json", mediaType: "application/json", bytes: new TextEncoder().encode("{}") }]);
    const response = await fetch(`http://${bench.registry.address}/v2/agents/probe/manifests/v1`, {
      method: "PUT",
      headers: { "Content-Type": MEDIA_TYPE.ociManifest, "If-Match": `"sha256:${"0".repeat(64)}"` },
      body: pushed.bytes as BodyInit,
    });
    await response.body?.cancel();
    assert.equal(response.status, 201);
  });

  it("keeps every entry when eight clients add cards at the same moment, each with its own connection", async () => {
    const agents = Array.from({ length: 8 }, (_, index) => `racer${index}`);
    const entries: CardEntry[] = [];
    for (const agent of agents) {
      const card = JSON.parse(fixtureCard("plan").toString());
      card.name = `${agent}-agent`;
      const pushed = await pushArtifact(new Registry(bench.registry.address).repository(`agents/${agent}`), "v1", [
        { title: `${agent}_agent_card.json`, mediaType: "application/json", bytes: new TextEncoder().encode(JSON.stringify(card)) },
      ], { artifactType: CARD_TYPE });
      entries.push({
        repository: `agents/${agent}`,
        tag: "v1",
        manifest: { mediaType: MEDIA_TYPE.ociManifest, digest: pushed.descriptor.digest, size: pushed.descriptor.size },
        card: { name: card.name, version: card.version, description: card.description, a2aVersion: "0.3", urls: [card.url], skills: ["create_plan"] },
      });
    }
    await Promise.all(entries.map((entry) => addToIndex(new Registry(bench.registry.address), [entry])));
    const index = await readIndex(new Registry(bench.registry.address));
    assert.deepEqual(index?.entries.map((entry) => entry.repository), agents.map((agent) => `agents/${agent}`));
  });

  it("keeps every card when four publish commands run at once", async () => {
    const dir = path.join(bench.work, "cards");
    const agents = ["alpha", "bravo", "charlie", "delta"];
    for (const agent of agents) {
      mkdirSync(path.join(dir, agent), { recursive: true });
      const card = JSON.parse(fixtureCard("test").toString());
      card.name = `${agent}-agent`;
      writeFileSync(path.join(dir, agent, `${agent}_agent_card.json`), JSON.stringify(card, null, 2));
    }
    const env = { ...bench.env, DISCOVERY_CACHE: "off" };
    const results = await Promise.all(agents.map((agent) => runScript("publish", ["--card", path.join(dir, agent, `${agent}_agent_card.json`)], env)));
    for (const result of results) assert.equal(result.code, 0, `${result.stdout}\n${result.stderr}`);
    const index = await readIndex(new Registry(bench.registry.address));
    for (const agent of agents) assert.ok(index?.entries.some((entry) => entry.repository === `agents/${agent}`), `agents/${agent} is missing from the index`);
  });
});

/** skopeo's `dir:` transport holding a one-layer image: a config, a gzipped tar layer, the manifest. */
function writeImageLayout(dir: string) {
  mkdirSync(dir, { recursive: true });
  const config = JSON.stringify({ architecture: "amd64", os: "linux", rootfs: { type: "layers", diff_ids: [] } });
  const layer = new Uint8Array([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0]); // an empty gzip stream
  const manifest = {
    schemaVersion: 2,
    mediaType: MEDIA_TYPE.ociManifest,
    config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: sha256Digest(config), size: config.length },
    layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest: sha256Digest(layer), size: layer.byteLength }],
  };
  writeFileSync(path.join(dir, "version"), "Directory Transport Version: 1.1\n");
  writeFileSync(path.join(dir, "manifest.json"), JSON.stringify(manifest));
  writeFileSync(path.join(dir, sha256Digest(config).slice(7)), config);
  writeFileSync(path.join(dir, sha256Digest(layer).slice(7)), layer);
}
