// A fixture agent's one skill and its schemas, compiled with Ajv as the project compiles schemas
// (JSON Schema 2020-12 with formats; draft-07 where a schema says so). The package build compiles
// them into the agent (lib/agents/bundle.ts); `make ask` and the tests check answers with them.
import { createRequire } from "node:module";
import { Ajv2020 } from "ajv/dist/2020.js";
// CommonJS: the default import is module.exports, whose typed callable is its `default` member.
import addFormats from "ajv-formats";

// Required, not imported: Node's bundles in dist/ keep the import but lose its `with { type: "json" }`.
const draft7MetaSchema = createRequire(import.meta.url)("ajv/dist/refs/json-schema-draft-07.json");

export interface Skill {
  id: string;
  input_schema: object;
  output_schema: object;
}

/** The one skill a fixture agent's card lists. */
export function skillOf(card: Record<string, unknown>): Skill {
  const skills = card.skills as Skill[] | undefined;
  if (skills?.length !== 1) throw new Error(`an agent package serves one skill; the card lists ${skills?.length ?? 0}`);
  return skills[0];
}

/** The skill's input and output validators; `source` keeps their code for standaloneCode. */
export function skillValidators(card: Record<string, unknown>, source = false) {
  const skill = skillOf(card);
  const ajv = new Ajv2020({ allErrors: true, strict: false, code: { source, esm: true } });
  addFormats.default(ajv);
  ajv.addMetaSchema(draft7MetaSchema);
  ajv.addSchema(skill.input_schema, "input").addSchema(skill.output_schema, "output");
  return { ajv, input: ajv.getSchema("input")!, output: ajv.getSchema("output")! };
}
