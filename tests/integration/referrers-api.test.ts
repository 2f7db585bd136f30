// The referrers code on both paths a registry offers: go-containerregistry's registry with the OCI
// 1.1 referrers API (tests/tools/referrers-registry), and Distribution 2.8, which has none, so
// clients keep the referrers tag schema's `sha256-<hex>` index. verify attaches, discover, versions
// and the discovery service read verified status, mirror copies it from one to the other; each
// registry's request log (its own, or a proxy's in front of Distribution) shows the path taken.
// The real oras, on the same registries, takes the same path and reads the same referrers.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { startTestRegistry } from "../../lib/registry-server.ts";
import { runBuiltin } from "../docs-commands.ts";
import { FIXTURE_CARDS, runScript, startFaultProxy, startService, trustedKey } from "../helpers.ts";
import { needsTools, realOras, startReferrersRegistry } from "../reference-tools.ts";

interface Side {
  address: string;
  /** Every request it answered, as "METHOD /path?query". */
  requests: string[];
  stop(): Promise<void>;
}

/** Distribution behind a proxy that logs each request. */
async function startDistributionSide(): Promise<Side> {
  const registry = await startTestRegistry();
  const proxy = await startFaultProxy(registry.address);
  return { address: proxy.address, requests: proxy.requests, stop: async () => void await Promise.all([proxy.stop(), registry.stop()]) };
}

/** The requests `during` sent to `side`. */
async function requestsOf(side: Side, during: () => Promise<unknown>): Promise<string> {
  const from = side.requests.length;
  await during();
  return side.requests.slice(from).join("\n");
}

const ZERO = `sha256:${"0".repeat(64)}`;
const KINDS = ["referrers API", "tag schema"] as const;

