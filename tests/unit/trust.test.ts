// Signed agent cards (A2A 1.0 §8.4): the canonical form, signing and verifying, the trust store
// and its scopes, and VERIFY's policies. Keys are made fresh in a temporary directory.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import http from "node:http";
import type net from "node:net";
import os from "node:os";
import path from "node:path";
import { base64url, FlattenedSign, generateKeyPair } from "jose";
import { cardFileName, validateCardBytes } from "../../lib/cards.ts";
import { cardPayload, documentPayload } from "../../lib/trust/canonical.ts";
import { generateKeyFiles, readSigningKey, type SigningKey } from "../../lib/trust/keys.ts";
import { admits, type CardTrust, type Policy, signCard, signDocument, verifyCard, verifyDocument } from "../../lib/trust/signatures.ts";
import { parseScope, readTrustStore, type TrustStore, trustKeys } from "../../lib/trust/store.ts";
import { AGENTS, FIXTURE_CARDS, PROJECT_ROOT } from "../helpers.ts";

const CARDS_1_0 = path.join(PROJECT_ROOT, "fixtures/agent_cards_a2a_1.0");
const fixture = (dir: string, agent = "plan"): Record<string, unknown> => JSON.parse(readFileSync(path.join(dir, cardFileName(agent)), "utf8"));
const HERE = { registry: "localhost:5000", repository: "agents/plan" };

describe("the canonical form of a card", () => {
  // A2A 1.0 §8.4.1's own example: REQUIRED fields kept even when empty, `optional` ones kept when
  // set, a repeated field that is neither omitted while empty.
  const example = {
    name: "Example Agent",
    description: "",
    capabilities: { streaming: false, pushNotifications: false, extensions: [] },
    skills: [],
  };

  it("is the specification's worked example, byte for byte", async () => {
    assert.equal(
      (await cardPayload(example, "a2a-1.0")).payload,
      '{"capabilities":{"pushNotifications":false,"streaming":false},"description":"","name":"Example Agent","skills":[]}',
    );
  });

  it("differs there from plain RFC 8785 and from @a2a-js/sdk's form, which strips every empty value", async () => {
    assert.equal((await cardPayload(example, "jcs")).payload, '{"capabilities":{"extensions":[],"pushNotifications":false,"streaming":false},"description":"","name":"Example Agent","skills":[]}');
    assert.equal((await cardPayload(example, "a2a-js")).payload, '{"capabilities":{"pushNotifications":false,"streaming":false},"name":"Example Agent"}');
  });

  it("keeps what a2a.proto does not know, so the signature covers it; @a2a-js/sdk's form leaves it unsigned", async () => {
    const card = fixture(CARDS_1_0);
    assert.match((await cardPayload(card, "a2a-1.0")).payload, /"input_schema":/);
    const sdk = await cardPayload(card, "a2a-js");
    assert.doesNotMatch(sdk.payload, /input_schema/);
    assert.deepEqual(sdk.unsigned, ["/skills/0/input_schema", "/skills/0/output_schema"]);
  });

  it("omits defaults deep down: an empty security map, a tenant, an OAuth flow's refresh URL", async () => {
    const card = {
      ...fixture(CARDS_1_0),
      securitySchemes: { oauth: { oauth2SecurityScheme: { description: "", flows: { authorizationCode: { authorizationUrl: "https://a", tokenUrl: "https://t", refreshUrl: "", scopes: {} } } } } },
      securityRequirements: [],
      supportedInterfaces: [{ url: "http://localhost:8001", protocolBinding: "JSONRPC", protocolVersion: "1.0", tenant: "" }],
    };
    const { payload } = await cardPayload(card, "a2a-1.0");
    assert.match(payload, /"securitySchemes":\{"oauth":\{"oauth2SecurityScheme":\{"flows":\{"authorizationCode":\{"authorizationUrl":"https:\/\/a","scopes":\{\},"tokenUrl":"https:\/\/t"\}\}\}\}\}/);
    assert.doesNotMatch(payload, /securityRequirements|tenant|refreshUrl/);
  });
});

