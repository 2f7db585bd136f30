import jsonDiff from "json-diff";
import { validateCardBytes } from "./cards.ts";
import { sha256Digest } from "./oci/digest.ts";

// json-diff ships no types; this is the one call used.
const diffString = (jsonDiff as {
  diffString(before: unknown, after: unknown, options: { color: boolean }): string;
}).diffString;

/**
 * A parsed JSON value with object keys sorted at every level and no whitespace, like
 * `jq -S -c`: two documents with the same content give the same string however they are
 * formatted or ordered.
 */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (typeof value === "object" && value !== null) {
    const object = value as Record<string, unknown>;
    // Built as text rather than as a sorted copy, so a "__proto__" key stays an ordinary key.
    const members = Object.keys(object)
      .sort()
      .map((key) => `${JSON.stringify(key)}:${canonicalJson(object[key])}`);
    return `{${members.join(",")}}`;
  }
  return JSON.stringify(value);
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

function formatSize(bytes: number): string {
  return `${bytes.toLocaleString("en-US")} B`;
}

function parseJson(bytes: Uint8Array): { value?: unknown; error?: string } {
  try {
    return { value: JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes)) };
  } catch (error) {
    return { error: (error as Error).message };
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, index) => byte === b[index]);
}

/**
 * Every way the workshop proves a pulled card is the one that was pushed (diff, sizes, jq,
 * jq -S), plus the schema and, when the manifest is known, the layer digest it promises.
 */
export function compareCard(
  original: Uint8Array,
  pulled: Uint8Array,
  layerDigest?: string,
): CardComparison {
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

  const before = parseJson(original);
  const after = parseJson(pulled);
  checks.push({
    name: "valid JSON",
    ok: after.error === undefined,
    detail: after.error ?? "the pulled card parses",
  });

  let canonicalEqual = false;
  let diff: string | undefined;
  if (before.error === undefined && after.error === undefined) {
    canonicalEqual = canonicalJson(before.value) === canonicalJson(after.value);
    if (!canonicalEqual) diff = diffString(before.value, after.value, { color: false });
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
