import { describe, it } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { OciError } from "../../lib/oci/errors.ts";
import {
  formatReference,
  isLoopbackHost,
  manifestReference,
  parseReference,
  PATH_COMPONENT_PATTERN,
  type Reference,
  REPOSITORY_PATTERN,
  TAG_PATTERN,
} from "../../lib/oci/reference.ts";
import { DIGEST_PATTERN } from "../../lib/oci/digest.ts";

const registry = fc.oneof(
  fc.constantFrom("localhost", "localhost:5000", "127.0.0.1:5001", "[::1]:5000", "registry.example.com"),
  fc.tuple(fc.domain(), fc.option(fc.integer({ min: 1, max: 65535 }), { nil: undefined }))
    .map(([host, port]) => (port === undefined ? host : `${host}:${port}`)),
  fc.tuple(fc.ipV4(), fc.integer({ min: 1, max: 65535 })).map(([ip, port]) => `${ip}:${port}`),
);
const repository = fc.array(fc.stringMatching(PATH_COMPONENT_PATTERN), { minLength: 1, maxLength: 4 })
  .map((components) => components.join("/"))
  .filter((name) => name.length <= 255);
const tag = fc.stringMatching(TAG_PATTERN);
const digest = fc.uint8Array({ minLength: 32, maxLength: 32 })
  .map((bytes) => "sha256:" + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join(""));
const reference: fc.Arbitrary<Reference> = fc.record({
  registry,
  repository,
  tag: fc.option(tag, { nil: undefined }),
  digest: fc.option(digest, { nil: undefined }),
}, { noNullPrototype: true });

/** Runs `parse`, which must refuse `text` with an invalid-reference OciError, and returns the message. */
function refusal(text: string): string {
  let message = "";
  assert.throws(() => parseReference(text), (error: unknown) => {
    assert.ok(error instanceof OciError && error.kind === "invalid-reference", `expected an invalid-reference OciError for ${JSON.stringify(text)}, got ${error}`);
    message = error.message;
    return true;
  });
  return message;
}

describe("parseReference", () => {
  it("parses what formatReference writes, for any reference of the OCI grammar", () => {
    fc.assert(
      fc.property(reference, (ref) => {
        const text = formatReference(ref);
        assert.deepEqual(parseReference(text), ref);
        assert.equal(formatReference(parseReference(text)), text);
      }),
    );
  });

  it("either gives parts that each match the grammar or refuses with a usage error, for any text", () => {
    const text = fc.oneof(
      fc.string({ unit: "binary" }),
      // Mostly the characters references are made of, so that many texts get far into the parser.
      fc.string({ unit: fc.constantFrom(..."aZ09._-:/@[]"), maxLength: 40 }),
      reference.map(formatReference),
    );
    fc.assert(
      fc.property(text, (input) => {
        let ref: Reference;
        try {
          ref = parseReference(input);
        } catch (error) {
          assert.ok(error instanceof OciError && error.kind === "invalid-reference", `${JSON.stringify(input)} threw ${error}`);
          return;
        }
        assert.ok(REPOSITORY_PATTERN.test(ref.repository) && ref.repository.length <= 255, input);
        if (ref.tag !== undefined) assert.match(ref.tag, TAG_PATTERN);
        if (ref.digest !== undefined) assert.match(ref.digest, DIGEST_PATTERN);
        assert.equal(formatReference(ref), input);
      }),
    );
  });

  it("refuses any reference with a character a shell would act on", () => {
    const shellCharacter = fc.constantFrom(..." \t\n;|&$`'\"\\<>(){}*?!#~=%^,");
    fc.assert(
      fc.property(reference.map(formatReference), shellCharacter, fc.nat(), (text, character, at) => {
        const index = at % (text.length + 1);
        refusal(text.slice(0, index) + character + text.slice(index));
      }),
    );
  });

  it("says what is wrong with each part", () => {
    assert.match(refusal("localhost:5000/agents/Plan:v1"), /repository "agents\/Plan" must be lowercase path components/);
    assert.match(refusal("localhost:5000/agents/../x:v1"), /repository "agents\/\.\.\/x"/);
    assert.match(refusal("localhost:5000/agents/plan:-v1"), /tag "-v1" must match \[A-Za-z0-9_\]\[A-Za-z0-9\._-\]\{0,127\}/);
    assert.match(refusal(`localhost:5000/agents/plan:${"v".repeat(129)}`), /tag "v{129}"/);
    assert.match(refusal("localhost:5000/agents/plan@sha256:abc"), /"sha256:abc" is not a sha256 digest/);
    assert.match(refusal("localhost:0/agents/plan:v1"), /"localhost:0" is not a registry host\[:port\]/);
    assert.match(refusal("localhost:65536/agents/plan:v1"), /"localhost:65536" is not a registry/);
    assert.match(refusal("plan:v1"), /it names no repository after the registry/);
    assert.match(refusal(`localhost/${"a".repeat(256)}:v1`), /repository "a{256}"/);
  });

  it("takes the longest tag and the longest repository the grammar allows", () => {
    assert.equal(parseReference(`localhost/agents/plan:${"v".repeat(128)}`).tag, "v".repeat(128));
    assert.equal(parseReference(`localhost/${"a".repeat(255)}:v1`).repository, "a".repeat(255));
  });
});

describe("manifestReference", () => {
  it("prefers the digest, which pins the content, to the tag", () => {
    const pinned = "sha256:" + "a".repeat(64);
    assert.equal(manifestReference(parseReference(`localhost:5000/agents/plan:v1@${pinned}`)), pinned);
    assert.equal(manifestReference(parseReference("localhost:5000/agents/plan:v1")), "v1");
  });

  it("refuses a reference without tag or digest: there is no implicit latest", () => {
    assert.throws(() => manifestReference(parseReference("localhost:5000/agents/plan")), (error: unknown) => {
      assert.ok(error instanceof OciError && error.kind === "invalid-reference");
      assert.match(error.message, /localhost:5000\/agents\/plan names no tag or digest/);
      return true;
    });
  });
});

describe("isLoopbackHost", () => {
  it("knows localhost, 127.0.0.0/8 and ::1, with or without a port", () => {
    for (const host of ["localhost", "localhost:5000", "127.0.0.1", "127.1.2.3:80", "[::1]:5000", "[::1]"]) {
      assert.equal(isLoopbackHost(host), true, host);
    }
  });

  it("treats every other host as remote, including look-alikes", () => {
    for (const host of ["localhost.example.com", "127.0.0.1.nip.io", "10.0.0.1:5000", "registry:5000", "0.0.0.0", "[::2]:5000"]) {
      assert.equal(isLoopbackHost(host), false, host);
    }
  });
});