describe("referrers through the referrers API and through the tag schema", needsTools("referrers-registry", "oras"), () => {
  const sides = {} as Record<(typeof KINDS)[number], Side>;
  let work: string;
  const envOf = (side: Side, name: string) => ({
    REGISTRY: side.address,
    CARDS_DIR: FIXTURE_CARDS,
    OUT_DIR: path.join(work, name),
    ORAS_BACKEND: "builtin",
    DISCOVERY_CACHE: "off",
    TRUST_STORE: path.join(work, "keys", "trust.json"),
  });
  const ok = async (step: string, env: Record<string, string>, args: string[] = []) => {
    const result = await runScript(step, args, env);
    assert.equal(result.code, 0, `${step}:\n${result.stdout}\n${result.stderr}`);
    return result.stdout;
  };
  const digestOf = async (side: Side, reference: string) => (await runBuiltin(["resolve", "--plain-http", `${side.address}/${reference}`], { cwd: work })).stdout.trim();

  before(async () => {
    work = mkdtempSync(path.join(os.tmpdir(), "pallet-referrers-"));
    [sides["referrers API"], sides["tag schema"]] = await Promise.all([startReferrersRegistry(), startDistributionSide()]);
  });
  after(async () => {
    await Promise.all(Object.values(sides).map((side) => side?.stop()));
    rmSync(work, { recursive: true, force: true });
  });

  for (const kind of KINDS) {
    it(`${kind}: verify attaches, discover (ours and oras's), versions and the service read it, each by that path`, async () => {
      const side = sides[kind];
      const env = envOf(side, kind);
      await ok("push", env);
      const plan = await digestOf(side, "agents/plan:v1");
      const indexTag = `/v2/agents/plan/manifests/${plan.replace(":", "-")}`;

      const { key } = await trustedKey(work, side.address);
      const verifying = await requestsOf(side, () => ok("verify", env, ["--key", key]));
      assert.match(verifying, /^PUT \/v2\/agents\/plan\/manifests\/sha256:[a-f0-9]{64}$/m, "the record is pushed by digest");
      if (kind === "referrers API") assert.ok(!verifying.includes(indexTag), `the registry said OCI-Subject: no index is kept\n${verifying}`);
      else assert.match(verifying, new RegExp(`^PUT ${indexTag}$`, "m"), "no OCI-Subject: the index under the referrers tag is written");

      const args = ["discover", "--plain-http", "--format", "json", `${side.address}/agents/plan:v1`];
      let ours = "";
      const discovering = await requestsOf(side, async () => (ours = (await runBuiltin(args, { cwd: work })).stdout));
      const theirs = await requestsOf(side, async () => {
        const result = await realOras(args, { cwd: work, dockerConfig: work });
        assert.equal(result.code, 0, result.stderr);
        assert.equal(ours, result.stdout, "the real oras discovers the same referrers, printed the same way");
      });
      const records = JSON.parse(ours).referrers;
      assert.deepEqual(records.map((record: { artifactType: string }) => record.artifactType), ["application/vnd.pallet.verification.v1+json"]);
      for (const requests of [discovering, theirs]) {
        if (kind === "referrers API") {
          assert.match(requests, new RegExp(`^GET /v2/agents/plan/referrers/${plan}$`, "m"));
          assert.ok(!requests.includes(indexTag), requests);
        } else {
          assert.match(requests, new RegExp(`^GET /v2/agents/plan/referrers/(${ZERO}|${plan})$`, "m"), "asked, answered 404");
          assert.match(requests, new RegExp(`^GET ${indexTag}$`, "m"));
        }
      }

      assert.match(await ok("versions", { ...env, AGENTS: "plan" }), /^\| plan +\| v1 +\| 1\.0\.0 .*\| yes +\| unsigned +\|$/m);
      const service = startService(env);
      try {
        // The service answers from the index alone at first (verified not asked), then from the registry checked.
        const listed = async () => (await (await fetch(`${await service.url}/agents`)).json()) as { source: string; cards: { agent: string; verified: boolean }[] };
        let answer = await listed();
        for (let tries = 0; answer.source === "index-only" && tries < 100; tries++) answer = await new Promise((resolve) => setTimeout(resolve, 100)).then(listed);
        const { cards } = answer;
        assert.deepEqual(cards.map((card) => card.verified), [true, true, true], JSON.stringify(cards));
      } finally {
        service.child.kill("SIGKILL");
        await service.done;
      }
    });
  }

  for (const [from, to] of [KINDS, [...KINDS].reverse()]) {
    it(`mirror copies the records from the ${from} to a new registry with the ${to}, where versions and the real oras find them`, async () => {
      const source = sides[from];
      const target = await (to === "referrers API" ? startReferrersRegistry() : startDistributionSide());
      try {
        const plan = await digestOf(source, "agents/plan:v1");
        await trustedKey(work, target.address);
        const mirroring = await requestsOf(source, () => ok("mirror", { FROM: source.address, TO: target.address, AGENTS: "plan,build,test" }));
        // Through the API, the referrers are listed; through the tag schema, the index's tag is resolved like any tag.
        const path = from === "referrers API" ? `GET /v2/agents/plan/referrers/${plan}` : `HEAD /v2/agents/plan/manifests/${plan.replace(":", "-")}`;
        assert.match(mirroring, new RegExp(`^${path}$`, "m"), mirroring);
        assert.match(await ok("versions", { ...envOf(target, `${to}-mirrored`), AGENTS: "plan" }), /^\| plan +\| v1 +\| 1\.0\.0 .*\| yes +\| unsigned +\|$/m);
        const found = await realOras(["discover", "--plain-http", "--format", "json", `${target.address}/agents/plan:v1`], { cwd: work, dockerConfig: work });
        assert.equal(found.code, 0, found.stderr);
        assert.equal(JSON.parse(found.stdout).referrers.length, 1, found.stdout);
      } finally {
        await target.stop();
      }
    });
  }

  it("go-containerregistry as it is (its API answers, but it sends no OCI-Subject): oras and this client keep the index too", async () => {
    const registry = await startReferrersRegistry({ conformant: false });
    const dir = mkdtempSync(path.join(work, "as-is-"));
    writeFileSync(path.join(dir, "card.json"), "{}");
    try {
      const clients = { oras: (args: string[]) => realOras(args, { cwd: dir, dockerConfig: work }), ours: (args: string[]) => runBuiltin(args, { cwd: dir }) };
      for (const [who, client] of Object.entries(clients)) {
        const subject = `${registry.address}/${who}:v1`;
        const digest = (await runBuiltin(["push", "--plain-http", subject, "card.json"], { cwd: dir })).stdout.match(/^Digest: (\S+)$/m)![1];
        const from = registry.requests.length;
        const attached = await client(["attach", "--plain-http", "--artifact-type", "doc/example", "--annotation", "a=b", subject]);
        assert.equal(attached.code, 0, attached.stderr);
        assert.match(registry.requests.slice(from).join("\n"), new RegExp(`^PUT /v2/${who}/manifests/${digest.replace(":", "-")}$`, "m"), who);
      }
    } finally {
      await registry.stop();
    }
  });
});
