// Card inputs that are not what they claim (issue 8.4): special files, files that lie about
// their size, documents nested too deep for recursive code, a byte-order mark, and a card
// named after another agent. Each is refused or reported with a message, never read whole,
// never a hang and never a stack overflow.
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { cardFileName, loadCards, MAX_CARD_BYTES, validateCardBytes } from "../../lib/cards.ts";
import { compareCard } from "../../lib/compare.ts";
import { UsageError } from "../../lib/errors.ts";
import { cardsDir, fixtureCard, run } from "../helpers.ts";

const work = fs.mkdtempSync(path.join(os.tmpdir(), "pallet-hostile-"));
after(() => fs.rmSync(work, { recursive: true, force: true }));

const encode = (text: string) => new TextEncoder().encode(text);
const planCard = () => JSON.parse(fixtureCard("plan").toString());

/** A cards directory whose plan card is replaced by what `make` puts at the given path. */
function cardsWithPlan(make: (cardPath: string) => void): string {
  const dir = cardsDir(work);
  const cardPath = path.join(dir, cardFileName("plan"));
  fs.rmSync(cardPath);
  make(cardPath);
  return dir;
}

/**
 * The problems loadCards reports, or a failure after `seconds`: a read that hangs must fail
 * the test, not stall the run (code that opens a FIFO waits for a writer forever).
 */
async function loadProblems(dir: string, seconds = 10): Promise<string> {
  const controller = new AbortController();
  const timeout = sleep(seconds * 1000, "timed out", { signal: controller.signal }).catch(() => "aborted");
  try {
    const outcome = await Promise.race([loadCards(dir, ["plan", "build", "test"]).then(() => "loaded", (error) => error), timeout]);
    assert.ok(outcome instanceof UsageError, `expected the cards to be refused, got: ${outcome}`);
    assert.match(outcome.message, /^1 problem in the agent cards; nothing was sent to the registry:\n/);
    return outcome.message;
  } finally {
    controller.abort();
  }
}

/** Lets a reader that is stuck opening a FIFO go, so a failed test does not keep the process alive. */
function releaseFifo(fifo: string): void {
  try {
    fs.closeSync(fs.openSync(fifo, fs.constants.O_WRONLY | fs.constants.O_NONBLOCK));
  } catch {
    // No reader is waiting: nothing to release.
  }
}

const nested = (depth: number) => "[".repeat(depth) + "]".repeat(depth);

describe("card files that are not regular files", () => {
  it("refuses a FIFO without opening it (no hang)", async () => {
    let fifo = "";
    const dir = cardsWithPlan((cardPath) => (fifo = cardPath));
    const made = await run("mkfifo", [fifo]);
    assert.equal(made.code, 0, made.stderr);
    try {
      assert.match(await loadProblems(dir), /plan_agent_card\.json is a named pipe \(FIFO\), not a card file/);
    } finally {
      releaseFifo(fifo);
    }
  });

  it("refuses a character device", { skip: process.getuid?.() !== 0 && "mknod needs root" }, async () => {
    let device = "";
    const dir = cardsWithPlan((cardPath) => (device = cardPath));
    // Major 1, minor 3: the same device as /dev/null.
    const made = await run("mknod", [device, "c", "1", "3"]);
    assert.equal(made.code, 0, made.stderr);
    assert.match(await loadProblems(dir), /plan_agent_card\.json is a character device, not a card file/);
  });

  it("refuses a link to /dev/zero, naming where it leads, before reading from it", async () => {
    const dir = cardsWithPlan((cardPath) => fs.symlinkSync("/dev/zero", cardPath));
    assert.match(
      await loadProblems(dir),
      /plan_agent_card\.json is a character device \(a link to \/dev\/zero\), not a card file/,
    );
  });

  it("still follows a link to a regular card file", async () => {
    const dir = cardsWithPlan((cardPath) => fs.writeFileSync(cardPath, fixtureCard("plan")));
    const linked = path.join(dir, "linked");
    fs.mkdirSync(linked);
    for (const agent of ["plan", "build", "test"]) {
      fs.symlinkSync(path.join(dir, cardFileName(agent)), path.join(linked, cardFileName(agent)));
    }
    const cards = await loadCards(linked, ["plan", "build", "test"]);
    assert.deepEqual(cards[0].bytes, new Uint8Array(fixtureCard("plan")));
  });
});

