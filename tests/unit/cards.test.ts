import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import {
  cardFileName,
  loadCards,
  MAX_CARD_BYTES,
  validateCardBytes,
} from "../../lib/cards.ts";
import { UsageError } from "../../lib/errors.ts";
import { AGENTS, cardsDir, FIXTURE_CARDS as FIXTURES } from "../helpers.ts";

const work = fs.mkdtempSync(path.join(os.tmpdir(), "pallet-cards-"));
after(() => fs.rmSync(work, { recursive: true, force: true }));

/** A cards directory holding a copy of the fixtures, to be broken by the test. */
const cardsDirCopy = () => cardsDir(work);

function readFixture(agent: string): Record<string, unknown> {
  return JSON.parse(fs.readFileSync(path.join(FIXTURES, cardFileName(agent)), "utf8"));
}

function writeCard(dir: string, agent: string, card: unknown): void {
  fs.writeFileSync(path.join(dir, cardFileName(agent)), JSON.stringify(card, null, 2) + "\n");
}

function encode(text: string): Uint8Array {
  return new TextEncoder().encode(text);
}

/** Runs loadCards, expecting a UsageError, and returns its message. */
async function loadError(dir: string, agents = AGENTS): Promise<string> {
  let message = "";
  await assert.rejects(loadCards(dir, agents), (error: unknown) => {
    assert.ok(error instanceof UsageError, `expected a UsageError, got ${error}`);
    assert.equal(error.exitCode, 2);
    assert.match(error.message, /nothing was sent to the registry/);
    assert.equal(error.hint, `Fix the cards in ${dir} and run again.`);
    message = error.message;
    return true;
  });
  return message;
}

describe("the fixture cards", () => {
  const expected = {
    plan: { name: "plan-agent", url: "http://localhost:8001" },
    build: { name: "build-agent", url: "http://localhost:8002" },
    test: { name: "test-agent", url: "http://localhost:8003" },
  };

  it("load in the order asked for, with their bytes and paths", async () => {
    const cards = await loadCards(FIXTURES, ["test", "plan", "build"]);
    assert.deepEqual(cards.map((card) => card.agent), ["test", "plan", "build"]);
    for (const card of cards) {
      assert.equal(card.fileName, `${card.agent}_agent_card.json`);
      assert.equal(card.path, path.join(FIXTURES, card.fileName));
      assert.deepEqual(card.bytes, new Uint8Array(fs.readFileSync(card.path)));
    }
  });

  for (const agent of AGENTS) {
    it(`${agent}: has every required A2A field, the right name and url`, () => {
      const bytes = fs.readFileSync(path.join(FIXTURES, cardFileName(agent)));
      const { card, problems } = validateCardBytes(bytes, cardFileName(agent));
      assert.deepEqual(problems, []);
      assert.ok(card);
      assert.equal(card.name, expected[agent as keyof typeof expected].name);
      assert.equal(card.url, expected[agent as keyof typeof expected].url);
      assert.equal(card.version, "1.0.0");
      assert.equal(card.protocolVersion, "0.3.0");
      assert.equal(card.preferredTransport, "JSONRPC");
      assert.deepEqual(Object.keys(card.capabilities as object).sort(), [
        "pushNotifications",
        "stateTransitionHistory",
        "streaming",
      ]);
      for (const key of ["description", "documentationUrl", "defaultInputModes", "defaultOutputModes"]) {
        assert.ok(key in card, `missing ${key}`);
      }
      assert.equal((card.provider as Record<string, unknown>).organization, "Pallet Workshop");

      const skills = card.skills as Record<string, unknown>[];
      assert.ok(skills.length >= 1);
      for (const skill of skills) {
        for (const key of ["id", "name", "description", "tags", "examples", "inputModes", "outputModes"]) {
          assert.ok(key in skill, `skill ${skill.id} has no ${key}`);
        }
        for (const key of ["input_schema", "output_schema"]) {
          const schema = skill[key] as Record<string, unknown>;
          assert.equal(schema.type, "object");
          assert.ok(Array.isArray(schema.required) && schema.required.length > 0);
        }
      }
    });

    it(`${agent}: is pretty-printed with two spaces and a trailing newline`, () => {
      const text = fs.readFileSync(path.join(FIXTURES, cardFileName(agent)), "utf8");
      assert.equal(text, JSON.stringify(JSON.parse(text), null, 2) + "\n");
      assert.ok(text.length > 1500 && text.length < 3 * 1024, `${text.length} bytes`);
    });
  }

  it("plan-agent offers create_plan as the workshop describes it", () => {
    const skills = readFixture("plan").skills as Record<string, unknown>[];
    const createPlan = skills.find((skill) => skill.id === "create_plan");
    assert.equal(createPlan?.description, "Creates structured implementation plans from requirements");
  });
});