/** Fresh key files, and trust stores over them, in a temporary directory. */
function withKeys() {
  const dir = mkdtempSync(path.join(os.tmpdir(), "pallet-trust-"));
  const keys: Record<string, SigningKey & { jwks: string }> = {};
  before(async () => {
    for (const [name, alg] of [["es", "ES256"], ["ed", "EdDSA"], ["other", "ES256"]] as const) {
      const { jwksPath } = await generateKeyFiles(path.join(dir, `${name}.key.pem`), alg);
      keys[name] = { ...await readSigningKey(path.join(dir, `${name}.key.pem`)), jwks: jwksPath };
    }
  });
  after(() => rmSync(dir, { recursive: true, force: true }));
  let stores = 0;
  /** A trust store holding these keys, each for its scope. */
  const store = async (...entries: [keyof typeof keys, string][]): Promise<TrustStore> => {
    const file = path.join(dir, `trust-${stores++}.json`);
    for (const [name, scope] of entries) await trustKeys(file, keys[name].jwks, parseScope(scope));
    return await readTrustStore(file);
  };
  return { dir, keys, store };
}

const outcomes = (trust: CardTrust) => trust.signatures.map((check) => check.outcome);

describe("signing and verifying a card", () => {
  const { dir, keys, store } = withKeys();

  for (const name of ["es", "ed"]) {
    it(`${name === "es" ? "ES256" : "EdDSA"}: a detached JWS over the A2A 1.0 form, with alg, typ JOSE and kid, that a trusted key verifies`, async () => {
      const signed = await signCard(fixture(CARDS_1_0), keys[name]);
      const [entry] = signed.signatures as { protected: string; signature: string }[];
      assert.deepEqual(Object.keys(entry), ["protected", "signature"]);
      assert.deepEqual(JSON.parse(new TextDecoder().decode(base64url.decode(entry.protected))), { alg: keys[name].alg, typ: "JOSE", kid: keys[name].kid });
      const trust = await verifyCard(signed, await store([name, "localhost:5000"]), HERE);
      assert.equal(trust.status, "verified");
      assert.equal(trust.by?.variant, "a2a-1.0");
    });
  }

  it("keeps both fixture versions valid against their schemas once signed", async () => {
    for (const cards of [FIXTURE_CARDS, CARDS_1_0]) {
      for (const agent of AGENTS) {
        const signed = await signCard(fixture(cards, agent), keys.es);
        assert.deepEqual(validateCardBytes(new TextEncoder().encode(JSON.stringify(signed)), cardFileName(agent)).problems, [], `${cards} ${agent}`);
      }
    }
  });

  it("refuses a card changed after signing, under if-present and require; VERIFY=off lets it through", async () => {
    const signed = await signCard(fixture(CARDS_1_0), keys.es);
    const changed = { ...signed, supportedInterfaces: [{ url: "https://evil.example/steal", protocolBinding: "JSONRPC", protocolVersion: "1.0" }] };
    const trust = await verifyCard(changed, await store(["es", "localhost:5000"]), HERE);
    assert.equal(trust.status, "invalid");
    assert.match(trust.signatures[0].detail, /does not match the card: it was changed after key \S+ signed it/);
    assert.deepEqual((["off", "if-present", "require"] as Policy[]).map((policy) => admits(policy, trust)), [true, false, false]);
  });

  it("signs again only what changed: the same key's signature is kept while it covers the card, replaced when not", async () => {
    const signed = await signCard(fixture(CARDS_1_0), keys.es);
    assert.equal(await signCard(signed, keys.es), signed);
    const changed = await signCard({ ...signed, version: "1.0.1" }, keys.es);
    assert.equal((changed.signatures as unknown[]).length, 1);
    assert.equal((await verifyCard(changed, await store(["es", "localhost:5000"]), HERE)).status, "verified");
  });

  it("rotates keys: with two signatures, either key alone verifies the card", async () => {
    const both = await signCard(await signCard(fixture(CARDS_1_0), keys.es), keys.ed);
    assert.equal((both.signatures as unknown[]).length, 2);
    const onlyNew = await verifyCard(both, await store(["ed", "localhost:5000"]), HERE);
    assert.deepEqual([onlyNew.status, outcomes(onlyNew)], ["verified", ["unknown-key", "verified"]]);
    assert.equal((await verifyCard(both, await store(["es", "localhost:5000"]), HERE)).status, "verified");
    const neither = await verifyCard(both, await store(["other", "localhost:5000"]), HERE);
    assert.deepEqual([neither.status, outcomes(neither)], ["untrusted", ["unknown-key", "unknown-key"]]);
    assert.deepEqual((["off", "if-present", "require"] as Policy[]).map((policy) => admits(policy, neither)), [true, true, false]);
  });

  it("lets kid pick only among trusted keys: another key's signature under a trusted kid does not verify", async () => {
    const forged = await signCard(fixture(CARDS_1_0), { ...keys.other, kid: keys.es.kid });
    const trust = await verifyCard(forged, await store(["es", "localhost:5000"]), HERE);
    assert.deepEqual([trust.status, outcomes(trust)], ["invalid", ["invalid"]]);
  });

  it("never fetches jku: a signature whose key is only there is from an unknown key", async () => {
    let requests = 0;
    const server = http.createServer((_, response) => {
      requests++;
      response.end(readFileSync(keys.other.jwks));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const jku = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}/jwks.json`;
    try {
      const { payload } = await cardPayload(fixture(CARDS_1_0), "a2a-1.0");
      const jws = await new FlattenedSign(new TextEncoder().encode(payload)).setProtectedHeader({ alg: "ES256", typ: "JOSE", kid: keys.other.kid, jku }).sign(keys.other.key);
      const card = { ...fixture(CARDS_1_0), signatures: [{ protected: jws.protected, signature: jws.signature }] };
      const trust = await verifyCard(card, await store(["es", "localhost:5000"]), HERE);
      assert.deepEqual([trust.status, outcomes(trust)], ["untrusted", ["unknown-key"]]);
      assert.match(trust.signatures[0].detail, new RegExp(`the card points at ${jku}; keys are never fetched from there`));
      assert.equal(requests, 0);
    } finally {
      server.close();
    }
  });

  it("refuses alg none and HMAC, and a signature without kid", async () => {
    const card = fixture(CARDS_1_0);
    const { payload } = await cardPayload(card, "a2a-1.0");
    const header = (fields: object) => base64url.encode(JSON.stringify(fields));
    const hmac = await new FlattenedSign(new TextEncoder().encode(payload)).setProtectedHeader({ alg: "HS256", typ: "JOSE", kid: keys.es.kid }).sign(new Uint8Array(32));
    const unnamed = await new FlattenedSign(new TextEncoder().encode(payload)).setProtectedHeader({ alg: "ES256", typ: "JOSE" }).sign(keys.es.key);
    const signatures = [
      { protected: header({ alg: "none", typ: "JOSE", kid: keys.es.kid }), signature: "" },
      { protected: hmac.protected, signature: hmac.signature },
      { protected: unnamed.protected, signature: unnamed.signature },
      { protected: "not base64url json", signature: "x" },
    ];
    const trust = await verifyCard({ ...card, signatures }, await store(["es", "localhost:5000"]), HERE);
    assert.equal(trust.status, "invalid");
    assert.deepEqual(trust.signatures.map((check) => check.detail.replace(/ \(.*/, "")), [
      'alg "none" is refused: it signs nothing',
      'alg "HS256" is refused: only public-key signatures',
      "no kid in its protected header",
      "malformed: its protected header is not base64url JSON",
    ]);
  });

  it("reads the specification's example signature (§8.4.2) and names its key, which no store here holds", async () => {
    const example = {
      protected: "eyJhbGciOiJFUzI1NiIsInR5cCI6IkpPU0UiLCJraWQiOiJrZXktMSIsImprdSI6Imh0dHBzOi8vZXhhbXBsZS5jb20vYWdlbnQvandrcy5qc29uIn0",
      signature: "QFdkNLNszlGj3z3u0YQGt_T9LixY3qtdQpZmsTdDHDe3fXV9y9-B3m2-XgCpzuhiLt8E0tV6HXoZKHv4GtHgKQ",
    };
    const trust = await verifyCard({ ...fixture(CARDS_1_0), signatures: [example] }, await store(["es", "localhost:5000"]), HERE);
    assert.deepEqual(trust.signatures.map(({ kid, alg, jku, outcome }) => ({ kid, alg, jku, outcome })), [
      { kid: "key-1", alg: "ES256", jku: "https://example.com/agent/jwks.json", outcome: "unknown-key" },
    ]);
  });

  it("judges an unsigned card by the policy: if-present takes it, require does not", async () => {
    const trust = await verifyCard(fixture(CARDS_1_0), await store(["es", "localhost:5000"]), HERE);
    assert.equal(trust.status, "unsigned");
    assert.deepEqual((["off", "if-present", "require"] as Policy[]).map((policy) => admits(policy, trust)), [true, true, false]);
  });

  it("signs other documents (a verification record, an index) over RFC 8785 of them without signatures", async () => {
    const record = { subject: { digest: "sha256:" + "a".repeat(64) }, checks: [{ name: "byte-identical", ok: true }], result: "passed" };
    const signed = await signDocument(record, keys.es);
    assert.equal(documentPayload(signed), documentPayload(record));
    assert.equal((await verifyDocument(signed, await store(["es", "localhost:5000"]), HERE)).status, "verified");
    assert.equal((await verifyDocument({ ...signed, checks: [] }, await store(["es", "localhost:5000"]), HERE)).status, "invalid");
  });

  it("keygen writes the private key for its owner alone, and never over an existing file", async () => {
    assert.equal(statSync(path.join(dir, "es.key.pem")).mode & 0o777, 0o600);
    await assert.rejects(generateKeyFiles(path.join(dir, "es.key.pem"), "ES256"), /exists already; a key is never overwritten/);
  });
});

describe("the trust store", () => {
  const { dir, keys, store } = withKeys();

  it("trusts a key only in its scope: a registry, a repository prefix, a provider's origin", async () => {
    const signed = await signCard(fixture(CARDS_1_0), keys.es);
    const status = async (scope: string, where: { registry?: string; repository?: string }) => (await verifyCard(signed, await store(["es", scope]), where)).status;
    assert.equal(await status("localhost:5000", HERE), "verified");
    assert.equal(await status("localhost:5001", HERE), "untrusted");
    assert.equal(await status("localhost:5000/agents", HERE), "verified");
    assert.equal(await status("localhost:5000/agents/", HERE), "verified");
    assert.equal(await status("localhost:5000/agent", HERE), "untrusted");
    assert.equal(await status("localhost:5000/agents/plan", { registry: "localhost:5000", repository: "agents/planner" }), "untrusted");
    // The fixture's provider is https://pallet.dev: that origin, wherever the card was found.
    assert.equal(await status("https://pallet.dev", {}), "verified");
    assert.equal(await status("https://evil.example", HERE), "untrusted");
  });

  it("says a key trusted elsewhere is trusted elsewhere", async () => {
    const trust = await verifyCard(await signCard(fixture(CARDS_1_0), keys.es), await store(["es", "localhost:5001"]), HERE);
    assert.match(trust.signatures[0].detail, /is trusted only for localhost:5001/);
  });

  it("refuses scopes that are none of the three, and JWKS files with private or secret keys", async () => {
    for (const scope of ["http://pallet.dev", "https://pallet.dev/cards", "not a registry", "localhost:5000/Agents"]) {
      assert.throws(() => parseScope(scope), /scope/, scope);
    }
    const secret = path.join(dir, "secret.jwks.json");
    writeFileSync(secret, JSON.stringify({ keys: [{ kty: "oct", k: "c2VjcmV0", kid: "s" }] }));
    const file = path.join(dir, "secret-trust.json");
    await trustKeys(file, secret, parseScope("localhost:5000"));
    await assert.rejects(readTrustStore(file), /holds a private or secret key \(kid s\); a trust store holds public keys only/);
  });

  it("is empty where its file does not exist: nothing is trusted", async () => {
    assert.deepEqual((await readTrustStore(path.join(dir, "none.json"))).keys, []);
  });

  it("accepts keys made elsewhere: a JWKS entry without kid is named by its thumbprint", async () => {
    const { publicKey } = await generateKeyPair("ES256", { extractable: true });
    const { exportJWK, calculateJwkThumbprint } = await import("jose");
    const jwk = await exportJWK(publicKey);
    const file = path.join(dir, "elsewhere.jwks.json");
    writeFileSync(file, JSON.stringify({ keys: [jwk] }));
    const trust = path.join(dir, "elsewhere-trust.json");
    await trustKeys(trust, file, parseScope("https://pallet.dev"));
    assert.deepEqual((await readTrustStore(trust)).keys.map((key) => key.kid), [await calculateJwkThumbprint(jwk)]);
  });
});
