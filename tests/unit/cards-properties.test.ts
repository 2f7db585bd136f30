// Generated hostile input for card loading and comparison: whatever the bytes, validation
// answers with problems (never a stack trace), and canonical JSON neither throws nor depends
// on key order or formatting.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import fc from "fast-check";
import { cardFileName, validateCardBytes } from "../../lib/cards.ts";
import { canonicalJson, compareCard } from "../../lib/compare.ts";
import { MAX_JSON_DEPTH } from "../../lib/oci/json.ts";
import { FIXTURE_CARDS, PROJECT_ROOT } from "../helpers.ts";

const encode = (text: string) => new TextEncoder().encode(text);
const LABEL = "c.json";

const FIXTURES = [FIXTURE_CARDS, path.join(PROJECT_ROOT, "fixtures/agent_cards_a2a_1.0")].flatMap((dir) =>
  ["plan", "build", "test"].map((agent) => JSON.parse(fs.readFileSync(path.join(dir, cardFileName(agent)), "utf8")))
);

/** Validates, failing the property on any exception, and checks the answer's shape. */
function validate(bytes: Uint8Array): { card?: Record<string, unknown>; problems: string[] } {
  const result = validateCardBytes(bytes, LABEL);
  assert.ok(Array.isArray(result.problems));
  for (const problem of result.problems) {
    assert.equal(typeof problem, "string");
    assert.ok(problem.startsWith(`${LABEL} `), problem);
  }
  if (result.problems.length === 0) assert.ok(result.card, "no problems, so there is a card");
  return result;
}

/** `depth` levels of arrays and objects, the kinds chosen by `seed`'s bits. */
function nestedText(depth: number, seed: number): string {
  let open = "";
  let close = "";
  for (let level = 0; level < depth; level++) {
    const isArray = ((seed >>> (level % 31)) & 1) === 1;
    open += isArray ? "[" : '{"k":';
    close = (isArray ? "]" : "}") + close;
  }
  return open + "null" + close;
}

/** The same value, with every object's keys in an order chosen by `shuffle`. */
function reorder(value: unknown, shuffle: (keys: string[]) => string[]): unknown {
  if (Array.isArray(value)) return value.map((item) => reorder(item, shuffle));
  if (typeof value !== "object" || value === null) return value;
  // Object.fromEntries defines keys as own properties, so a generated "__proto__" survives.
  return Object.fromEntries(shuffle(Object.keys(value)).map((key) => [key, reorder((value as Record<string, unknown>)[key], shuffle)]));
}

describe("validateCardBytes on generated input", () => {
  it("answers any bytes with problems, never an exception", () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 4096 }), (bytes) => {
      validate(bytes);
    }), { numRuns: 300 });
  });

  it("answers any JSON value; only an object can be a card", () => {
    fc.assert(fc.property(fc.jsonValue(), (value) => {
      const { problems } = validate(encode(JSON.stringify(value)));
      if (typeof value !== "object" || value === null || Array.isArray(value)) {
        assert.match(problems[0], /must hold a JSON object/);
      } else {
        assert.ok(problems.length > 0, "a random object is not a card");
      }
    }), { numRuns: 200 });
  });

  it("answers JSON text with one character inserted, removed or replaced", () => {
    const edit = fc.record({ at: fc.nat(), char: fc.string({ unit: "binary", minLength: 0, maxLength: 1 }), cut: fc.boolean() });
    fc.assert(fc.property(fc.constantFrom(...FIXTURES), edit, (card, { at, char, cut }) => {
      const text = JSON.stringify(card, null, 2);
      const i = at % text.length;
      const edited = text.slice(0, i) + char + text.slice(i + (cut ? 1 : 0));
      const { problems } = validate(encode(edited));
      let parses = true;
      try {
        JSON.parse(edited);
      } catch {
        parses = false;
      }
      if (!parses) assert.match(problems[0], /^c\.json (is not valid JSON: .+ at line \d+, column \d+|is empty|starts with a UTF-8 byte-order mark.*)$/);
    }), { numRuns: 300 });
  });

  it("answers a fixture card with any field, of the card, a skill or a skill schema, set to any JSON value", () => {
    const places = fc.constantFrom("card", "skill", "input_schema");
    const key = fc.oneof(
      fc.constantFrom("name", "url", "protocolVersion", "supportedInterfaces", "capabilities", "skills", "$schema", "type", "items", "properties", "required", "pattern", "__proto__"),
      fc.string(),
    );
    fc.assert(fc.property(fc.constantFrom(...FIXTURES), places, key, fc.jsonValue({ maxDepth: 4 }), (fixture, place, field, value) => {
      const card = structuredClone(fixture);
      const target = place === "card" ? card : place === "skill" ? card.skills[0] : card.skills[0].input_schema;
      Object.defineProperty(target, field, { value, enumerable: true, configurable: true, writable: true });
      validate(encode(JSON.stringify(card)));
    }), { numRuns: 300 });
  });

  it(`refuses nesting deeper than ${MAX_JSON_DEPTH} levels with a message, and accepts anything shallower`, () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 20_000 }), fc.integer(), fc.constantFrom(...FIXTURES), (depth, seed, fixture) => {
      const text = JSON.stringify({ ...fixture, "x-nested": "PLACE" }).replace('"PLACE"', nestedText(depth, seed));
      const { problems } = validate(encode(text));
      // The card object itself is the first level.
      if (depth + 1 > MAX_JSON_DEPTH) assert.match(problems[0], /nests arrays and objects more than 100 levels deep/);
      else assert.deepEqual(problems, []);
    }), { numRuns: 60 });
  });
});

describe("canonicalJson on generated values", () => {
  it("is the same for any key order and formatting, and parses back to the value", () => {
    const order = fc.constantFrom<(keys: string[]) => string[]>(
      (keys) => keys,
      (keys) => [...keys].reverse(),
      (keys) => [...keys].sort(),
      (keys) => [...keys.filter((_, i) => i % 2 === 1), ...keys.filter((_, i) => i % 2 === 0)],
    );
    fc.assert(fc.property(fc.jsonValue(), order, fc.constantFrom(0, 1, 2, "\t", " \n "), (value, shuffle, indent) => {
      const reformatted = JSON.parse(JSON.stringify(reorder(value, shuffle), null, indent as string | number));
      assert.equal(canonicalJson(reformatted), canonicalJson(value));
      assert.deepEqual(JSON.parse(canonicalJson(value)), JSON.parse(JSON.stringify(value)));
    }), { numRuns: 200 });
  });

  it("never throws, however deep the value", () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 100_000 }), fc.integer(), (depth, seed) => {
      const text = nestedText(depth, seed);
      assert.equal(canonicalJson(JSON.parse(text)), text);
    }), { numRuns: 20 });
  });
});

describe("compareCard on generated pulled bytes", () => {
  it("fails anything that is not the original, with every check still reported", async () => {
    const original = encode(JSON.stringify(FIXTURES[0], null, 2) + "\n");
    const pulled = fc.oneof(
      fc.uint8Array({ maxLength: 2048 }),
      fc.jsonValue().map((value) => encode(JSON.stringify(value))),
      fc.integer({ min: 90, max: 20_000 }).map((depth) => encode(nestedText(depth, depth))),
    );
    await fc.assert(fc.asyncProperty(pulled, async (bytes) => {
      const result = await compareCard(original, bytes);
      assert.deepEqual(result.checks.map((check) => check.name), ["byte-identical", "same size", "valid JSON", "canonical JSON equal", "schema-valid"]);
      assert.equal(result.ok, false);
    }), { numRuns: 100 });
  });
});
