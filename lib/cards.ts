import { constants, type Stats } from "node:fs";
import { lstat, open, realpath, stat } from "node:fs/promises";
import path from "node:path";
import { UsageError } from "./errors.ts";
import {
  agentCardV03,
  agentCardV10,
  metaSchema202012,
  metaSchemaDraft07,
  type ValidationError,
  type Validator,
} from "./generated/card-validators.js";
import { isOciError } from "./oci/errors.ts";
import { isObject, parseJson } from "./oci/json.ts";

/** The artifact type every agent card is pushed with (REFERENCE §6: the AI Card working group's mapping). */
export const CARD_TYPE = "application/a2a-agent-card+json";

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
  /** Things that are legal but probably a mistake, for the caller to show. */
  warnings: string[];
}

export type A2aVersion = "0.3" | "1.0";

/** Each card is validated against the schema of its own protocol version. */
const CARD_VALIDATORS: Record<A2aVersion, Validator> = { "0.3": agentCardV03, "1.0": agentCardV10 };

/** Fields of the 0.3 card that 1.0 replaced with supportedInterfaces. */
const A2A_03_FIELDS = ["url", "protocolVersion", "preferredTransport", "additionalInterfaces"];

const ACCEPTED_SHAPES = 'accepted are A2A 0.3 cards (a top-level "url" and "protocolVersion": "0.3.x") ' +
  'and A2A 1.0 cards ("supportedInterfaces": [{"url", "protocolBinding", "protocolVersion": "1.0"}] instead)';

const interfaceUrls = (interfaces: unknown): string[] =>
  Array.isArray(interfaces)
    ? interfaces.flatMap((entry) => (isObject(entry) && typeof entry.url === "string" ? [entry.url] : []))
    : [];

/**
 * Which A2A version a card is written for, told by its shape, and the URLs it is served at,
 * the preferred first; or why it is neither version. 1.0 cards list supportedInterfaces; 0.3
 * cards have a top-level url and protocolVersion. A 0.3-shaped card whose protocolVersion is
 * malformed still counts as 0.3, so that its schema says what is wrong with it.
 */
export function cardProtocol(
  card: Record<string, unknown>,
): { version: A2aVersion; urls: string[] } | { problem: string } {
  const oldFields = A2A_03_FIELDS.filter((field) => Object.hasOwn(card, field));
  if (Object.hasOwn(card, "supportedInterfaces")) {
    if (oldFields.length > 0) {
      const fields = oldFields.map((field) => JSON.stringify(field)).join(", ");
      return { problem: `mixes A2A 1.0 "supportedInterfaces" with A2A 0.3 ${fields}; ${ACCEPTED_SHAPES}` };
    }
    return { version: "1.0", urls: interfaceUrls(card.supportedInterfaces) };
  }
  if (oldFields.length === 0) {
    return { problem: `has neither "protocolVersion" nor "supportedInterfaces"; ${ACCEPTED_SHAPES}` };
  }
  const declared = card.protocolVersion;
  const semver = typeof declared === "string" && /^(\d+)\.(\d+)\.\d+$/.exec(declared);
  if (semver && `${semver[1]}.${semver[2]}` !== "0.3") {
    return { problem: `declares "protocolVersion": ${JSON.stringify(declared)}, not 0.3; ${ACCEPTED_SHAPES}` };
  }
  const urls = [card.url, ...interfaceUrls(card.additionalInterfaces)].filter((url) => typeof url === "string");
  return { version: "0.3", urls: [...new Set(urls as string[])] };
}

function describeError(error: ValidationError): string {
  const pointer = error.instancePath || "/";
  const params = error.params;
  let message = error.message ?? "is invalid";
  if (error.keyword === "additionalProperties") {
    message += `: '${params.additionalProperty}'`;
  } else if (error.keyword === "enum") {
    message += `: ${(params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(", ")}`;
  }
  return `${pointer}: ${message}`;
}

const DEFAULT_DIALECT = "https://json-schema.org/draft/2020-12/schema";

/**
 * Skill schemas are third-party JSON Schema, checked against the meta-schema of the dialect
 * their "$schema" names (2020-12 when none, as for our own schemas); many tools still write
 * draft-07. Ajv ignores a trailing "#" in the URI, and so does this.
 */
const META_SCHEMAS = new Map<string, Validator>([
  [DEFAULT_DIALECT, metaSchema202012],
  ["http://json-schema.org/draft-07/schema", metaSchemaDraft07],
]);

