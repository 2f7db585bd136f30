// A small fleet through a real registry: pushed, found again through the catalog, pulled and
// verified, and checked with skopeo, which shares no code with ours.
import { before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import path from "node:path";
import { fleetCard, fleetOriginal, listRepositories, pullAndVerify, pushFleet } from "../../lib/fleet.ts";
import { pushArtifact } from "../../lib/oci/artifacts.ts";
import { Registry } from "../../lib/oci/registry.ts";
import { skopeo, withRegistry } from "../helpers.ts";

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
