// How many requests each walkthrough step sends, counted at a proxy in front of a real registry:
// a step that starts asking again for what it has just read or written shows here.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { runScript, startFaultProxy, withRegistry } from "../helpers.ts";

/**
 * The six steps on an empty registry, three agents. push: per card the oras push sequence (6, or
 * 8 for the first, which uploads the empty config), then the index: GET index, GET of each tag,
 * the card manifests copied into `agents` (mounts and PUTs), three shards PUT, HEAD of the tag
 * (404, and GET /v2/ to tell a registry's 404 from another server's), PUT, and one GET of the index
 * after the settle. copy: per agent cp (GET, PUT) and resolve of both tags (HEAD, HEAD), then the
 * index: GET, three shards, HEAD, PUT, GET. verify reads each card's referrers tag once before it
 * attaches, for a record of the same checks to reuse: three more requests the first time, and a
 * verify after it attaches nothing (16 requests in all).
 */
const EXPECTED = { push: 38, list: 4, manifest: 6, pull: 6, verify: 40, copy: 19 };

describe("requests per walkthrough step", () => {
  const bench = withRegistry();

  it("sends no more requests than the checks need", async () => {
    const proxy = await startFaultProxy(bench.registry.address);
    try {
      const env = { ...bench.env, REGISTRY: proxy.address, DISCOVERY_CACHE: path.join(bench.work, "discovery") };
      const sent: Record<string, string[]> = {};
      for (const step of Object.keys(EXPECTED)) {
        const before = proxy.requests.length;
        const result = await runScript(step, [], env);
        assert.equal(result.code, 0, `${step} failed:\n${result.stdout}\n${result.stderr}`);
        sent[step] = proxy.requests.slice(before);
      }
      const counts = Object.fromEntries(Object.entries(sent).map(([step, lines]) => [step, lines.length]));
      assert.deepEqual(counts, EXPECTED, `requests per step:\n${JSON.stringify(sent, null, 2)}`);
      // What the index update already holds is not asked for again.
      const push = sent.push.join("\n");
      assert.doesNotMatch(push, /^GET \/v2\/agents\/\w+\/blobs\//m, "push fetched back a card it had just pushed");
      assert.doesNotMatch(push, /^GET \/v2\/agents\/\w+\/manifests\/sha256:/m, "push fetched a card manifest again to copy it");
      for (const step of ["push", "copy"]) {
        assert.doesNotMatch(sent[step].join("\n"), /^HEAD \/v2\/agents\/manifests\/sha256:/m, `${step} asked whether the index's repository holds a card`);
        assert.doesNotMatch(sent[step].join("\n"), /^GET \/v2\/agents\/manifests\/sha256:/m, `${step} fetched an index shard it had written`);
      }
    } finally {
      await proxy.stop();
    }
  });
});
