// Versions of a card against a real registry: publish (refusing to replace a different card),
// diff, versions, all checked with skopeo; and the reproducible digests the README prints.
import { before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { readIndex } from "../../lib/discovery/catalog-index.ts";
import { WORKSHOP_EPOCH } from "../../lib/step/options.ts";
import { sha256Digest } from "../../lib/oci/digest.ts";
import { CREATED_ANNOTATION, createdTimestamp, EMPTY_CONFIG } from "../../lib/oci/manifest.ts";
import { Registry } from "../../lib/oci/registry.ts";
import { AGENTS, fixtureCard, PROJECT_ROOT, runScript, skopeo, trustedKey, withRegistry } from "../helpers.ts";

describe("make publish, make diff and make versions", () => {
  const bench = withRegistry();
  let env: Record<string, string>;
  let changedCard: string;
  const manifestOf = async (reference: string) => {
    const raw = await skopeo(["inspect", "--raw", "--tls-verify=false", `docker://${bench.registry.address}/${reference}`]);
    return { digest: sha256Digest(raw), manifest: JSON.parse(raw) };
  };

  before(async () => {
    env = { ...bench.env, DISCOVERY_CACHE: "off" };
    for (const step of ["push", "copy"]) {
      const result = await runScript(step, [], env);
      assert.equal(result.code, 0, `${step} failed:\n${result.stdout}\n${result.stderr}`);
    }
    const card = JSON.parse(fixtureCard("plan").toString());
    card.version = "1.1.0";
    card.skills[0].description = "Creates structured, reviewed implementation plans";
    mkdirSync(path.join(bench.work, "changed"));
    changedCard = path.join(bench.work, "changed", "plan_agent_card.json");
    writeFileSync(changedCard, JSON.stringify(card, null, 2) + "\n");
  });

  it("refuses to replace a tag that holds a different card, and changes nothing", async () => {
    const before = await manifestOf("agents/plan:v2");
    const result = await runScript("publish", [], { ...env, CARD: changedCard, TAG: "v2" });
    assert.equal(result.code, 1, result.stdout);
    assert.match(result.stderr, /agents\/plan:v2 already holds a different card \(sha256:[a-f0-9]{64}\); refusing to replace it/);
    assert.match(result.stderr, /FORCE=1/);
    assert.doesNotMatch(result.stdout, /oras push/);
    assert.equal((await manifestOf("agents/plan:v2")).digest, before.digest);
  });

  it("replaces it with FORCE=1, and then puts it in the index", async () => {
    const result = await runScript("publish", ["--json"], { ...env, CARD: changedCard, TAG: "v2", FORCE: "1" });
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stderr, /replacing .*agents\/plan:v2/);
    const { published } = JSON.parse(result.stdout);
    const stored = await manifestOf("agents/plan:v2");
    assert.equal(published.digest, stored.digest);
    assert.equal(stored.manifest.layers[0].digest, sha256Digest(readFileSync(changedCard)));
    const index = await readIndex(new Registry(bench.registry.address));
    const listed = index?.entries.find((entry) => entry.repository === "agents/plan" && entry.tag === "v2");
    assert.equal(listed?.manifest.digest, stored.digest);
    assert.equal(listed?.card.version, "1.1.0");
  });

  it("publishes nothing when the tag holds this very card already", async () => {
    const before = await manifestOf("agents/plan:v2");
    const result = await runScript("publish", ["--card", changedCard, "--tag", "v2"], env);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /agents\/plan:v2 already holds this card \(sha256:[a-f0-9]{64}\); nothing to publish/);
    assert.doesNotMatch(result.stdout, /oras push/);
    assert.equal((await manifestOf("agents/plan:v2")).digest, before.digest);
  });

  it("says what is wrong with the card it is given, with exit 2", async () => {
    const misnamed = path.join(bench.work, "changed", "plan.json");
    writeFileSync(misnamed, readFileSync(changedCard));
    const invalid = path.join(bench.work, "changed", "build_agent_card.json");
    writeFileSync(invalid, '{"name": "build-agent"}');
    const cases: [Record<string, string>, RegExp][] = [
      [{}, /no card to publish/],
      [{ CARD: misnamed }, /plan\.json: a card file is named <agent>_agent_card\.json/],
      [{ CARD: path.join(bench.work, "nowhere", "plan_agent_card.json") }, /plan_agent_card\.json not found in \S+nowhere \(the card is set by CARD or --card\)/],
      [{ CARD: invalid }, /build_agent_card\.json has neither "protocolVersion" nor "supportedInterfaces"/],
    ];
    for (const [extra, message] of cases) {
      const result = await runScript("publish", [], { ...env, ...extra });
      assert.equal(result.code, 2, JSON.stringify(extra));
      assert.match(result.stderr, message);
    }
  });

  it("diff says v1 and v2 are identical after the walkthrough's copy, with both digests", async () => {
    const result = await runScript("diff", [], { ...env, AGENTS: "build", TAG: "v1", TO_TAG: "v2" });
    assert.equal(result.code, 0, result.stderr);
    const { digest } = await manifestOf("agents/build:v1");
    assert.match(result.stdout, new RegExp(`agents/build:v1  manifest ${digest}  card ${sha256Digest(fixtureCard("build"))}  version 1\\.0\\.0`));
    assert.match(result.stdout, new RegExp(`agents/build:v2  manifest ${digest}`));
    assert.match(result.stdout, new RegExp(`✓ v1 and v2 are identical: the same manifest, ${digest}`));
  });

  it("diff shows what changed between two cards, and exits 1 as diff does", async () => {
    const result = await runScript("diff", ["--agents", "plan", "--json"], env);
    assert.equal(result.code, 1, result.stderr);
    const [report] = JSON.parse(result.stdout).diffs;
    assert.equal(report.agent, "plan");
    assert.equal(report.from.digest, (await manifestOf("agents/plan:v1")).digest);
    assert.equal(report.to.digest, (await manifestOf("agents/plan:v2")).digest);
    assert.equal(report.from.card, sha256Digest(fixtureCard("plan")));
    assert.equal(report.to.card, sha256Digest(readFileSync(changedCard)));
    assert.equal(report.identical, false);
    assert.ok(report.diff.includes('-  version: "1.0.0"\n+  version: "1.1.0"'), report.diff);
    assert.match(report.diff, /\+ +description: "Creates structured, reviewed implementation plans"/);
    assert.match(result.stderr, /✗ v1 and v2 differ \(version 1\.0\.0 -> 1\.1\.0\)/);
  });

  it("diff names a missing tag with the tags there are, and compares every agent of AGENTS", async () => {
    const missing = await runScript("diff", ["--agents", "plan", "--to-tag", "v9"], env);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /agents\/plan:v9: not found/);
    assert.match(missing.stderr, /Tags in .*agents\/plan: .*v1/);
    const all = await runScript("diff", ["--json"], env);
    assert.equal(all.code, 1, all.stderr);
    assert.deepEqual(JSON.parse(all.stdout).diffs.map((diff: { agent: string; identical: boolean }) => [diff.agent, diff.identical]), [
      ["plan", false],
      ["build", true],
      ["test", true],
    ]);
  });

  it("versions lists an agent's tags with card versions and digests", async () => {
    const result = await runScript("versions", ["--json"], { ...env, AGENTS: "plan" });
    assert.equal(result.code, 0, result.stderr);
    const { versions } = JSON.parse(result.stdout);
    const expected = [];
    for (const [tag, version] of [["v1", "1.0.0"], ["v2", "1.1.0"]]) {
      expected.push({ tag, version, digest: (await manifestOf(`agents/plan:${tag}`)).digest });
    }
    assert.deepEqual(versions.map(({ tag, version, digest }: { tag: string; version: string; digest: string }) => ({ tag, version, digest })), expected);
    assert.match(result.stderr, /\$ oras repo tags --plain-http .*\/agents\/plan/);
    assert.match(result.stderr, /\| plan {2}\| v2 {2}\| 1\.1\.0 +\| 0\.3 \| sha256:[a-f0-9]{64} \| no +\|/);

    const unknown = await runScript("versions", [], { ...env, AGENTS: "ghost" });
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /agents\/ghost does not exist/);
  });

  it("each command's --help says what it does, its options and an example", async () => {
    const expected: Record<string, string[]> = {
      publish: ["Publish a Card Version", "--card VALUE", "--force", "FORCE=1", "Example: make publish CARD="],
      diff: ["Compare Two Versions", "--agents VALUE", "--tag VALUE", "--to-tag VALUE", "Example: make diff AGENTS=plan TAG=v1 TO_TAG=v3"],
      versions: ["Versions of an Agent", "--agents VALUE", "Example: make versions AGENTS=plan"],
    };
    for (const [name, texts] of Object.entries(expected)) {
      const result = await runScript(name, ["--help"], env);
      assert.equal(result.code, 0);
      for (const text of texts) assert.ok(result.stdout.includes(text), `${name} --help lacks ${text}:\n${result.stdout}`);
    }
  });
});

