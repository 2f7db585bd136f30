import { validateCardBytes } from "./cards.ts";
import { sha256Digest } from "./oci/digest.ts";
import { isOciError } from "./oci/errors.ts";
import { parseJson } from "./oci/json.ts";

/**
 * A parsed JSON value with object keys sorted at every level and no whitespace, like
 * `jq -S -c`: two documents with the same content give the same string however they are
 * formatted or ordered. Built with a stack of its own rather than by recursion, so no depth
 * of nesting can overflow the call stack.
 */
export function canonicalJson(value: unknown): string {
  const out: string[] = [];
  // Taken from the end: each value pushes its closing bracket first and its opening one last.
  const work: ({ text: string } | { value: unknown })[] = [{ value }];
  for (let item = work.pop(); item !== undefined; item = work.pop()) {
    if ("text" in item) {
      out.push(item.text);
      continue;
    }
    const current = item.value;
    if (typeof current !== "object" || current === null) {
      out.push(JSON.stringify(current));
      continue;
    }
    const isArray = Array.isArray(current);
    const object = current as Record<string, unknown>;
    // Built as text rather than as a sorted copy, so a "__proto__" key stays an ordinary key.
    const keys = isArray ? [] : Object.keys(object).sort();
    const count = isArray ? current.length : keys.length;
    work.push({ text: isArray ? "]" : "}" });
    for (let i = count - 1; i >= 0; i--) {
      work.push({ value: isArray ? current[i] : object[keys[i]] });
      if (!isArray) work.push({ text: `${JSON.stringify(keys[i])}:` });
      if (i > 0) work.push({ text: "," });
    }
    work.push({ text: isArray ? "[" : "{" });
  }
  return out.join("");
}

export interface Check {
  name: string;
  ok: boolean;
  detail: string;
}

export interface CardComparison {
  ok: boolean;
  /** The bytes differ but the JSON content is the same: something re-serialised the card. */
  formattingOnly: boolean;
  checks: Check[];
  /** What changed, when the content itself differs. */
  diff?: string;
}

/** 1,234 B. Not toLocaleString: its first call loads ICU's number formats, 25 ms of a verify step. */
function formatSize(bytes: number): string {
  return `${String(bytes).replace(/\B(?=(\d{3})+$)/g, ",")} B`;
}

function parseCard(bytes: Uint8Array, subject: string): { value?: unknown; error?: string } {
  try {
    return { value: parseJson(bytes, subject) };
  } catch (error) {
    if (isOciError(error, "invalid-content")) return { error: error.message };
    throw error;
  }
}

/** json-diff is loaded only when two cards differ: most verifications never need it. */
export async function contentDiff(before: unknown, after: unknown): Promise<string> {
  // It ships no types; this is the one call used.
  const { default: jsonDiff } = await import("json-diff") as {
    default: { diffString(before: unknown, after: unknown, options: { color: boolean }): string };
  };
  return jsonDiff.diffString(before, after, { color: false });
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, index) => byte === b[index]);
}

/**
 * Every way the workshop proves a pulled card is the one that was pushed (diff, sizes, jq,
 * jq -S), plus the schema and, when the manifest is known, the layer digest it promises.
 */
export async function compareCard(
  original: Uint8Array,
  pulled: Uint8Array,
  layerDigest?: string,
): Promise<CardComparison> {
  const originalDigest = sha256Digest(original);
  const pulledDigest = sha256Digest(pulled);
  const identical = sameBytes(original, pulled);
  const checks: Check[] = [
    {
      name: "byte-identical",
      ok: identical,
      detail: identical
        ? originalDigest
        : `original ${originalDigest}, pulled ${pulledDigest}`,
    },
    {
      name: "same size",
      ok: original.length === pulled.length,
      detail: original.length === pulled.length
        ? formatSize(original.length)
        : `${formatSize(original.length)} vs ${formatSize(pulled.length)}`,
    },
  ];

  const before = parseCard(original, "the original card");
  const after = parseCard(pulled, "the pulled card");
  checks.push({
    name: "valid JSON",
    ok: after.error === undefined,
    detail: after.error ?? "the pulled card parses",
  });

  let canonicalEqual = false;
  let diff: string | undefined;
  if (before.error === undefined && after.error === undefined) {
    canonicalEqual = canonicalJson(before.value) === canonicalJson(after.value);
    if (!canonicalEqual) diff = await contentDiff(before.value, after.value);
    checks.push({
      name: "canonical JSON equal",
      ok: canonicalEqual,
      detail: canonicalEqual
        ? identical ? "same content" : "same content, only the formatting differs"
        : "the content differs",
    });
  } else {
    checks.push({
      name: "canonical JSON equal",
      ok: false,
      detail: `cannot compare: the ${before.error === undefined ? "pulled" : "original"} card is not JSON`,
    });
  }

  const { problems } = validateCardBytes(pulled, "pulled card");
  checks.push({
    name: "schema-valid",
    ok: problems.length === 0,
    detail: problems.length === 0 ? "matches the agent card schema" : problems.join("; "),
  });

  if (layerDigest !== undefined) {
    checks.push({
      name: "layer digest",
      ok: pulledDigest === layerDigest,
      detail: pulledDigest === layerDigest
        ? layerDigest
        : `manifest says ${layerDigest}, pulled bytes hash to ${pulledDigest}`,
    });
  }

  return {
    ok: checks.every((check) => check.ok),
    formattingOnly: !identical && canonicalEqual,
    checks,
    ...(diff === undefined ? {} : { diff }),
  };
}
