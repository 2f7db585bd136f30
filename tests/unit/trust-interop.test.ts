// Interoperability with the official A2A JS SDK (@a2a-js/sdk 1.3.0), both ways. The SDK signs and
// verifies its own canonical form: the card through its protobuf types (fields a2a.proto lacks are
// dropped), then every empty value removed, REQUIRED ones too. The specification keeps both. Where
// the two forms are the same bytes, each side verifies the other; where they differ, the SDK cannot
// verify ours, and we verify its signature and say it was made in its form.
import { before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { type AgentCard, generateAgentCardSignature, verifyAgentCardSignature } from "@a2a-js/sdk";
import { exportJWK, FlattenedSign, generateKeyPair, type JWK } from "jose";
import { cardPayload } from "../../lib/trust/canonical.ts";
import type { SigningKey } from "../../lib/trust/keys.ts";
import { admits, signCard, verifyCard } from "../../lib/trust/signatures.ts";
import type { TrustStore } from "../../lib/trust/store.ts";
import { PROJECT_ROOT } from "../helpers.ts";

const HERE = { registry: "localhost:5000", repository: "agents/plan" };
const fixture = (): Record<string, unknown> =>
  JSON.parse(readFileSync(path.join(PROJECT_ROOT, "fixtures/agent_cards_a2a_1.0/plan_agent_card.json"), "utf8"));

/** The plan card without what a2a.proto lacks (its skills' input and output schemas): all of it is in both forms. */
function protoCard(): Record<string, unknown> {
  const card = fixture();
  card.skills = (card.skills as Record<string, unknown>[]).map(({ input_schema: _, output_schema: __, ...skill }) => skill);
  return card;
}

/** The SDK's verifier answers by throwing, after logging each failed entry with console.debug: kept quiet here. */
async function sdkVerifies(card: Record<string, unknown>, jwk: JWK): Promise<boolean> {
  const debug = console.debug;
  console.debug = () => {};
  try {
    return await verifyAgentCardSignature(() => Promise.resolve(jwk))(card as unknown as AgentCard).then(() => true, () => false);
  } finally {
    console.debug = debug;
  }
}

describe("@a2a-js/sdk 1.3.0 and our signatures", () => {
  let signer: SigningKey;
  let store: TrustStore;
  let sdkSign: (card: Record<string, unknown>) => Promise<Record<string, unknown>>;

  before(async () => {
    const { privateKey, publicKey } = await generateKeyPair("ES256", { extractable: true });
    const publicJwk = { ...await exportJWK(publicKey), kid: "workshop-key", alg: "ES256" };
    signer = { alg: "ES256", kid: "workshop-key", key: privateKey, publicJwk };
    store = { path: "the test's store", keys: [{ kid: "workshop-key", jwk: publicJwk, scope: { registry: "localhost:5000" }, source: "the test" }] };
    const sign = generateAgentCardSignature(privateKey, { alg: "ES256", kid: "workshop-key", typ: "JOSE" });
    sdkSign = async (card) => await sign(card as unknown as AgentCard) as unknown as Record<string, unknown>;
  });

  it("the SDK verifies our signature on a card its protobuf types describe whole", async () => {
    assert.ok(await sdkVerifies(await signCard(protoCard(), signer), signer.publicJwk));
  });

  it("we verify the SDK's signature on that card: its form and the specification's are the same bytes there", async () => {
    const trust = await verifyCard(await sdkSign(protoCard()), store, HERE);
    assert.equal(trust.status, "verified");
    assert.equal(trust.by?.variant, "a2a-1.0");
  });

  it("on our fixture, whose skills carry input_schema, the SDK signs without it: we name its form and the fields left open, and do not count it", async () => {
    const trust = await verifyCard(await sdkSign(fixture()), store, HERE);
    assert.equal(trust.status, "untrusted");
    assert.deepEqual(trust.signatures.map(({ outcome, variant, unsigned }) => ({ outcome, variant, unsigned })), [
      { outcome: "partial", variant: "a2a-js", unsigned: ["/skills/0/input_schema", "/skills/0/output_schema"] },
    ]);
    assert.match(trust.signatures[0].detail, /@a2a-js\/sdk's form .*, but that form leaves \/skills\/0\/input_schema, \/skills\/0\/output_schema unsigned/);
    assert.deepEqual([admits("if-present", trust), admits("require", trust)], [true, false]);
    // And the SDK, which leaves them out of what it checks, cannot verify our signature, which covers them.
    assert.equal(await sdkVerifies(await signCard(fixture(), signer), signer.publicJwk), false);
  });

  it("where a REQUIRED field is empty, the SDK drops it and the specification keeps it: we verify the SDK's signature and say so", async () => {
    const card = protoCard();
    (card.skills as Record<string, unknown>[])[0].tags = [];
    const trust = await verifyCard(await sdkSign(card), store, HERE);
    assert.equal(trust.status, "verified");
    assert.equal(trust.by?.variant, "a2a-js");
    assert.match(trust.by!.detail, /signed by workshop-key \(ES256, @a2a-js\/sdk's form/);
    assert.equal(await sdkVerifies(await signCard(card, signer), signer.publicJwk), false);
  });

  it("a signature over plain RFC 8785, empty lists kept, is recognised as that form", async () => {
    const card = { ...protoCard(), securityRequirements: [] };
    const { payload } = await cardPayload(card, "jcs");
    const jws = await new FlattenedSign(new TextEncoder().encode(payload)).setProtectedHeader({ alg: "ES256", typ: "JOSE", kid: "workshop-key" }).sign(signer.key);
    const trust = await verifyCard({ ...card, signatures: [{ protected: jws.protected, signature: jws.signature }] }, store, HERE);
    assert.equal(trust.by?.variant, "jcs");
  });
});