describe("reproducible digests, step by step as in the walkthrough", () => {
  const bench = withRegistry();
  const pinned = createdTimestamp(new Date(WORKSHOP_EPOCH * 1000));

  /** The README's walkthrough section, from its heading to the next one. */
  function readmeWalkthrough(): string {
    const readme = readFileSync(path.join(PROJECT_ROOT, "README.md"), "utf8");
    const start = readme.indexOf("## The walkthrough, step by step");
    assert.ok(start >= 0, "README.md has no walkthrough section");
    return readme.slice(start, readme.indexOf("\n## ", start + 1));
  }

  it("make push, list, …, summary run one at a time give the README's digests, and pushing again changes nothing", async () => {
    assert.equal(pinned, "2026-01-01T00:00:00Z");
    const { key, trust } = await trustedKey(bench.work, bench.registry.address);
    const env = { ...bench.env, DISCOVERY_CACHE: "off", TRUST_STORE: trust };
    const step = async (name: string, args: string[] = []) => {
      const result = await runScript(name, args, env);
      assert.equal(result.code, 0, `${name} failed:\n${result.stdout}\n${result.stderr}`);
      return result;
    };
    const pushed = await step("push", ["--json"]);
    assert.match(pushed.stderr, new RegExp(`--annotation ${CREATED_ANNOTATION}=${pinned}`));
    const manifests: string[] = JSON.parse(pushed.stdout).pushed.map((entry: { digest: string }) => entry.digest);
    for (const name of ["list", "manifest", "pull", "verify", "copy"]) await step(name, name === "verify" ? ["--key", key] : []);
    const again: string[] = JSON.parse((await step("push", ["--json"])).stdout).pushed.map((entry: { digest: string }) => entry.digest);
    assert.deepEqual(again, manifests);

    const { summary } = JSON.parse((await step("summary", ["--json"])).stdout);
    assert.deepEqual(summary.map((row: { digest: string; status: string }) => [row.digest, row.status]), manifests.flatMap((digest) => [[digest, "Published"], [digest, "Copied from v1"]]));
    const { cards } = JSON.parse((await step("discover", ["--json"])).stdout);
    assert.deepEqual(cards.map((card: { verified: boolean }) => card.verified), AGENTS.flatMap(() => [true, true]), "v1 and v2 keep their verified status");

    const fresh = new Set([...manifests, ...AGENTS.map((agent) => sha256Digest(fixtureCard(agent))), EMPTY_CONFIG.digest]);
    const section = readmeWalkthrough();
    const printed = [...new Set(section.match(/sha256:[a-f0-9]{64}/g))];
    for (const digest of printed) assert.ok(fresh.has(digest), `README.md prints ${digest}, which a fresh pinned push does not give`);
    for (const digest of manifests) assert.ok(printed.includes(digest), `README.md does not print the manifest digest ${digest}`);
    assert.ok(section.includes(`"${CREATED_ANNOTATION}": "${pinned}"`), `README.md's manifest does not carry created ${pinned}`);
  });

  it("SOURCE_DATE_EPOCH=now keeps oras's own behaviour: the time of the push", async () => {
    const before = Date.now();
    const result = await runScript("push", ["--json", "--agents", "plan", "--tag", "now"], { ...bench.env, DISCOVERY_CACHE: "off", SOURCE_DATE_EPOCH: "now" });
    assert.equal(result.code, 0, result.stderr);
    assert.doesNotMatch(result.stderr, /--annotation/);
    const raw = await skopeo(["inspect", "--raw", "--tls-verify=false", `docker://${bench.registry.address}/agents/plan:now`]);
    const created = Date.parse(JSON.parse(raw).annotations[CREATED_ANNOTATION]);
    assert.ok(created >= Math.floor(before / 1000) * 1000 && created <= Date.now(), `created ${created} is not the time of the push`);
  });
});
