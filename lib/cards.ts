import { readFileSync } from "node:fs";
import { readFile, stat } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Ajv2020, type ErrorObject, type ValidateFunction } from "ajv/dist/2020.js";
import draft7MetaSchema from "ajv/dist/refs/json-schema-draft-07.json" with { type: "json" };
// CommonJS: the default import is module.exports, whose typed callable is its `default` member.
import addFormats from "ajv-formats";
import { UsageError } from "./errors.ts";

export const CARD_SCHEMA_PATH = fileURLToPath(
  new URL("../fixtures/schemas/agent-card.schema.json", import.meta.url),
);

/** Cards are a few KB; anything this big is a mistake, and reading it would only waste memory. */
export const MAX_CARD_BYTES = 1024 * 1024;

export function cardFileName(agent: string): string {
  return `${agent}_agent_card.json`;
}

export interface AgentCard {
  agent: string;
  path: string;
  fileName: string;
  bytes: Uint8Array;
  card: Record<string, unknown>;
}

let cardValidator: ValidateFunction | undefined;

function validateCard(card: unknown): ErrorObject[] {
  if (!cardValidator) {
    const ajv = new Ajv2020({ allErrors: true });
    addFormats.default(ajv);
    cardValidator = ajv.compile(JSON.parse(readFileSync(CARD_SCHEMA_PATH, "utf8")));
  }
  return cardValidator(card) ? [] : (cardValidator.errors ?? []);
}

// Skill schemas are third-party JSON Schema: unknown keywords are legal there, the same $id
// may appear in several skills, so nothing is kept in the instance between compiles, and many
// tools still write draft-07 ("$schema": "http://json-schema.org/draft-07/schema#").
const skillSchemaAjv = new Ajv2020({ strict: false, addUsedSchema: false });
skillSchemaAjv.addMetaSchema(draft7MetaSchema);
addFormats.default(skillSchemaAjv);

function describeAjvError(error: ErrorObject): string {
  const pointer = error.instancePath || "/";
  const params = error.params as Record<string, unknown>;
  let message = error.message ?? "is invalid";
  if (error.keyword === "additionalProperties") {
    message += `: '${params.additionalProperty}'`;
  } else if (error.keyword === "enum") {
    message += `: ${(params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(", ")}`;
  }
  return `${pointer}: ${message}`;
}

function lineAndColumn(text: string, offset: number): string {
  const before = text.slice(0, offset);
  const line = before.split("\n").length;
  const column = offset - before.lastIndexOf("\n");
  return `line ${line}, column ${column}`;
}

class JsonStop {
  constructor(readonly offset: number) {}
}

/**
 * Offset of the first character at which `text` stops being JSON. JSON.parse only sometimes
 * says where ("Unexpected token ']', "[1,]" is not valid JSON" has no position), so this walks
 * the grammar itself. Undefined when it finds nothing wrong or the nesting is too deep to walk.
 */
function syntaxErrorOffset(text: string): number | undefined {
  let i = 0;
  const stop = (): never => {
    throw new JsonStop(i);
  };
  const skipSpace = () => {
    while (i < text.length && " \t\n\r".includes(text[i])) i++;
  };
  const expect = (char: string) => {
    if (text[i] !== char) stop();
    i++;
  };
  const digits = () => {
    const start = i;
    while (text[i] >= "0" && text[i] <= "9") i++;
    if (i === start) stop();
  };
  const number = () => {
    if (text[i] === "-") i++;
    if (text[i] === "0") i++;
    else digits();
    if (text[i] === ".") {
      i++;
      digits();
    }
    if (text[i] === "e" || text[i] === "E") {
      i++;
      if (text[i] === "+" || text[i] === "-") i++;
      digits();
    }
  };
  const string = () => {
    expect('"');
    for (;;) {
      const char = text[i];
      if (char === undefined || char < " ") stop();
      i++;
      if (char === '"') return;
      if (char !== "\\") continue;
      if (text[i] === "u" && /^[0-9a-fA-F]{4}$/.test(text.slice(i + 1, i + 5))) i += 5;
      else if ('"\\/bfnrt'.includes(text[i] ?? "x")) i++;
      else stop();
    }
  };
  const sequence = (close: string, item: () => void) => {
    i++;
    skipSpace();
    if (text[i] === close) {
      i++;
      return;
    }
    for (;;) {
      item();
      skipSpace();
      if (text[i] !== ",") return expect(close);
      i++;
    }
  };
  const value = (): void => {
    skipSpace();
    const char = text[i];
    if (char === "{") {
      return sequence("}", () => {
        skipSpace();
        string();
        skipSpace();
        expect(":");
        value();
      });
    }
    if (char === "[") return sequence("]", value);
    if (char === '"') return string();
    if (char === "-" || (char >= "0" && char <= "9")) return number();
    for (const word of ["true", "false", "null"]) {
      if (text.startsWith(word, i)) {
        i += word.length;
        return;
      }
    }
    stop();
  };
  try {
    value();
    skipSpace();
    if (i < text.length) stop();
    return undefined;
  } catch (error) {
    return error instanceof JsonStop ? error.offset : undefined;
  }
}