describe("cardFileName and the constants", () => {
  it("names the card file after the agent", () => {
    assert.equal(cardFileName("plan"), "plan_agent_card.json");
  });

  it("caps cards at 1 MiB", () => {
    assert.equal(MAX_CARD_BYTES, 1024 * 1024);
  });
});

describe("validateCardBytes", () => {
  it("reports an empty file", () => {
    assert.deepEqual(validateCardBytes(new Uint8Array(), "x.json"), { problems: ["x.json is empty"] });
  });

  it("reports bytes that are not UTF-8", () => {
    const { card, problems } = validateCardBytes(new Uint8Array([0x7b, 0xff, 0x7d]), "x.json");
    assert.equal(card, undefined);
    assert.deepEqual(problems, ["x.json is not valid UTF-8"]);
  });

  it("reports the line and column of a syntax error the parser gives a position for", () => {
    const text = '{\n  "name": "x",\n  "url": "http://localhost:8001"\n  "version": "1.0.0"\n}\n';
    const { problems } = validateCardBytes(encode(text), "x.json");
    assert.equal(problems.length, 1);
    assert.match(problems[0], /^x\.json is not valid JSON: .* at line 4, column 3$/);
  });

  it("reports the line and column of a syntax error the parser gives no position for", () => {
    // V8 words these as "Unexpected token ',', ..." with an excerpt of the input and no position.
    const missingValue = '{\n  "name": "x",\n  "url": ,\n  "version": "1.0.0"\n}\n';
    assert.deepEqual(validateCardBytes(encode(missingValue), "x.json").problems, [
      "x.json is not valid JSON: Unexpected token ',' at line 3, column 10",
    ]);
    const trailingComma = '{\n  "tags": [\n    "a",\n  ]\n}';
    assert.match(
      validateCardBytes(encode(trailingComma), "x.json").problems[0],
      /Unexpected token '\]' at line 4, column 3$/,
    );
  });

  it("points at the end of a truncated file", () => {
    const { problems } = validateCardBytes(encode('{\n  "name": "x",\n  "skills": ['), "x.json");
    assert.match(problems[0], /end of JSON input at line 3, column 14$/);
  });

  it("refuses JSON that is not an object", () => {
    assert.deepEqual(validateCardBytes(encode("[1, 2]"), "x.json").problems, [
      "x.json must hold a JSON object, not an array",
    ]);
    assert.deepEqual(validateCardBytes(encode("null"), "x.json").problems, [
      "x.json must hold a JSON object, not null",
    ]);
  });

  it("reports every schema violation at once, each with its JSON pointer", () => {
    const card = readFixture("build");
    delete card.description;
    card.url = "not a url";
    card.preferredTransport = "SOAP";
    card.protocolVersion = "0.3";
    card.defaultInputModes = ["json"];
    card["x-team"] = "allowed: unknown keys are fine";
    const skill = (card.skills as Record<string, unknown>[])[0];
    skill.id = "Generate-Code";
    delete skill.tags;

    const { card: parsed, problems } = validateCardBytes(encode(JSON.stringify(card)), "b.json");
    assert.ok(parsed, "a schema-invalid object is still returned");
    assert.deepEqual(problems.sort(), [
      "b.json /: must have required property 'description'",
      "b.json /defaultInputModes/0: must match pattern \"^[\\w.+*-]+/[\\w.+*-]+(\\s*;.*)?$\"",
      'b.json /preferredTransport: must be equal to one of the allowed values: "JSONRPC", "GRPC", "HTTP+JSON"',
      'b.json /protocolVersion: must match pattern "^\\d+\\.\\d+\\.\\d+$"',
      "b.json /skills/0/id: must match pattern \"^[a-z][a-z0-9_]*$\"",
      "b.json /skills/0: must have required property 'tags'",
      'b.json /url: must match format "uri"',
    ].sort());
  });

  it("requires at least one skill", () => {
    const card = readFixture("test");
    card.skills = [];
    assert.deepEqual(validateCardBytes(encode(JSON.stringify(card)), "t.json").problems, [
      "t.json /skills: must NOT have fewer than 1 items",
    ]);
  });

  it("reports skill schemas that are not valid JSON Schema", () => {
    const card = readFixture("plan");
    const skill = (card.skills as Record<string, unknown>[])[0];
    skill.input_schema = { type: "objekt" };
    skill.output_schema = { type: "object", required: "plan_id" };
    const { problems } = validateCardBytes(encode(JSON.stringify(card)), "p.json");
    assert.equal(problems.length, 2);
    assert.match(problems[0], /^p\.json \/skills\/0\/input_schema: not a valid JSON Schema: .*type/);
    assert.match(problems[1], /^p\.json \/skills\/0\/output_schema: not a valid JSON Schema: .*required/);
  });

  it("accepts skill schemas that share an $id, use unknown keywords or draft-07", () => {
    const card = readFixture("plan");
    const skill = (card.skills as Record<string, unknown>[])[0];
    skill.input_schema = { $id: "https://example.com/s", type: "object", "x-ui": "wide" };
    skill.output_schema = {
      $schema: "http://json-schema.org/draft-07/schema#",
      $id: "https://example.com/s",
      type: "object",
      definitions: { id: { type: "string" } },
      properties: { id: { $ref: "#/definitions/id" } },
    };
    assert.deepEqual(validateCardBytes(encode(JSON.stringify(card)), "p.json").problems, []);
  });
});

