// The strict JSON decoding shared by cards, verification and manifests (lib/oci/json.ts).
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { isOciError } from "../../lib/oci/errors.ts";
import { MAX_JSON_DEPTH, parseJson } from "../../lib/oci/json.ts";

const encode = (text: string) => new TextEncoder().encode(text);

/** The message parseJson refuses `bytes` with, checking it is an "invalid-content" OciError. */
function refusal(bytes: Uint8Array | string): string {
  let message = "";
  assert.throws(() => parseJson(typeof bytes === "string" ? encode(bytes) : bytes, "doc.json"), (error: unknown) => {
    assert.ok(isOciError(error, "invalid-content"), `expected an invalid-content OciError, got ${error}`);
    message = error.message;
    return true;
  });
  return message;
}

const arrays = (depth: number) => "[".repeat(depth) + "]".repeat(depth);
const objects = (depth: number) => '{"a":'.repeat(depth - 1) + "{}" + "}".repeat(depth - 1);

describe("parseJson", () => {
  it("returns the parsed value", () => {
    assert.deepEqual(parseJson(encode(' {"a": [1, "x", null, true]}\n'), "doc.json"), { a: [1, "x", null, true] });
    assert.equal(parseJson(encode('"\u00e9\u{1f600}"'), "doc.json"), "\u00e9\u{1f600}");
  });

  it("refuses empty input and bytes that are not UTF-8", () => {
    assert.equal(refusal(""), "doc.json is empty");
    for (const bytes of [[0x7b, 0xff, 0x7d], [0x22, 0xc0, 0xaf, 0x22], [0x22, 0xed, 0xa0, 0x80, 0x22]]) {
      assert.equal(refusal(new Uint8Array(bytes)), "doc.json is not valid UTF-8");
    }
  });

  it("refuses a UTF-8 byte-order mark, which JSON forbids, and says how to save the file", () => {
    assert.equal(
      refusal(new Uint8Array([0xef, 0xbb, 0xbf, 0x7b, 0x7d])),
      "doc.json starts with a UTF-8 byte-order mark (bytes EF BB BF), which JSON forbids; save it as UTF-8 without a BOM",
    );
    // The same character inside a string is ordinary text.
    assert.equal(parseJson(encode('"\ufeff"'), "doc.json"), "\ufeff");
  });

  it(`accepts ${MAX_JSON_DEPTH} levels of arrays and objects, and refuses one more with its place`, () => {
    assert.equal(MAX_JSON_DEPTH, 100);
    assert.ok(Array.isArray(parseJson(encode(arrays(100)), "doc.json")));
    assert.ok(parseJson(encode(objects(100)), "doc.json"));
    assert.equal(refusal(arrays(101)), "doc.json nests arrays and objects more than 100 levels deep (at line 1, column 101)");
    assert.equal(
      refusal(objects(101)),
      "doc.json nests arrays and objects more than 100 levels deep (at line 1, column 501)",
    );
    assert.match(refusal(`[\n  ${"[{\"k\":".repeat(60)}`), /more than 100 levels deep \(at line 2, column 298\)$/);
  });

  it("refuses 100,000 levels before any recursive code sees them", () => {
    assert.match(refusal(arrays(100_000)), /more than 100 levels deep/);
    assert.match(refusal("[".repeat(100_000)), /more than 100 levels deep/);
  });

  it("does not count brackets inside strings, escaped quotes included", () => {
    const text = JSON.stringify(["[".repeat(500), '\\"{{{{' + "{".repeat(200), { "[[[": "]]]" }]);
    assert.deepEqual(parseJson(encode(text), "doc.json"), JSON.parse(text));
  });

  it("places syntax errors by line and column, with or without a position from the engine", () => {
    assert.equal(
      refusal('{\n  "a": 1,\n  "b": ,\n}'),
      "doc.json is not valid JSON: Unexpected token ',' at line 3, column 8",
    );
    assert.match(refusal('{"a": 1}\n{"b": 2}'), /^doc\.json is not valid JSON: .* at line 2, column 1$/);
    assert.match(refusal('["a", "b'), /^doc\.json is not valid JSON: .* at line 1, column 9$/);
    assert.match(refusal('"tab\there"'), /^doc\.json is not valid JSON: .* at line 1, column 5$/);
  });

  it("shows an unexpected control character escaped, so the problem stays one line", () => {
    assert.equal(refusal('{\n  "a": tru\n}'), "doc.json is not valid JSON: Unexpected token '\\n' at line 2, column 8");
    for (const char of ["\u0001", "\u007f", "\u2028"]) assert.doesNotMatch(refusal(`[1, ${char}]`), /[\u0000-\u001f\u007f\u2028]/);
  });
});
