import { describe, it } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import fc from "fast-check";
import { canonicalJson, compareCard } from "../../lib/compare.ts";
import { sha256Digest } from "../../lib/oci/digest.ts";

const ORIGINAL = new Uint8Array(
  fs.readFileSync(new URL("../../fixtures/agent_cards/plan_agent_card.json", import.meta.url)),
);
const CARD = JSON.parse(new TextDecoder().decode(ORIGINAL));

function encode(text: string): Uint8Array {
  return new TextEncoder().encode(text);
}

function check(comparison: Awaited<ReturnType<typeof compareCard>>, name: string) {
  const found = comparison.checks.find((c) => c.name === name);
  assert.ok(found, `no check named ${name}`);
  return found;
}

describe("canonicalJson", () => {
  it("sorts keys at every level and drops whitespace, like jq -S -c", () => {
    const value = { b: 1, a: { d: [3, { z: true, y: null }], c: "x" } };
    assert.equal(canonicalJson(value), '{"a":{"c":"x","d":[3,{"y":null,"z":true}]},"b":1}');
  });

  it("keeps array order and a __proto__ key", () => {
    assert.equal(canonicalJson([2, 1]), "[2,1]");
    assert.equal(canonicalJson(JSON.parse('{"__proto__": 1, "a": 2}')), '{"__proto__":1,"a":2}');
  });

  it("is the same for any re-serialisation of a JSON value, and parses back to it", () => {
    // Object.fromEntries defines keys as own properties, so a generated "__proto__" survives.
    const reverseKeys = (value: unknown): unknown =>
      Array.isArray(value)
        ? value.map(reverseKeys)
        : typeof value === "object" && value !== null
        ? Object.fromEntries(Object.entries(value).reverse().map(([k, v]) => [k, reverseKeys(v)]))
        : value;
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const reserialised = JSON.parse(JSON.stringify(reverseKeys(value), null, 3));
        assert.equal(canonicalJson(reserialised), canonicalJson(value));
        assert.deepEqual(JSON.parse(canonicalJson(value)), JSON.parse(JSON.stringify(value)));
      }),
    );
  });
});

describe("compareCard", () => {
  it("passes identical bytes, with the checks in order and no layer digest check", async () => {
    const result = await compareCard(ORIGINAL, ORIGINAL.slice());
    assert.deepEqual(
      result.checks.map((c) => c.name),
      ["byte-identical", "same size", "valid JSON", "canonical JSON equal", "schema-valid"],
    );
    assert.ok(result.checks.every((c) => c.ok), JSON.stringify(result.checks));
    assert.equal(result.ok, true);
    assert.equal(result.formattingOnly, false);
    assert.equal(result.diff, undefined);
    assert.equal(check(result, "byte-identical").detail, sha256Digest(ORIGINAL));
    assert.equal(check(result, "same size").detail, `${ORIGINAL.length.toLocaleString("en-US")} B`);
    assert.match(check(result, "same size").detail, /^\d,\d{3} B$/);
  });

  it("passes the layer digest when the manifest's digest is the pulled bytes' digest", async () => {
    const result = await compareCard(ORIGINAL, ORIGINAL, sha256Digest(ORIGINAL));
    assert.equal(result.ok, true);
    assert.deepEqual(check(result, "layer digest"), {
      name: "layer digest",
      ok: true,
      detail: sha256Digest(ORIGINAL),
    });
  });

  it("fails a reformatted card but says only the formatting changed", async () => {
    const compact = encode(JSON.stringify(CARD));
    const result = await compareCard(ORIGINAL, compact);
    assert.equal(result.ok, false);
    assert.equal(result.formattingOnly, true);
    assert.equal(result.diff, undefined);

    const bytes = check(result, "byte-identical");
    assert.equal(bytes.ok, false);
    assert.ok(bytes.detail.includes(sha256Digest(ORIGINAL)));
    assert.ok(bytes.detail.includes(sha256Digest(compact)));
    const size = check(result, "same size");
    assert.equal(size.ok, false);
    assert.match(size.detail, /^[\d,]+ B vs [\d,]+ B$/);
    assert.equal(check(result, "valid JSON").ok, true);
    assert.equal(check(result, "canonical JSON equal").ok, true);
    assert.equal(check(result, "schema-valid").ok, true);
  });

  it("treats reordered keys of the same size as formatting only", async () => {
    const { name, ...rest } = CARD;
    const reordered = encode(JSON.stringify({ ...rest, name }, null, 2) + "\n");
    assert.equal(reordered.length, ORIGINAL.length);
    const result = await compareCard(ORIGINAL, reordered);
    assert.equal(check(result, "same size").ok, true);
    assert.equal(result.formattingOnly, true);
    assert.equal(result.ok, false);
  });

  it("fails changed content and shows the change", async () => {
    const changed = structuredClone(CARD);
    changed.skills[0].description = "Writes poems";
    const result = await compareCard(ORIGINAL, encode(JSON.stringify(changed, null, 2) + "\n"));
    assert.equal(result.ok, false);
    assert.equal(result.formattingOnly, false);
    assert.equal(check(result, "canonical JSON equal").ok, false);
    assert.equal(check(result, "schema-valid").ok, true);
    assert.ok(result.diff);
    assert.match(result.diff, /^-\s+description: "Creates structured implementation plans from requirements"$/m);
    assert.match(result.diff, /^\+\s+description: "Writes poems"$/m);
    assert.doesNotMatch(result.diff, /\u001b\[/, "no colour codes");
  });

  it("fails a pulled card whose bytes do not match the manifest's layer digest", async () => {
    const wrong = "sha256:" + "0".repeat(64);
    const result = await compareCard(ORIGINAL, ORIGINAL, wrong);
    assert.equal(result.ok, false);
    const layer = check(result, "layer digest");
    assert.equal(layer.ok, false);
    assert.ok(layer.detail.includes(wrong));
    assert.ok(layer.detail.includes(sha256Digest(ORIGINAL)));
    assert.deepEqual(
      result.checks.filter((c) => !c.ok).map((c) => c.name),
      ["layer digest"],
    );
  });

  it("fails a pulled file that is not JSON, without a diff", async () => {
    const result = await compareCard(ORIGINAL, encode('{"name": "plan-agent",'));
    assert.deepEqual(
      result.checks.filter((c) => !c.ok).map((c) => c.name),
      ["byte-identical", "same size", "valid JSON", "canonical JSON equal", "schema-valid"],
    );
    assert.match(check(result, "canonical JSON equal").detail, /pulled card is not JSON/);
    assert.match(check(result, "schema-valid").detail, /^pulled card is not valid JSON/);
    assert.equal(result.formattingOnly, false);
    assert.equal(result.diff, undefined);
  });

  it("fails a pulled card that is JSON but breaks the schema", async () => {
    const withoutSkills = structuredClone(CARD);
    delete withoutSkills.skills;
    const result = await compareCard(ORIGINAL, encode(JSON.stringify(withoutSkills, null, 2) + "\n"));
    const schema = check(result, "schema-valid");
    assert.equal(schema.ok, false);
    assert.match(schema.detail, /must have required property 'skills'/);
    assert.match(result.diff ?? "", /skills/);
  });
});
