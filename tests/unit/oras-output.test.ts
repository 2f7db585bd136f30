// How the oras commands print: Go's JSON (escapes, indent, field order, omitted empty maps),
// Go's json.Indent for --pretty, and YAML scalars under discover's [annotations].
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { describe as describeDescriptor, printJson } from "../../lib/oras/command.ts";
import { yamlPair } from "../../lib/oras/discover.ts";
import { indentJson } from "../../lib/oras/json.ts";

const printed = (value: unknown) => {
  let text = "";
  printJson({ out: (chunk) => (text += chunk) }, value);
  return text;
};

describe("printJson writes what Go's encoder with SetIndent(\"\", \"  \") writes", () => {
  it("escapes <, > and & as \\u003c, \\u003e and \\u0026, indents by two spaces and ends with one newline", () => {
    assert.equal(printed({ a: "<x&y>", b: [1, { c: null }], d: [] }), '{\n  "a": "\\u003cx\\u0026y\\u003e",\n  "b": [\n    1,\n    {\n      "c": null\n    }\n  ],\n  "d": []\n}\n');
  });
});

describe("describe models a descriptor as oras's JSON output does", () => {
  const descriptor = { mediaType: "m", digest: "sha256:" + "a".repeat(64), size: 3, urls: ["u"], data: "e30=" };

  it("puts the digest reference first, keeps the descriptor's field order and drops urls and data", () => {
    assert.deepEqual(Object.keys(describeDescriptor("r/x", { ...descriptor, annotations: { z: "1", a: "2" }, artifactType: "t" })), [
      "reference", "mediaType", "digest", "size", "annotations", "artifactType",
    ]);
    assert.equal(describeDescriptor("r/x", descriptor).reference, `r/x@${descriptor.digest}`);
  });

  it("sorts annotation keys, as Go encodes a map, and leaves out an empty map and an empty artifact type", () => {
    assert.deepEqual(Object.keys(describeDescriptor("r/x", { ...descriptor, annotations: { z: "1", a: "2" } }).annotations!), ["a", "z"]);
    assert.deepEqual(Object.keys(describeDescriptor("r/x", { ...descriptor, annotations: {}, artifactType: "" })), ["reference", "mediaType", "digest", "size"]);
  });
});

describe("indentJson re-indents as Go's json.Indent", () => {
  it("changes only the white space between tokens, keeping escapes and number spellings", () => {
    assert.equal(indentJson('{"a":"\\u003c \\" ,:{}","b":[1.50,2e3],"c":{},"d":[ ]}'), '{\n  "a": "\\u003c \\" ,:{}",\n  "b": [\n    1.50,\n    2e3\n  ],\n  "c": {},\n  "d": []\n}');
  });

  it("gives JSON.stringify's two-space layout for any compact JSON value", () => {
    fc.assert(fc.property(fc.jsonValue(), (value) => {
      assert.equal(indentJson(JSON.stringify(value)), JSON.stringify(value, null, 2));
    }));
  });
});

describe("yamlPair prints an annotation as yaml.v3 prints a one-entry map", () => {
  it("leaves plain text plain", () => {
    assert.equal(yamlPair("org.opencontainers.image.title", "card.json"), "org.opencontainers.image.title: card.json");
    assert.equal(yamlPair("reviewer", "alice smith"), "reviewer: alice smith");
  });

  it("double-quotes what YAML would read as something else, or could not read as plain", () => {
    for (const value of ["2026-11-25T17:15:55Z", "2026-11-25", "42", "-1.5", "0x1F", "1:20", "true", "No", "off", "~", "null", "", " padded", "a: b", "a #b", "- x", "*x", "{x}", "'q'"]) {
      assert.equal(yamlPair("k", value), `k: ${JSON.stringify(value)}`, value);
    }
  });
});
