import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { validateCardBytes } from "../../lib/cards.ts";
import { mapLimit } from "../../lib/concurrency.ts";
import { fleetCard, fleetIndex, fleetOriginal } from "../../lib/fleet.ts";
import { REPOSITORY_PATTERN } from "../../lib/oci/reference.ts";

const tick = () => new Promise((resolve) => setTimeout(resolve, 1));

describe("mapLimit", () => {
  it("returns results in item order, however the work finishes", async () => {
    const results = await mapLimit([30, 10, 20, 0], 2, async (ms, index) => {
      await new Promise((resolve) => setTimeout(resolve, ms));
      return `${index}:${ms}`;
    });
    assert.deepEqual(results, ["0:30", "1:10", "2:20", "3:0"]);
  });

  it("never has more than limit items in flight, and uses all of them", async () => {
    let running = 0;
    let most = 0;
    await mapLimit(Array.from({ length: 20 }, (_, i) => i), 3, async () => {
      most = Math.max(most, ++running);
      await tick();
      running--;
    });
    assert.equal(most, 3);
  });

  it("starts nothing after a failure and rejects with that failure", async () => {
    const started: number[] = [];
    await assert.rejects(
      mapLimit([0, 1, 2, 3, 4, 5], 2, async (item) => {
        started.push(item);
        await tick();
        if (item === 1) throw new Error("card 1 failed");
      }),
      /card 1 failed/,
    );
    await tick();
    assert.deepEqual(started.sort(), [0, 1, 2]);
  });

  it("takes no items and refuses a limit below 1", async () => {
    assert.deepEqual(await mapLimit([], 4, async () => 1), []);
    await assert.rejects(mapLimit([1], 0, async () => 1), RangeError);
  });
});

describe("fleetCard", () => {
  const sample = [0, 1, 2, 3, 42, 999, 9999, 12_345];

  it("makes cards that pass the agent card schema, each with its own name", () => {
    const names = new Set();
    for (const index of sample) {
      const card = fleetCard(index);
      const { card: parsed, problems } = validateCardBytes(card.bytes, card.fileName);
      assert.deepEqual(problems, [], `card ${index}`);
      names.add(parsed?.name);
    }
    assert.equal(names.size, sample.length);
    assert.equal(fleetCard(42).agent, "fleet-00042");
    assert.equal(fleetCard(42).fileName, "fleet-00042_agent_card.json");
    assert.equal(JSON.parse(new TextDecoder().decode(fleetCard(42).bytes)).name, "fleet-00042-agent");
  });

  it("makes the same bytes every time, so an original can be made again to verify against", () => {
    for (const index of sample) assert.deepEqual(fleetCard(index).bytes, fleetCard(index).bytes);
    assert.notDeepEqual(fleetCard(1).bytes, fleetCard(2).bytes);
  });

  it("names valid repositories and finds a card's index from its repository", () => {
    for (const index of sample) {
      const { repository } = fleetCard(index);
      assert.match(repository, REPOSITORY_PATTERN);
      assert.equal(fleetIndex(repository), index);
      assert.deepEqual(fleetOriginal(repository), fleetCard(index).bytes);
    }
    assert.equal(fleetIndex("agents/plan"), undefined);
    assert.equal(fleetIndex("fleet/fleet-00001/extra"), undefined);
    assert.equal(fleetOriginal("agents/plan"), undefined);
  });
});
