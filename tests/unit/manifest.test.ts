import { describe, it } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import fc from "fast-check";
import { OciError } from "../../lib/oci/errors.ts";
import { safeTarget } from "../../lib/oci/artifacts.ts";
import { sha256Digest } from "../../lib/oci/digest.ts";
import {
  artifactManifest,
  EMPTY_CONFIG,
  encodeManifest,
  type ImageManifest,
  MEDIA_TYPE,
  parseManifest,
} from "../../lib/oci/manifest.ts";

const encode = (text: string) => new TextEncoder().encode(text);
const json = (value: unknown) => encode(JSON.stringify(value));

/** Runs parseManifest, which must refuse `bytes` as invalid content, and returns the message. */
function refusal(bytes: Uint8Array, contentType?: string): string {
  let message = "";
  assert.throws(() => parseManifest(bytes, contentType), (error: unknown) => {
    assert.ok(error instanceof OciError && error.kind === "invalid-content", `expected invalid content, got ${error}`);
    message = error.message;
    return true;
  });
  return message;
}

// Manifests oras itself pushed (REFERENCE §1): our bytes must hash the same.
const GOLDEN = [
  {
    content: "v1.3.8 linux/arm64 image\n",
    title: "arm64",
    created: "2025-06-05T04:26:57Z",
    digest: "sha256:6aa11331ce0c766d6333b60dac98d584d98eea45fa93bbfc9b5bdb915ce3a43f",
  },
  {
    content: "v1.3.8 linux/amd64 image\n",
    title: "amd64",
    created: "2025-06-05T04:26:28Z",
    digest: "sha256:ab01d6e284e843d51fb5e753904a540f507a62361a5fd7e434e4f27b285ca5c9",
  },
];

describe("encodeManifest and artifactManifest", () => {
  for (const vector of GOLDEN) {
    it(`write the very bytes oras push wrote for the ${vector.title} golden vector`, () => {
      const bytes = encodeManifest(artifactManifest([{ title: vector.title, bytes: encode(vector.content) }], { created: vector.created }));
      assert.equal(bytes.byteLength, 584);
      assert.equal(sha256Digest(bytes), vector.digest);
    });
  }

  const layer = fc.record({
    title: fc.string({ unit: "grapheme", minLength: 1 }),
    mediaType: fc.option(fc.constantFrom("application/json", "text/plain", "application/vnd.a<b>&c"), { nil: undefined }),
    bytes: fc.uint8Array({ maxLength: 64 }),
  }, { noNullPrototype: true });
  // Prefixed so that no key is an array index, which JavaScript objects would list first.
  const annotations = fc.dictionary(fc.string({ unit: "grapheme" }).map((key) => "k" + key), fc.string({ unit: "grapheme" }), {
    noNullPrototype: true,
  });

  it("write compact JSON with Go's escapes that parseManifest reads back unchanged, for any layers", () => {
    fc.assert(
      fc.property(fc.array(layer, { maxLength: 4 }), annotations, (layers, extra) => {
        const manifest = artifactManifest(layers, { annotations: extra });
        const bytes = encodeManifest(manifest);
        const text = new TextDecoder().decode(bytes);
        assert.doesNotMatch(text, /[<>&\u2028\u2029]/, "Go's encoder escapes these");
        assert.equal(text, goJson(JSON.parse(text)), "compact, no spaces or trailing newline");
        assert.deepEqual(parseManifest(bytes), manifest);
        assert.deepEqual(Object.keys(JSON.parse(text)), ["schemaVersion", "mediaType", "artifactType", "config", "layers", "annotations"]);
        assert.deepEqual(Object.keys(JSON.parse(text).annotations), Object.keys(manifest.annotations!).sort());
      }),
    );
  });
});

/** JSON.stringify with the escapes Go adds: the form encodeManifest must equal. */
const goJson = (value: unknown) =>
  JSON.stringify(value).replace(/[<>&\u2028\u2029]/g, (c) => "\\u" + c.charCodeAt(0).toString(16).padStart(4, "0"));

const CARD = encode('{"name":"plan-agent"}');
const CARD_DIGEST = sha256Digest(CARD);
const VALID: ImageManifest = artifactManifest([{ title: "plan_agent_card.json", mediaType: "application/json", bytes: CARD }], {
  artifactType: "application/a2a-agent-card+json",
  created: "2025-01-01T00:00:00Z",
});

