import { OciError } from "./errors.ts";

/**
 * The deepest nesting of arrays and objects accepted. Manifests and agent cards need a dozen
 * levels; code that walks a document recursively (schema validators, diffs) is safe far below
 * the depth at which a stack overflows.
 */
export const MAX_JSON_DEPTH = 100;

/** A JSON object: not null, not an array. */
export const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value);

/**
 * Decodes a JSON document strictly: UTF-8 without a byte-order mark (RFC 8259 forbids one), at
 * most MAX_JSON_DEPTH levels deep, syntax errors placed by line and column. Throws an OciError
 * of kind "invalid-content" whose message starts with `subject`, e.g. "plan.json is empty".
 */
export function parseJson(bytes: Uint8Array, subject: string): unknown {
  const invalid = (problem: string) => new OciError("invalid-content", `${subject} ${problem}`);
  if (bytes.length === 0) throw invalid("is empty");
  if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) {
    throw invalid(
      "starts with a UTF-8 byte-order mark (bytes EF BB BF), which JSON forbids; save it as UTF-8 without a BOM",
    );
  }

  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw invalid("is not valid UTF-8");
  }

  const tooDeep = offsetBeyondDepth(text, MAX_JSON_DEPTH);
  if (tooDeep !== undefined) {
    throw invalid(
      `nests arrays and objects more than ${MAX_JSON_DEPTH} levels deep (at ${lineAndColumn(text, tooDeep)})`,
    );
  }

  try {
    return JSON.parse(text);
  } catch (error) {
    throw invalid(syntaxProblem(text, error as Error));
  }
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPENERS = new Set([0x5b, 0x7b]);
const CLOSERS = new Set([0x5d, 0x7d]);

/**
 * Offset of the first bracket that opens level `maxDepth + 1`, found by one pass over the text
 * that skips strings, so no recursive code ever sees a document nested deeper. On text that is
 * not JSON the count can be off, but JSON.parse refuses such text anyway.
 */
function offsetBeyondDepth(text: string, maxDepth: number): number | undefined {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const char = text.charCodeAt(i);
    if (inString) {
      if (char === BACKSLASH) i++;
      else if (char === QUOTE) inString = false;
    } else if (char === QUOTE) {
      inString = true;
    } else if (OPENERS.has(char)) {
      if (++depth > maxDepth) return i;
    } else if (CLOSERS.has(char)) {
      depth--;
    }
  }
  return undefined;
}

function lineAndColumn(text: string, offset: number): string {
  const before = text.slice(0, offset);
  const line = before.split("\n").length;
  const column = offset - before.lastIndexOf("\n");
  return `line ${line}, column ${column}`;
}

const SHORT_ESCAPES: Record<string, string> = { "\n": "\\n", "\r": "\\r", "\t": "\\t" };
const escapeControl = (char: string) => SHORT_ESCAPES[char] ?? `\\u${char.charCodeAt(0).toString(16).padStart(4, "0")}`;

function syntaxProblem(text: string, error: Error): string {
  // The engine's wording is kept; its position (only sometimes present, and in a different
  // format per V8 version) and its quoted excerpt of the input are replaced by line and column.
  // A control character the engine quotes as the unexpected token is shown escaped, so the
  // problem stays one line ("Unexpected token '\n'", not a break in the message).
  const reason = error.message
    .replace(/ in JSON at position \d+.*$/s, "")
    .replace(/, (\.\.\.)?".*"(\.\.\.)? is not valid JSON$/s, "")
    .replace(/[\u0000-\u001f\u007f\u2028\u2029]/g, escapeControl);
  const offset = syntaxErrorOffset(text);
  return offset === undefined
    ? `is not valid JSON: ${reason}`
    : `is not valid JSON: ${reason} at ${lineAndColumn(text, offset)}`;
}

class JsonStop {
  constructor(readonly offset: number) {}
}

/**
 * Offset of the first character at which `text` stops being JSON. JSON.parse only sometimes
 * says where ("Unexpected token ']', "[1,]" is not valid JSON" has no position), so this walks
 * the grammar itself; it recurses once per level, which the depth limit keeps shallow.
 * Undefined when it finds nothing wrong.
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
    if (error instanceof JsonStop) return error.offset;
    throw error;
  }
}
