// Signed cards through the steps, against a real registry: make keygen, sign, push and publish
// with KEY, and VERIFY applied by pull, verify and publish. A card changed after it was signed
// (pushed again by someone with push rights, its signatures kept) is refused and removed.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { cpSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { step as keygen } from "../../scripts/keygen.ts";
import { step as publish } from "../../scripts/publish.ts";
import { step as pull } from "../../scripts/pull.ts";
import { step as push } from "../../scripts/push.ts";
import { step as sign } from "../../scripts/sign.ts";
import { step as verify } from "../../scripts/verify.ts";
import { Registry } from "../../lib/oci/registry.ts";
import { inProcess, PROJECT_ROOT, withRegistry } from "../helpers.ts";

const CARDS_1_0 = path.join(PROJECT_ROOT, "fixtures/agent_cards_a2a_1.0");

describe("signed cards through the steps", () => {
  const bench = withRegistry();
  const at = (...parts: string[]) => path.join(bench.work, ...parts);
  const registry = () => ["--registry", bench.registry.address];
  const trusted = () => [...registry(), "--trust", at("keys/trust.json")];
  const kid = () => JSON.parse(readFileSync(at("keys/publisher.jwks.json"), "utf8")).keys[0].kid;

  it("keygen makes a key pair and trusts it for REGISTRY; push with KEY signs the cards in their files", async () => {
    const made = await inProcess(keygen, [...trusted(), "--key", at("keys/publisher.key.pem")]);
    assert.equal(made.code, 0, made.stderr);
    assert.match(made.stdout, new RegExp(`keys/trust.json now trusts it for ${bench.registry.address}`));
    cpSync(CARDS_1_0, at("cards"), { recursive: true });
    const pushed = await inProcess(push, [...registry(), "--cards", at("cards"), "--key", at("keys/publisher.key.pem")]);
    assert.equal(pushed.code, 0, pushed.stderr);
    assert.match(pushed.stdout, /✓ signed \S+plan_agent_card.json with \S+ \(ES256\); it carries 1 signature\(s\)/);
    assert.equal(JSON.parse(readFileSync(at("cards/plan_agent_card.json"), "utf8")).signatures.length, 1);
  });

  it("push with KEY refuses to sign the project's fixture cards in their files, and sends nothing", async () => {
    const fixture = path.join(PROJECT_ROOT, "fixtures/agent_cards/plan_agent_card.json");
    const before = readFileSync(fixture);
    const refused = await inProcess(push, [...registry(), "--agents", "plan", "--tag", "fixtures", "--key", at("keys/publisher.key.pem")]);
    assert.equal(refused.code, 2, refused.stdout);
    assert.match(refused.stderr, /plan_agent_card\.json is one of the project's fixture cards, and KEY signs a card in its file; nothing was signed or sent\n {2}Sign copies: mkdir -p tmp\/agent_cards && cp \S*fixtures\/agent_cards\/\*\.json tmp\/agent_cards\//);
    assert.deepEqual(readFileSync(fixture), before);
    assert.equal((await new Registry(bench.registry.address).repository("agents/plan").resolve("fixtures").catch(() => undefined)), undefined, "nothing pushed");
  });

  it("keygen run again keeps the key it made and trusts it for another registry too; refuses another ALG for it", async () => {
    const key = readFileSync(at("keys/publisher.key.pem"));
    const again = await inProcess(keygen, ["--registry", "localhost:5001", "--trust", at("keys/trust.json"), "--key", at("keys/publisher.key.pem")]);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /publisher\.key\.pem \(ES256\) made before: kept as it is/);
    assert.match(again.stdout, /keys\/trust\.json now trusts it for localhost:5001/);
    assert.deepEqual(readFileSync(at("keys/publisher.key.pem")), key);
    assert.deepEqual(JSON.parse(readFileSync(at("keys/trust.json"), "utf8")).keys.map((entry: { for: string }) => entry.for), [bench.registry.address, "localhost:5001"]);
    const other = await inProcess(keygen, [...trusted(), "--key", at("keys/publisher.key.pem"), "--alg", "EdDSA"]);
    assert.equal(other.code, 2, other.stdout);
    assert.match(other.stderr, /holds an ES256 key already, not EdDSA; a key is never overwritten/);
    assert.deepEqual(readFileSync(at("keys/publisher.key.pem")), key);
  });

  it("pull under VERIFY=require keeps the cards a trusted key signed, and says who signed them", async () => {
    const pulled = await inProcess(pull, [...trusted(), "--verify", "require", "--out", at("pulled")]);
    assert.equal(pulled.code, 0, pulled.stderr);
    assert.match(pulled.stdout, new RegExp(`✓ \\S+/agents/plan:v1: signed by ${kid()} \\(ES256, the A2A 1.0 form \\(§8.4.1\\)\\), trusted for ${bench.registry.address}`));
  });

  it("a signed card pushed again with one field changed is refused by pull and verify, and removed", async () => {
    const card = JSON.parse(readFileSync(at("cards/plan_agent_card.json"), "utf8"));
    card.supportedInterfaces[0].url = "https://evil.example/steal";
    cpSync(at("cards"), at("forged"), { recursive: true });
    writeFileSync(at("forged/plan_agent_card.json"), JSON.stringify(card, null, 2) + "\n");
    const pushed = await inProcess(push, [...registry(), "--cards", at("forged"), "--agents", "plan"]);
    assert.equal(pushed.code, 0, pushed.stderr);

    for (const policy of ["require", "if-present"]) {
      const pulled = await inProcess(pull, [...trusted(), "--verify", policy, "--agents", "plan", "--out", at("pulled")]);
      assert.equal(pulled.code, 1, policy);
      assert.match(pulled.stderr, new RegExp(`✗ \\S+/agents/plan:v1: its signature does not count: does not match the card: it was changed after key ${kid()} signed it, or the signature is forged; refused \\(VERIFY=${policy}\\)`));
      assert.match(pulled.stderr, /Its signature proves it was changed after it was signed/);
      assert.match(pulled.stdout, /removed \S+plan_agent_card.json/);
      assert.ok(!existsSync(at("pulled/plan_agent_card.json")));
    }
    const verified = await inProcess(verify, [...trusted(), "--verify", "require", "--agents", "plan", "--cards", at("forged"), "--out", at("verified")]);
    assert.equal(verified.code, 1);
    assert.match(verified.stdout, /✗ plan agent: signature: its signature does not count: does not match the card/);
    assert.doesNotMatch(verified.stdout, /oras attach/);
    assert.equal((await inProcess(pull, [...trusted(), "--verify", "off", "--agents", "plan", "--out", at("pulled")])).code, 0);
  });

  it("VERIFY=require refuses an unsigned card and says how to sign it", async () => {
    const pushed = await inProcess(push, [...registry(), "--cards", CARDS_1_0, "--agents", "test", "--tag", "unsigned"]);
    assert.equal(pushed.code, 0, pushed.stderr);
    const pulled = await inProcess(pull, [...trusted(), "--verify", "require", "--agents", "test", "--tag", "unsigned", "--out", at("pulled")]);
    assert.equal(pulled.code, 1);
    assert.match(pulled.stderr, /agents\/test:unsigned: not signed; refused \(VERIFY=require\)\n.*make sign CARD=… KEY=…/);
  });

  it("publish names a card signed by a key the trust store does not hold: a warning under if-present, a refusal under require", async () => {
    const stranger = await inProcess(keygen, [...registry(), "--trust", at("stranger/trust.json"), "--key", at("stranger/stranger.key.pem")]);
    assert.equal(stranger.code, 0, stranger.stderr);
    const strangerKid = JSON.parse(readFileSync(at("stranger/stranger.jwks.json"), "utf8")).keys[0].kid;
    cpSync(CARDS_1_0, at("stranger-cards"), { recursive: true });
    const file = at("stranger-cards/build_agent_card.json");
    const signed = await inProcess(sign, ["--card", file, "--key", at("stranger/stranger.key.pem")]);
    assert.equal(signed.code, 0, signed.stderr);

    const refused = await inProcess(publish, [...trusted(), "--verify", "require", "--card", file, "--tag", "v2"]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, new RegExp(`✗ ${file}: its signature does not count: key ${strangerKid} is not in the trust store \\S+trust.json; refused \\(VERIFY=require\\)`));
    assert.match(refused.stderr, /To trust its publisher, get their public key \(a JWKS file\) from them directly/);

    const warned = await inProcess(publish, [...trusted(), "--verify", "if-present", "--card", file, "--tag", "v2"]);
    assert.equal(warned.code, 0, warned.stderr);
    assert.match(warned.stderr, new RegExp(`! ${file}: its signature does not count: key ${strangerKid} is not in the trust store .*; accepted unchecked \\(VERIFY=if-present\\)`));
  });

  it("publish with KEY signs once: publishing the same card again changes nothing", async () => {
    const file = at("cards/test_agent_card.json");
    const args = [...trusted(), "--verify", "require", "--card", file, "--tag", "v3", "--key", at("keys/publisher.key.pem")];
    const first = await inProcess(publish, args);
    assert.equal(first.code, 0, first.stderr);
    const again = await inProcess(publish, args);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /is signed by \S+ already[\s\S]*already holds this card/);
  });
});