function syntaxProblem(text: string, error: Error): string {
  // The engine's wording is kept; its position (only sometimes present, and in a different
  // format per V8 version) and its quoted excerpt of the input are replaced by line and column.
  const reason = error.message
    .replace(/ in JSON at position \d+.*$/s, "")
    .replace(/, (\.\.\.)?".*"(\.\.\.)? is not valid JSON$/s, "");
  const offset = syntaxErrorOffset(text);
  return offset === undefined
    ? `is not valid JSON: ${reason}`
    : `is not valid JSON: ${reason} at ${lineAndColumn(text, offset)}`;
}

// Fleets repeat the same few skill schemas thousands of times: each is compiled once, and
// dropped from ajv's own cache right away, which would otherwise keep every one (about 60 MB
// per thousand cards).
const skillSchemaVerdicts = new Map<string, string | undefined>();

function skillSchemaProblem(schema: object): string | undefined {
  const key = JSON.stringify(schema);
  if (!skillSchemaVerdicts.has(key)) {
    try {
      skillSchemaAjv.compile(schema);
      skillSchemaVerdicts.set(key, undefined);
    } catch (error) {
      skillSchemaVerdicts.set(key, error instanceof Error ? error.message : String(error));
    } finally {
      skillSchemaAjv.removeSchema(schema);
    }
  }
  return skillSchemaVerdicts.get(key);
}

function skillSchemaProblems(card: Record<string, unknown>): string[] {
  const problems: string[] = [];
  const skills = Array.isArray(card.skills) ? card.skills : [];
  skills.forEach((skill: unknown, index) => {
    if (typeof skill !== "object" || skill === null) return;
    for (const key of ["input_schema", "output_schema"]) {
      const schema = (skill as Record<string, unknown>)[key];
      // A missing or non-object schema is already reported by the card schema.
      if (typeof schema !== "object" || schema === null || Array.isArray(schema)) continue;
      const problem = skillSchemaProblem(schema);
      if (problem) problems.push(`/skills/${index}/${key}: not a valid JSON Schema: ${problem}`);
    }
  });
  return problems;
}

/**
 * Every problem with one card's bytes, each prefixed with `label` (usually the file name).
 * `card` is set when the bytes are a JSON object, even if the schema rejects it.
 */
export function validateCardBytes(
  bytes: Uint8Array,
  label: string,
): { card?: Record<string, unknown>; problems: string[] } {
  if (bytes.length === 0) return { problems: [`${label} is empty`] };

  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    return { problems: [`${label} is not valid UTF-8`] };
  }

  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    return { problems: [`${label} ${syntaxProblem(text, error as Error)}`] };
  }

  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    const kind = parsed === null ? "null" : Array.isArray(parsed) ? "an array" : typeof parsed;
    return { problems: [`${label} must hold a JSON object, not ${kind}`] };
  }

  const card = parsed as Record<string, unknown>;
  const problems = [
    ...validateCard(card).map(describeAjvError),
    ...skillSchemaProblems(card),
  ].map((problem) => `${label} ${problem}`);
  return { card, problems };
}

/** Reads one card, or says why it cannot be used. */
async function loadCard(
  cardsDir: string,
  agent: string,
): Promise<{ card?: AgentCard; problems: string[] }> {
  const fileName = cardFileName(agent);
  const cardPath = path.join(cardsDir, fileName);

  let size: number;
  try {
    const info = await stat(cardPath);
    if (info.isDirectory()) return { problems: [`${cardPath} is a directory, not a card file`] };
    size = info.size;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") {
      return {
        problems: [
          `${fileName} not found in ${cardsDir} (the cards directory is set by CARDS_DIR or --cards)`,
        ],
      };
    }
    return { problems: [`${cardPath} cannot be read: ${(error as Error).message}`] };
  }
  if (size > MAX_CARD_BYTES) {
    return {
      problems: [
        `${fileName} is ${size.toLocaleString("en-US")} bytes; a card may be at most ${MAX_CARD_BYTES.toLocaleString("en-US")} bytes`,
      ],
    };
  }

  const bytes = new Uint8Array(await readFile(cardPath));
  const { card, problems } = validateCardBytes(bytes, fileName);
  if (!card || problems.length > 0) return { problems };
  return { card: { agent, path: cardPath, fileName, bytes, card }, problems };
}

/**
 * Loads and validates the card of every agent, in the given order. All cards are checked before
 * anything is reported, so one run shows every problem instead of one per attempt.
 */
export async function loadCards(cardsDir: string, agents: string[]): Promise<AgentCard[]> {
  const results = await Promise.all(agents.map((agent) => loadCard(cardsDir, agent)));
  const problems = results.flatMap((result) => result.problems);
  const cards = results.flatMap((result) => (result.card ? [result.card] : []));

  const byName = new Map<unknown, AgentCard>();
  for (const card of cards) {
    const first = byName.get(card.card.name);
    if (first) {
      problems.push(
        `${first.fileName} and ${card.fileName} both name the agent ${JSON.stringify(card.card.name)}`,
      );
    } else {
      byName.set(card.card.name, card);
    }
  }

  if (problems.length > 0) {
    const count = problems.length === 1 ? "1 problem" : `${problems.length} problems`;
    throw new UsageError(
      `${count} in the agent cards; nothing was sent to the registry:\n${problems.map((p) => `  - ${p}`).join("\n")}`,
      `Fix the cards in ${cardsDir} and run again.`,
    );
  }
  return cards;
}