function skillSchemaProblem(schema: Record<string, unknown>): string | undefined {
  const dialect = typeof schema.$schema === "string" ? schema.$schema.replace(/#$/, "") : DEFAULT_DIALECT;
  const validate = META_SCHEMAS.get(dialect);
  if (!validate) {
    return `"$schema" ${JSON.stringify(schema.$schema)} is not supported: ` +
      'use "https://json-schema.org/draft/2020-12/schema" or "http://json-schema.org/draft-07/schema#"';
  }
  if (validate(schema)) return undefined;
  // One message per place: a bad "type" would otherwise be reported once per alternative the
  // meta-schema allows there, and the first says the most.
  const firstAtEachPlace = new Map<string, ValidationError>();
  for (const error of validate.errors ?? []) {
    if (!firstAtEachPlace.has(error.instancePath)) firstAtEachPlace.set(error.instancePath, error);
  }
  return [...firstAtEachPlace.values()].map(describeError).join("; ");
}

function skillSchemaProblems(card: Record<string, unknown>): string[] {
  const problems: string[] = [];
  const skills = Array.isArray(card.skills) ? card.skills : [];
  skills.forEach((skill: unknown, index) => {
    if (!isObject(skill)) return;
    for (const key of ["input_schema", "output_schema"]) {
      const schema = skill[key];
      // A missing or non-object schema is already reported by the card schema.
      if (!isObject(schema)) continue;
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
  let parsed: unknown;
  try {
    parsed = parseJson(bytes, label);
  } catch (error) {
    if (isOciError(error, "invalid-content")) return { problems: [error.message] };
    throw error;
  }

  if (!isObject(parsed)) {
    const kind = parsed === null ? "null" : Array.isArray(parsed) ? "an array" : typeof parsed;
    return { problems: [`${label} must hold a JSON object, not ${kind}`] };
  }

  const card = parsed;
  const protocol = cardProtocol(card);
  if ("problem" in protocol) return { card, problems: [`${label} ${protocol.problem}`] };
  const validate = CARD_VALIDATORS[protocol.version];
  const problems = [
    ...(validate(card) ? [] : (validate.errors ?? []).map(describeError)),
    ...skillSchemaProblems(card),
  ].map((problem) => `${label} ${problem}`);
  return { card, problems };
}

/** What a path that is not a regular file is, in words. */
function fileKind(info: Stats): string {
  if (info.isDirectory()) return "a directory";
  if (info.isFIFO()) return "a named pipe (FIFO)";
  if (info.isCharacterDevice()) return "a character device";
  if (info.isBlockDevice()) return "a block device";
  if (info.isSocket()) return "a socket";
  return "not a regular file";
}

const formatBytes = (count: number) => count.toLocaleString("en-US");

/**
 * At most `limit + 1` bytes of a file: one more than allowed is enough to know it is too big,
 * whatever its size said (files in /proc say 0, and a file can grow after stat). Opened
 * non-blocking, so a FIFO swapped in after the caller's stat cannot hang the read.
 */
async function readAtMost(filePath: string, limit: number): Promise<Uint8Array> {
  const handle = await open(filePath, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    const buffer = new Uint8Array(limit + 1);
    let length = 0;
    while (length < buffer.length) {
      const { bytesRead } = await handle.read(buffer, length, buffer.length - length, null);
      if (bytesRead === 0) break;
      length += bytesRead;
    }
    return buffer.slice(0, length);
  } finally {
    await handle.close();
  }
}

/**
 * A card is named after its agent: the agent of the file name begins the card's name, before
 * a dash ("plan" in plan_agent_card.json -> "plan-agent"; an agent "code-review" -> "code-review-agent").
 * Any other name is legal, but usually a card copied from another agent and not renamed.
 */
function nameWarnings(agent: string, fileName: string, card: Record<string, unknown>): string[] {
  if (typeof card.name !== "string") return [];
  const name = card.name.toLowerCase();
  if (name === agent || name.startsWith(`${agent}-`)) return [];
  return [
    `${fileName} names the agent ${JSON.stringify(card.name)}; a card's name should start with its file's agent, e.g. "${agent}-agent"`,
  ];
}

/** Reads one card, or says why it cannot be used. Only regular files are read, and never whole. */
async function loadCard(
  cardsDir: string,
  agent: string,
  setBy: string,
): Promise<{ card?: AgentCard; problems: string[] }> {
  const fileName = cardFileName(agent);
  const cardPath = path.join(cardsDir, fileName);
  const tooBig = (size: string) =>
    `${fileName} is ${size} bytes; a card may be at most ${formatBytes(MAX_CARD_BYTES)} bytes`;

  let bytes: Uint8Array;
  try {
    // stat follows links: a link to /dev/zero is judged as /dev/zero, before anything opens it.
    const info = await stat(cardPath);
    if (!info.isFile()) {
      const linked = (await lstat(cardPath)).isSymbolicLink() ? ` (a link to ${await realpath(cardPath)})` : "";
      return { problems: [`${cardPath} is ${fileKind(info)}${linked}, not a card file`] };
    }
    if (info.size > MAX_CARD_BYTES) return { problems: [tooBig(formatBytes(info.size))] };
    bytes = await readAtMost(cardPath, MAX_CARD_BYTES);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") {
      return {
        problems: [
          `${fileName} not found in ${cardsDir} (${setBy})`,
        ],
      };
    }
    return { problems: [`${cardPath} cannot be read: ${(error as Error).message}`] };
  }
  if (bytes.length > MAX_CARD_BYTES) return { problems: [tooBig(`more than ${formatBytes(MAX_CARD_BYTES)}`)] };

  const { card, problems } = validateCardBytes(bytes, fileName);
  if (!card || problems.length > 0) return { problems };
  return {
    card: { agent, path: cardPath, fileName, bytes, card, warnings: nameWarnings(agent, fileName, card) },
    problems,
  };
}

/**
 * Loads and validates the card of every agent, in the given order. All cards are checked before
 * anything is reported, so one run shows every problem instead of one per attempt. `setBy` says,
 * for a card not found, which setting names where it was looked for.
 */
export async function loadCards(cardsDir: string, agents: string[], setBy = "the cards directory is set by CARDS_DIR or --cards"): Promise<AgentCard[]> {
  const results = await Promise.all(agents.map((agent) => loadCard(cardsDir, agent, setBy)));
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