describe("loadCards", () => {
  it("names the missing file and how the cards directory is chosen", async () => {
    const dir = cardsDirCopy();
    fs.rmSync(path.join(dir, "test_agent_card.json"));
    const message = await loadError(dir);
    assert.match(message, /^1 problem in the agent cards; nothing was sent to the registry:\n {2}- test_agent_card\.json not found in /);
    assert.match(message, /CARDS_DIR/);
    assert.match(message, /--cards/);
  });

  it("refuses a directory where a card should be", async () => {
    const dir = cardsDirCopy();
    fs.rmSync(path.join(dir, "build_agent_card.json"));
    fs.mkdirSync(path.join(dir, "build_agent_card.json"));
    assert.match(await loadError(dir), /build_agent_card\.json is a directory/);
  });

  it("refuses a 50 MB card by its size, without reading it", async () => {
    const dir = cardsDirCopy();
    // Sparse: 50 MB of zeros that take no disk space. Were it read, it would also fail as JSON.
    fs.truncateSync(path.join(dir, "plan_agent_card.json"), 50 * 1024 * 1024);
    const message = await loadError(dir);
    assert.match(message, /^1 problem /);
    assert.match(message, /plan_agent_card\.json is 52,428,800 bytes; a card may be at most 1,048,576 bytes/);
    assert.doesNotMatch(message, /not valid JSON/);
  });

  it("refuses an empty card", async () => {
    const dir = cardsDirCopy();
    fs.writeFileSync(path.join(dir, "test_agent_card.json"), "");
    assert.match(await loadError(dir), /- test_agent_card\.json is empty/);
  });

  it("refuses two cards that name the same agent", async () => {
    const dir = cardsDirCopy();
    writeCard(dir, "build", { ...readFixture("build"), name: "plan-agent" });
    assert.match(
      await loadError(dir),
      /- plan_agent_card\.json and build_agent_card\.json both name the agent "plan-agent"/,
    );
  });

  it("lists the problems of every card before failing", async () => {
    const dir = cardsDirCopy();
    fs.writeFileSync(path.join(dir, "plan_agent_card.json"), '{\n  "name": "plan-agent",\n}\n');
    writeCard(dir, "build", { ...readFixture("build"), url: 42, version: "" });
    fs.rmSync(path.join(dir, "test_agent_card.json"));

    const message = await loadError(dir);
    const lines = message.split("\n").slice(1);
    assert.match(message, /^4 problems in the agent cards/);
    assert.equal(lines.length, 4);
    assert.match(lines[0], /^ {2}- plan_agent_card\.json is not valid JSON: .* at line 3, column 1$/);
    assert.equal(lines[1], "  - build_agent_card.json /url: must be string");
    assert.equal(lines[2], "  - build_agent_card.json /version: must NOT have fewer than 1 characters");
    assert.match(lines[3], /^ {2}- test_agent_card\.json not found/);
  });
});
