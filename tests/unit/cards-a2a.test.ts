// A2A 1.0 cards next to 0.3 cards: each is validated against its own version's schema, told
// apart by its shape, and a card that is neither (or both) is refused naming both shapes.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { cardFileName, cardProtocol, loadCards, validateCardBytes } from "../../lib/cards.ts";
import { AGENTS, FIXTURE_CARDS, PROJECT_ROOT } from "../helpers.ts";

const CARDS_1_0 = path.join(PROJECT_ROOT, "fixtures/agent_cards_a2a_1.0");

const read = (dir: string, agent: string): Record<string, unknown> =>
  JSON.parse(fs.readFileSync(path.join(dir, cardFileName(agent)), "utf8"));
const card10 = (agent = "plan") => read(CARDS_1_0, agent);
const problemsOf = (card: unknown) => validateCardBytes(new TextEncoder().encode(JSON.stringify(card)), "c.json").problems;

const SHAPES = 'accepted are A2A 0.3 cards (a top-level "url" and "protocolVersion": "0.3.x") ' +
  'and A2A 1.0 cards ("supportedInterfaces": [{"url", "protocolBinding", "protocolVersion": "1.0"}] instead)';

describe("the A2A 1.0 fixture cards", () => {
  it("load from their own directory under the same file names", async () => {
    const cards = await loadCards(CARDS_1_0, AGENTS);
    assert.deepEqual(cards.map((card) => card.fileName), AGENTS.map(cardFileName));
    assert.ok(cards.every((card) => card.warnings.length === 0));
  });

  for (const agent of AGENTS) {
    it(`${agent}: is the 0.3 card's agent, skills and schemas in the 1.0 shape`, () => {
      const old = read(FIXTURE_CARDS, agent);
      const card = card10(agent);
      for (const key of ["name", "description", "version", "provider", "documentationUrl", "defaultInputModes", "defaultOutputModes", "skills"]) {
        assert.deepEqual(card[key], old[key], key);
      }
      for (const key of ["url", "protocolVersion", "preferredTransport"]) assert.ok(!(key in card), `${key} is 0.3 only`);
      assert.deepEqual(card.supportedInterfaces, [{ url: old.url, protocolBinding: "JSONRPC", protocolVersion: "1.0" }]);
      assert.equal((card.capabilities as Record<string, unknown>).extendedAgentCard, false);
      const text = fs.readFileSync(path.join(CARDS_1_0, cardFileName(agent)), "utf8");
      assert.equal(text, JSON.stringify(card, null, 2) + "\n");
    });
  }
});

describe("cardProtocol", () => {
  it("tells 0.3 from 1.0 cards and lists their URLs, the preferred first", () => {
    assert.deepEqual(cardProtocol(read(FIXTURE_CARDS, "plan")), { version: "0.3", urls: ["http://localhost:8001"] });
    assert.deepEqual(cardProtocol(card10("build")), { version: "1.0", urls: ["http://localhost:8002"] });

    const twoInterfaces = {
      ...card10(),
      supportedInterfaces: [
        { url: "https://a.example/rpc", protocolBinding: "JSONRPC", protocolVersion: "1.0" },
        { url: "https://a.example/grpc", protocolBinding: "GRPC", protocolVersion: "1.0", tenant: "t1" },
      ],
    };
    assert.deepEqual(cardProtocol(twoInterfaces), { version: "1.0", urls: ["https://a.example/rpc", "https://a.example/grpc"] });
    assert.deepEqual(problemsOf(twoInterfaces), []);

    const withAdditional = {
      ...read(FIXTURE_CARDS, "plan"),
      additionalInterfaces: [
        { url: "http://localhost:8001", transport: "JSONRPC" },
        { url: "http://localhost:9001", transport: "GRPC" },
      ],
    };
    assert.deepEqual(cardProtocol(withAdditional), { version: "0.3", urls: ["http://localhost:8001", "http://localhost:9001"] });
  });

  it("refuses a card that mixes the two shapes, naming the fields and both shapes", () => {
    const { protocolVersion, url } = read(FIXTURE_CARDS, "plan");
    assert.deepEqual(problemsOf({ ...card10(), protocolVersion, url }), [
      `c.json mixes A2A 1.0 "supportedInterfaces" with A2A 0.3 "url", "protocolVersion"; ${SHAPES}`,
    ]);
  });

  it("refuses a card with neither shape", () => {
    const { supportedInterfaces: _, ...neither } = card10();
    assert.deepEqual(problemsOf(neither), [`c.json has neither "protocolVersion" nor "supportedInterfaces"; ${SHAPES}`]);
  });

  it("refuses a 0.3-shaped card that declares another version", () => {
    for (const version of ["1.0.0", "0.2.5"]) {
      assert.deepEqual(problemsOf({ ...read(FIXTURE_CARDS, "plan"), protocolVersion: version }), [
        `c.json declares "protocolVersion": "${version}", not 0.3; ${SHAPES}`,
      ]);
    }
  });
});