describe("parseManifest", () => {
  it("reads the older oras 1.0 form, without artifactType and with the unknown config", () => {
    const older = {
      schemaVersion: 2,
      mediaType: MEDIA_TYPE.ociManifest,
      config: { mediaType: MEDIA_TYPE.unknownConfig, digest: EMPTY_CONFIG.digest, size: 2 },
      layers: VALID.layers,
    };
    assert.deepEqual(parseManifest(json(older)), older);
  });

  it("takes the media type from Content-Type when the manifest leaves it out", () => {
    const { mediaType: _, ...withoutType } = VALID;
    assert.deepEqual(parseManifest(json(withoutType), MEDIA_TYPE.dockerManifest), withoutType);
    assert.match(refusal(json(withoutType)), /^unexpected manifest media type null$/);
  });

  it("refuses an index, a list and the old oras artifact manifest by their media type", () => {
    for (const mediaType of [MEDIA_TYPE.ociIndex, MEDIA_TYPE.dockerManifestList, MEDIA_TYPE.orasArtifactManifest]) {
      assert.equal(refusal(json({ ...VALID, mediaType })), `unexpected manifest media type "${mediaType}"`);
    }
  });

  it("names the field that is wrong", () => {
    const layer = VALID.layers[0];
    const cases: [unknown, RegExp][] = [
      [{ ...VALID, schemaVersion: 1 }, /schemaVersion is not 2/],
      [{ ...VALID, config: "{}" }, /config is not an object/],
      [{ ...VALID, layers: {} }, /layers is not a list/],
      [{ ...VALID, layers: [{ ...layer, mediaType: "" }] }, /layers\[0\] has no mediaType/],
      [{ ...VALID, layers: [{ ...layer, digest: "md5:abc" }] }, /layers\[0\] has an invalid digest "md5:abc" \(only sha256 is supported\)/],
      [{ ...VALID, layers: [layer, { ...layer, size: -1 }] }, /layers\[1\] has an invalid size -1/],
      [{ ...VALID, layers: [{ ...layer, size: 2 ** 53 }] }, /layers\[0\] has an invalid size 9007199254740992/],
      [{ ...VALID, layers: [{ ...layer, annotations: { a: 1 } }] }, /layers\[0\] has annotations that are not a map of strings/],
      [{ ...VALID, subject: null }, /subject is not an object/],
      [[VALID], /not a JSON object/],
    ];
    for (const [value, expected] of cases) assert.match(refusal(json(value)), expected);
    assert.match(refusal(encode('{"schemaVersion":2,')), /^malformed manifest: not JSON/);
    assert.match(refusal(new Uint8Array([0x7b, 0xff, 0x7d])), /^malformed manifest: not JSON/);
  });

  it("either returns a manifest whose descriptors are sound or refuses with a content error, for any bytes", () => {
    const descriptor = fc.record({
      mediaType: fc.oneof(fc.constant("application/json"), fc.anything()),
      digest: fc.oneof(fc.constant(CARD_DIGEST), fc.string(), fc.anything()),
      size: fc.oneof(fc.nat(), fc.double(), fc.anything()),
      annotations: fc.oneof(fc.dictionary(fc.string(), fc.string()), fc.anything()),
    }, { requiredKeys: [] });
    const manifestLike = fc.record({
      schemaVersion: fc.oneof(fc.constant(2), fc.anything()),
      mediaType: fc.oneof(fc.constantFrom(MEDIA_TYPE.ociManifest, MEDIA_TYPE.dockerManifest), fc.anything()),
      config: fc.oneof(descriptor, fc.anything()),
      layers: fc.oneof(fc.array(descriptor, { maxLength: 3 }), fc.anything()),
      subject: descriptor,
    }, { requiredKeys: [] });
    const bytes = fc.oneof(
      fc.uint8Array({ maxLength: 200 }),
      fc.jsonValue().map(json),
      manifestLike.map((value) => encode(JSON.stringify(value) ?? "null")),
    );
    fc.assert(
      fc.property(bytes, fc.option(fc.constantFrom(MEDIA_TYPE.ociManifest, "text/plain"), { nil: undefined }), (input, contentType) => {
        let manifest: ImageManifest;
        try {
          manifest = parseManifest(input, contentType);
        } catch (error) {
          assert.ok(error instanceof OciError && error.kind === "invalid-content", `threw ${error}`);
          return;
        }
        for (const d of [manifest.config, ...manifest.layers]) {
          assert.match(d.digest, /^sha256:[a-f0-9]{64}$/);
          assert.ok(Number.isSafeInteger(d.size) && d.size >= 0);
          assert.ok(typeof d.mediaType === "string" && d.mediaType !== "");
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe("safeTarget (where a layer title may be written)", () => {
  const outDir = path.resolve("tmp/out");

  it("refuses titles that leave the output directory, with oras's words", () => {
    for (const title of ["../x", "/etc/passwd", "a/../../x", "..", ".", "", "a\\..\\..\\x"]) {
      assert.throws(() => safeTarget(outDir, title), (error: unknown) => {
        assert.ok(error instanceof OciError && error.kind === "invalid-content", title);
        assert.match(error.message, /^path traversal disallowed: the layer title /);
        return true;
      });
    }
  });

  it("never answers a path outside the output directory, for any title", () => {
    const segment = fc.oneof(fc.constantFrom("..", ".", "", "a", "x.json"), fc.string({ maxLength: 6 }));
    const title = fc.oneof(fc.string(), fc.array(segment, { maxLength: 6 }).map((parts) => parts.join("/")));
    fc.assert(
      fc.property(title, (name) => {
        let target: string;
        try {
          target = safeTarget(outDir, name);
        } catch (error) {
          assert.ok(error instanceof OciError && error.kind === "invalid-content");
          return;
        }
        assert.ok(target.startsWith(outDir + path.sep), `${JSON.stringify(name)} -> ${target}`);
      }),
    );
  });
});
