// The card validators are compiled ahead of time (make validators): the committed module must
// be what the schemas compile to now, and validating a card must load no schema compiler.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { validateCardBytes } from "../../lib/cards.ts";
import {
  CARD_SCHEMA_FILES,
  VALIDATOR_TYPES_FILE,
  VALIDATORS_FILE,
  validatorsSource,
  validatorTypesSource,
} from "../../scripts/build-validators.ts";
import { fixtureCard, PROJECT_ROOT, run } from "../helpers.ts";

const skillWith = (schema: Record<string, unknown>) => {
  const card = JSON.parse(fixtureCard("plan").toString());
  card.skills[0].input_schema = schema;
  return validateCardBytes(new TextEncoder().encode(JSON.stringify(card)), "p.json").problems;
};

describe("the generated card validators", () => {
  for (const [file, source] of [[VALIDATORS_FILE, validatorsSource], [VALIDATOR_TYPES_FILE, validatorTypesSource]] as const) {
    it(`${path.relative(PROJECT_ROOT, file)} is what the schemas compile to now`, () => {
      const committed = fs.readFileSync(file, "utf8");
      assert.ok(
        committed === source(),
        `${path.relative(PROJECT_ROOT, file)} is out of date with fixtures/schemas/: run \`make validators\` and commit it`,
      );
    });
  }

  it("come from one 2020-12 schema file per A2A version", () => {
    for (const file of Object.values(CARD_SCHEMA_FILES)) {
      const schema = JSON.parse(fs.readFileSync(file, "utf8"));
      assert.equal(schema.$schema, "https://json-schema.org/draft/2020-12/schema", file);
      assert.match(schema.$id, new RegExp(`/${path.basename(file)}$`));
    }
  });

  it("load nothing of Ajv, and json-diff only once two cards differ", async () => {
    // Node's module cache lists every CommonJS file loaded, from ESM imports too.
    const script = `
      import Module from "node:module";
      import { readFileSync } from "node:fs";
      const loaded = () => Object.keys(Module._cache).filter((file) => /node_modules\\/(ajv|json-diff)/.test(file))
        .map((file) => file.replace(/.*node_modules\\//, ""));
      const { validateCardBytes } = await import(${JSON.stringify(path.join(PROJECT_ROOT, "lib/cards.ts"))});
      const { compareCard } = await import(${JSON.stringify(path.join(PROJECT_ROOT, "lib/compare.ts"))});
      const card = readFileSync(${JSON.stringify(path.join(PROJECT_ROOT, "fixtures/agent_cards/plan_agent_card.json"))});
      const problems = validateCardBytes(card, "plan").problems;
      const same = await compareCard(card, card);
      const afterSame = loaded();
      await compareCard(card, new TextEncoder().encode('{"name": "plan-agent"}'));
      console.log(JSON.stringify({ problems, same: same.ok, afterSame, afterDifferent: loaded() }));
    `;
    const tsx = createRequire(import.meta.url).resolve("tsx");
    const result = await run("node", ["--import", tsx, "--input-type=module", "-e", script]);
    assert.equal(result.code, 0, result.stderr);
    const { problems, same, afterSame, afterDifferent } = JSON.parse(result.stdout);
    assert.deepEqual(problems, []);
    assert.equal(same, true);
    // Nothing of Ajv: the helpers the compiled code calls are bundled into it.
    assert.deepEqual(afterSame, []);
    // json-diff showing up once cards differ is also what proves the check sees what is loaded.
    assert.ok(afterDifferent.some((file: string) => file.startsWith("json-diff/")), afterDifferent.join(", "));
  });
});

describe("skill schemas against the meta-schema of their dialect", () => {
  it("catch a pattern that is not a regular expression, as compiling the schema did", () => {
    assert.deepEqual(skillWith({ type: "object", properties: { id: { type: "string", pattern: "([" } } }), [
      'p.json /skills/0/input_schema: not a valid JSON Schema: /properties/id/pattern: must match format "regex"',
    ]);
  });

  it("read draft-07 by its $schema, with or without the trailing #, and 2020-12 otherwise", () => {
    // Tuple "items" is draft-07; 2020-12 spells it prefixItems.
    const tuple = { type: "array", items: [{ type: "string" }, { type: "integer" }] };
    assert.deepEqual(skillWith({ $schema: "http://json-schema.org/draft-07/schema#", ...tuple }), []);
    assert.deepEqual(skillWith({ $schema: "http://json-schema.org/draft-07/schema", ...tuple }), []);
    assert.deepEqual(skillWith({ $schema: "https://json-schema.org/draft/2020-12/schema", prefixItems: tuple.items }), []);
    assert.deepEqual(skillWith(tuple), [
      'p.json /skills/0/input_schema: not a valid JSON Schema: /items: must be object,boolean',
    ]);
  });

  it("name the dialects checked when $schema names another", () => {
    assert.deepEqual(skillWith({ $schema: "http://json-schema.org/draft-04/schema#", type: "object" }), [
      'p.json /skills/0/input_schema: not a valid JSON Schema: "$schema" "http://json-schema.org/draft-04/schema#" is not supported: ' +
      'use "https://json-schema.org/draft/2020-12/schema" or "http://json-schema.org/draft-07/schema#"',
    ]);
    assert.match(skillWith({ $schema: "__proto__" })[0], /"\$schema" "__proto__" is not supported/);
  });

  it("report each place once, however many alternatives the meta-schema allows there", () => {
    assert.deepEqual(skillWith({ type: "objekt", minLength: -1 }), [
      "p.json /skills/0/input_schema: not a valid JSON Schema: " +
      '/type: must be equal to one of the allowed values: "array", "boolean", "integer", "null", "number", "object", "string"; ' +
      "/minLength: must be >= 0",
    ]);
  });
});