describe("the A2A 1.0 schema", () => {
  it("reports each broken interface field with its pointer", () => {
    const card = card10();
    card.supportedInterfaces = [{ url: "not a url", protocolBinding: "SOAP", protocolVersion: "one", tenant: 7 }, {}];
    assert.deepEqual(problemsOf(card).sort(), [
      'c.json /supportedInterfaces/0/protocolBinding: must be equal to one of the allowed values: "JSONRPC", "GRPC", "HTTP+JSON"',
      'c.json /supportedInterfaces/0/protocolVersion: must match pattern "^\\d+\\.\\d+(\\.\\d+)?$"',
      "c.json /supportedInterfaces/0/tenant: must be string",
      'c.json /supportedInterfaces/0/url: must match format "uri"',
      "c.json /supportedInterfaces/1: must have required property 'protocolBinding'",
      "c.json /supportedInterfaces/1: must have required property 'protocolVersion'",
      "c.json /supportedInterfaces/1: must have required property 'url'",
    ]);
  });

  it("needs at least one interface", () => {
    assert.deepEqual(problemsOf({ ...card10(), supportedInterfaces: [] }), [
      "c.json /supportedInterfaces: must NOT have fewer than 1 items",
    ]);
  });

  it("checks the 1.0 fields: extendedAgentCard, security requirements of the card and its skills, signatures", () => {
    const good = card10();
    good.capabilities = { streaming: true, extendedAgentCard: true };
    good.securitySchemes = { oauth: { oauth2SecurityScheme: { flows: {} } } };
    good.securityRequirements = [{ schemes: { oauth: { list: ["cards:read"] } } }];
    (good.skills as Record<string, unknown>[])[0].securityRequirements = [{ schemes: { oauth: { list: [] } } }];
    good.signatures = [{ protected: "eyJhbGciOiJFUzI1NiJ9", signature: "c2ln" }];
    assert.deepEqual(problemsOf(good), []);

    const bad = structuredClone(good);
    bad.capabilities = { extendedAgentCard: "yes" };
    bad.securityRequirements = [{ schemes: { oauth: { list: "cards:read" } } }];
    (bad.skills as Record<string, unknown>[])[0].securityRequirements = { oauth: [] };
    bad.signatures = [{ signature: "" }];
    assert.deepEqual(problemsOf(bad).sort(), [
      "c.json /capabilities/extendedAgentCard: must be boolean",
      "c.json /securityRequirements/0/schemes/oauth/list: must be array",
      "c.json /signatures/0/signature: must NOT have fewer than 1 characters",
      "c.json /signatures/0: must have required property 'protected'",
      "c.json /skills/0/securityRequirements: must be array",
    ]);
  });

  it("checks skill schemas as the 0.3 schema does", () => {
    const card = card10("test");
    (card.skills as Record<string, unknown>[])[0].output_schema = { type: "objekt" };
    assert.deepEqual(problemsOf(card), [
      'c.json /skills/0/output_schema: not a valid JSON Schema: /type: must be equal to one of the allowed values: "array", "boolean", "integer", "null", "number", "object", "string"',
    ]);
  });

  it("is used for 1.0 cards only: each version's fields are checked by its own schema", () => {
    // stateTransitionHistory is a 0.3 capability, extendedAgentCard a 1.0 one.
    const card = card10();
    card.capabilities = { stateTransitionHistory: "unchecked in 1.0" };
    assert.deepEqual(problemsOf(card), []);
    const old = read(FIXTURE_CARDS, "plan");
    old.capabilities = { extendedAgentCard: "unchecked in 0.3" };
    assert.deepEqual(problemsOf(old), []);
    old.capabilities = { stateTransitionHistory: "checked in 0.3" };
    assert.deepEqual(problemsOf(old), ["c.json /capabilities/stateTransitionHistory: must be boolean"]);
  });
});
