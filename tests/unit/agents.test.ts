// The parts of Phase 5 that need no registry and no agent process: what the test agent reads from
// a TAP report, the permissions an agent gets, what counts as an agent package, the trust check of
// an unpacked one (its digests, and its card's signature under VERIFY), and the lock that keeps two commands from changing one agent at once.
import { before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { tapResults } from "../../agents/tap.ts";
import { MANIFEST_FILE, NEEDS_ANNOTATION, PACKAGE_LAYERS, PACKAGE_TYPE, packageClaim, packageLayers, RUNS_TESTS } from "../../lib/agents/package.ts";
import { permissions } from "../../lib/agents/process.ts";
import { AgentRuns } from "../../lib/agents/runs.ts";
import { checkTrust, type SignaturePolicy, UntrustedPackage } from "../../lib/agents/trust.ts";
import { ContentError, EnvironmentError } from "../../lib/errors.ts";
import { sha256Digest } from "../../lib/oci/digest.ts";
import { artifactManifest, encodeManifest } from "../../lib/oci/manifest.ts";
import { generateKeyFiles, readSigningKey } from "../../lib/trust/keys.ts";
import { type Policy, signCard } from "../../lib/trust/signatures.ts";
import { parseScope, readTrustStore, type TrustStore, trustKeys } from "../../lib/trust/store.ts";
import { fixtureCard } from "../helpers.ts";

/** A package's two files and its manifest, unpacked in a new directory as make run leaves them. */
function unpacked(parent: string, module = "export {};\n", card: Uint8Array = fixtureCard("plan")) {
  const layers = [
    { ...PACKAGE_LAYERS.card, bytes: card },
    { ...PACKAGE_LAYERS.module, bytes: new TextEncoder().encode(module) },
  ];
  const manifest = encodeManifest(artifactManifest(layers, { artifactType: PACKAGE_TYPE, annotations: { [NEEDS_ANNOTATION]: RUNS_TESTS } }));
  const dir = mkdtempSync(path.join(parent, "package-"));
  for (const layer of layers) writeFileSync(path.join(dir, layer.title), layer.bytes);
  writeFileSync(path.join(dir, MANIFEST_FILE), manifest);
  return { dir, digest: sha256Digest(manifest) };
}

describe("the test agent's TAP reading", () => {
  it("counts tests, not suites, names failures by their suites, and takes the first line of each message", () => {
    const tap = [
      "TAP version 14",
      "# ./src/a.test.ts",
      "ok 1 - top",
      "not ok 2 - top bad",
      "  ---",
      '  {"message":"AssertionError: 1 !== 2\\n\\nmore","severity":"fail"}',
      "  ...",
      "ok 3 - skipped one # SKIP",
      "# Subtest: suite",
      "    ok 1 - inner",
      "    not ok 2 - inner bad",
      "      ---",
      '      {"message":"Expected values to be strictly equal","severity":"fail"}',
      "      ...",
      "    1..2",
      "not ok 4 - suite",
      "  ---",
      '  {"message":"1 test step failed.","severity":"fail"}',
      "  ...",
      "1..4",
    ].join("\n");
    assert.deepEqual(tapResults(tap), {
      passed: 2,
      failed: 2,
      skipped: 1,
      failures: [
        { test: "top bad", message: "AssertionError: 1 !== 2" },
        { test: "suite > inner bad", message: "Expected values to be strictly equal" },
      ],
    });
  });
});

describe("an agent's permissions", () => {
  const base = { port: 18001, dir: "/runs/plan/abc", workspace: "/runs/workspace", deno: "/bin/deno" };

  it("are its own port and its own files, nothing else", () => {
    assert.deepEqual(permissions({ ...base, needs: [] }), {
      flags: ["--allow-net=127.0.0.1:18001", "--allow-read=/runs/plan/abc"],
      may: "listen on 127.0.0.1:18001; read its package",
    });
  });

  it("add reading the workspace and running deno for a package that runs tests", () => {
    assert.deepEqual(permissions({ ...base, needs: [RUNS_TESTS] }).flags, [
      "--allow-net=127.0.0.1:18001",
      "--allow-read=/runs/plan/abc,/runs/workspace",
      "--allow-run=/bin/deno",
    ]);
  });
});

describe("an agent package", () => {
  const layers = [{ ...PACKAGE_LAYERS.card, bytes: fixtureCard("plan") }, { ...PACKAGE_LAYERS.module, bytes: new Uint8Array([1]) }];

  it("is the package type with the card, then the module", () => {
    const manifest = artifactManifest(layers, { artifactType: PACKAGE_TYPE });
    assert.deepEqual(packageLayers("p", manifest), { card: manifest.layers[0], module: manifest.layers[1] });
  });

  it("is not a card, nor the right layers under another type, nor its layers in another order", () => {
    for (const manifest of [
      artifactManifest([{ title: "plan_agent_card.json", mediaType: "application/json", bytes: fixtureCard("plan") }], { artifactType: "application/a2a-agent-card+json" }),
      artifactManifest(layers, { artifactType: "application/vnd.example" }),
      artifactManifest([...layers].reverse(), { artifactType: PACKAGE_TYPE }),
    ]) {
      assert.throws(() => packageLayers("localhost:5000/agents/plan:v1", manifest), (error) => error instanceof ContentError && /is not an agent package/.test(error.message));
    }
  });
});

describe("the trust check of an unpacked package", () => {
  const parent = mkdtempSync(path.join(os.tmpdir(), "pallet-trust-"));
  process.on("exit", () => rmSync(parent, { recursive: true, force: true }));
  const where = { registry: "localhost:5000", repository: "agents/plan/package" };
  const unchecked: SignaturePolicy = { verify: "off", store: { path: "none", keys: [] }, where };
  let store: TrustStore;
  let signed: Uint8Array;
  before(async () => {
    const keyPath = path.join(parent, "publisher.key.pem");
    const { jwksPath } = await generateKeyFiles(keyPath, "ES256");
    await trustKeys(path.join(parent, "trust.json"), jwksPath, parseScope("localhost:5000"));
    store = await readTrustStore(path.join(parent, "trust.json"));
    // Signed as make packages signs: for the package's code and what it needs.
    const claims = packageClaim(sha256Digest(new TextEncoder().encode("export {};\n")), [RUNS_TESTS]);
    const card = await signCard(JSON.parse(fixtureCard("plan").toString()), await readSigningKey(keyPath), claims);
    signed = new TextEncoder().encode(JSON.stringify(card, null, 2) + "\n");
  });
  /** checkTrust under `verify`, with the trust store `trusting` (the key that signed, by default); the status, or the refusal's. */
  const outcome = async (card: Uint8Array, verify: Policy, trusting = store, found = where, module = "export {};\n") => {
    const { dir, digest } = unpacked(parent, module, card);
    try {
      return (await checkTrust(dir, digest, { verify, store: trusting, where: found })).signature?.status ?? "not checked";
    } catch (error) {
      assert.ok(error instanceof UntrustedPackage && /; refusing to start it \(VERIFY=/.test(error.message), String(error));
      return `refused: ${error.signature.status}`;
    }
  };

  it("passes what the digest names, and hands back its manifest and card", async () => {
    const { dir, digest } = unpacked(parent);
    const trusted = await checkTrust(dir, digest, unchecked);
    assert.equal(trusted.manifest.annotations?.[NEEDS_ANNOTATION], RUNS_TESTS);
    assert.ok(Buffer.from(trusted.card).equals(fixtureCard("plan")));
  });

  it("refuses a changed module, a missing card, and a manifest that is not the digest's", async () => {
    const refused = (pattern: RegExp) => (error: unknown) => error instanceof ContentError && pattern.test(error.message) && /refusing to start it/.test(error.message);
    const changed = unpacked(parent);
    writeFileSync(path.join(changed.dir, "agent.js"), "export {}; // and more\n");
    await assert.rejects(checkTrust(changed.dir, changed.digest, unchecked), refused(/: agent\.js is not sha256:/));
    const missing = unpacked(parent);
    rmSync(path.join(missing.dir, "agent-card.json"));
    await assert.rejects(checkTrust(missing.dir, missing.digest, unchecked), refused(/agent-card.json/));
    const other = unpacked(parent);
    await assert.rejects(checkTrust(other.dir, unpacked(parent, "export const x = 1;\n").digest, unchecked), refused(/: no manifest there hashes to sha256:/));
  });

  it("checks its card's signature: require takes a card a trusted key signed for this code, and nothing else", async () => {
    const empty = { path: "empty.json", keys: [] };
    const tampered = new TextEncoder().encode(new TextDecoder().decode(signed).replace("http://localhost:8001", "http://localhost:8666"));
    assert.deepEqual(
      {
        signed: await outcome(signed, "require"),
        unsigned: await outcome(fixtureCard("plan"), "require"),
        untrusted: await outcome(signed, "require", empty),
        elsewhere: await outcome(signed, "require", store, { registry: "localhost:5999", repository: where.repository }),
        tampered: await outcome(tampered, "require"),
        otherCode: await outcome(signed, "require", store, where, "export const evil = 1;\n"),
      },
      { signed: "verified", unsigned: "refused: unsigned", untrusted: "refused: untrusted", elsewhere: "refused: untrusted", tampered: "refused: invalid", otherCode: "refused: invalid" },
    );
  });

  it("lets if-present run unsigned and untrusted code, never a card a signature proves changed; off checks nothing", async () => {
    const tampered = new TextEncoder().encode(new TextDecoder().decode(signed).replace("Creates", "Crafts"));
    assert.notDeepEqual(tampered, signed);
    assert.deepEqual(
      [await outcome(fixtureCard("plan"), "if-present"), await outcome(signed, "if-present", { path: "empty.json", keys: [] }), await outcome(tampered, "if-present"), await outcome(tampered, "off")],
      ["unsigned", "untrusted", "refused: invalid", "not checked"],
    );
  });
});

describe("an agent's lock", () => {
  const root = mkdtempSync(path.join(os.tmpdir(), "pallet-runs-"));
  process.on("exit", () => rmSync(root, { recursive: true, force: true }));
  const runs = new AgentRuns(root);

  it("lets one command at a time change an agent: the second waits for the first", async () => {
    const order: string[] = [];
    const work = (name: string) => runs.withLock("plan", async () => {
      order.push(`${name} in`);
      await sleep(100);
      order.push(`${name} out`);
    });
    await Promise.all([work("one"), work("other")]);
    // Whichever took the lock first was out before the other came in.
    const first = order[0].split(" ")[0];
    const second = first === "one" ? "other" : "one";
    assert.deepEqual(order, [`${first} in`, `${first} out`, `${second} in`, `${second} out`]);
  });

  it("is taken over from a holder that died, and refused while a live one holds it", async () => {
    mkdirSync(runs.dir("build"), { recursive: true });
    writeFileSync(path.join(runs.dir("build"), "lock"), "999999999");
    assert.equal(await runs.withLock("build", async () => "taken"), "taken");
    mkdirSync(runs.dir("test"), { recursive: true });
    writeFileSync(path.join(runs.dir("test"), "lock"), String(process.pid));
    // A live holder that never lets go: the wait ends in a refusal that names it.
    await assert.rejects(new AgentRuns(root, 200).withLock("test", async () => "never"), (error) => error instanceof EnvironmentError && error.message.includes(`pid ${process.pid}`));
  });
});