describe("card files larger than they say", () => {
  // /proc files report a size of 0 whatever they hold; kallsyms holds megabytes.
  const kallsyms = "/proc/kallsyms";
  const readable = (() => {
    try {
      const handle = fs.openSync(kallsyms, "r");
      const probe = Buffer.alloc(MAX_CARD_BYTES + 1);
      let length = 0;
      for (let read = -1; read !== 0 && length < probe.length; length += read) {
        read = fs.readSync(handle, probe, length, probe.length - length, null);
      }
      fs.closeSync(handle);
      return fs.statSync(kallsyms).size === 0 && length > MAX_CARD_BYTES;
    } catch {
      return false;
    }
  })();

  it("refuses a file whose size stat does not tell, after reading one byte past the limit", {
    skip: !readable && `${kallsyms} is not readable here or holds less than 1 MiB`,
  }, async () => {
    const dir = cardsWithPlan((cardPath) => fs.symlinkSync(kallsyms, cardPath));
    assert.match(
      await loadProblems(dir),
      /plan_agent_card\.json is more than 1,048,576 bytes; a card may be at most 1,048,576 bytes/,
    );
  });
});

describe("documents nested too deep for recursive code", () => {
  it("refuses a card nested 10,000 levels deep at validation, with a message", () => {
    const text = fixtureCard("plan").toString().replace('"name":', `"x-deep": ${nested(10_000)},\n  "name":`);
    // The card itself is level 1, so the 100th bracket opens level 101.
    const { card, problems } = validateCardBytes(encode(text), "p.json");
    assert.equal(card, undefined);
    assert.deepEqual(problems, ["p.json nests arrays and objects more than 100 levels deep (at line 2, column 112)"]);
  });

  it("refuses a skill schema nested 10,000 levels deep the same way", () => {
    let schema = '{"type": "string"}';
    for (let i = 0; i < 5_000; i++) schema = `{"type": "object", "properties": {"a": ${schema}}}`;
    const text = fixtureCard("plan").toString().replace('"input_schema": {', `"input_schema": ${schema}, "x": {`);
    const { problems } = validateCardBytes(encode(text), "p.json");
    assert.equal(problems.length, 1);
    assert.match(problems[0], /^p\.json nests arrays and objects more than 100 levels deep \(at line \d+, column \d+\)$/);
  });

  it("fails the checks of a pulled card nested 10,000 levels deep instead of crashing verify", async () => {
    const pulled = encode(`{"name": "plan-agent", "x": ${nested(10_000)}}`);
    const result = await compareCard(new Uint8Array(fixtureCard("plan")), pulled);
    assert.equal(result.ok, false);
    const failed = Object.fromEntries(result.checks.filter((check) => !check.ok).map((c) => [c.name, c.detail]));
    assert.match(failed["valid JSON"], /^the pulled card nests arrays and objects more than 100 levels deep/);
    assert.match(failed["canonical JSON equal"], /cannot compare/);
    assert.match(failed["schema-valid"], /more than 100 levels deep/);
  });
});

describe("a UTF-8 byte-order mark", () => {
  it("is refused, saying JSON forbids it and how to save the file instead", () => {
    const bytes = new Uint8Array([0xef, 0xbb, 0xbf, ...fixtureCard("plan")]);
    assert.deepEqual(validateCardBytes(bytes, "p.json").problems, [
      "p.json starts with a UTF-8 byte-order mark (bytes EF BB BF), which JSON forbids; save it as UTF-8 without a BOM",
    ]);
  });

  it("stops loadCards like any other problem", async () => {
    const dir = cardsWithPlan((cardPath) => fs.writeFileSync(cardPath, Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), fixtureCard("plan")])));
    assert.match(await loadProblems(dir), /plan_agent_card\.json starts with a UTF-8 byte-order mark/);
  });
});

describe("a card named after another agent", () => {
  it("is loaded with a warning, not refused", async () => {
    const dir = cardsWithPlan((cardPath) => fs.writeFileSync(cardPath, JSON.stringify({ ...planCard(), name: "planner" })));
    const [plan, build] = await loadCards(dir, ["plan", "build"]);
    assert.deepEqual(plan.warnings, [
      'plan_agent_card.json names the agent "planner"; a card\'s name should start with its file\'s agent, e.g. "plan-agent"',
    ]);
    assert.deepEqual(build.warnings, []);
  });

  it("warns for no name that starts with the file's agent and a dash, in any case", async () => {
    const warns = { "plan-agent": false, "Plan-Agent-2": false, plan: false, planning: true, "build-agent": true, "agent-plan": true };
    for (const [name, warned] of Object.entries(warns)) {
      const dir = cardsWithPlan((cardPath) => fs.writeFileSync(cardPath, JSON.stringify({ ...planCard(), name })));
      const [plan] = await loadCards(dir, ["plan"]);
      assert.equal(plan.warnings.length, warned ? 1 : 0, `${name}: ${plan.warnings}`);
    }
  });

  it("matches agents whose own name has dashes", async () => {
    const dir = cardsDir(work);
    fs.writeFileSync(path.join(dir, cardFileName("code-review")), JSON.stringify({ ...planCard(), name: "code-review-agent" }));
    const [card] = await loadCards(dir, ["code-review"]);
    assert.deepEqual(card.warnings, []);
  });
});
