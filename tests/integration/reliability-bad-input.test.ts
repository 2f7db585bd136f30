// Bad input of our own (issue 3, cases 6 and 7): cards and options are refused with every
// problem named, exit code 2, and not one request reaches the registry, so nothing at all is
// pushed, not even the valid cards.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { truncateSync } from "node:fs";
import path from "node:path";
import { cardsDir, catalog, fixtureCard, type FaultProxy, runScript, startFaultProxy, withRegistry } from "../helpers.ts";

describe("bad input we produce", () => {
  const bench = withRegistry();
  // Counts what reaches the real registry: every case below must send nothing.
  let proxy: FaultProxy;
  before(async () => {
    proxy = await startFaultProxy(bench.registry.address);
  });
  after(() => proxy.stop());
  const step = (name: string, args: string[], env: Record<string, string> = {}) =>
    runScript(name, args, { ...bench.env, REGISTRY: proxy.address, ...env }, bench.work);

  describe("6. cards", () => {
    const card = (agent: string) => JSON.parse(fixtureCard(agent).toString());
    const json = (value: unknown) => JSON.stringify(value, null, 2) + "\n";
    const cases: { name: string; cards: () => string; problems: (string | RegExp)[] }[] = [
      {
        name: "a JSON syntax error, with file, line and column",
        cards: () => cardsDir(bench.work, { "plan_agent_card.json": '{\n  "name": "plan-agent",\n}\n' }),
        problems: [/^plan_agent_card\.json is not valid JSON: .+ at line 3, column 1$/],
      },
      {
        name: "every schema violation at once, each with its JSON pointer",
        cards: () => {
          const build = card("build");
          delete build.skills[0].tags;
          return cardsDir(bench.work, {
            "build_agent_card.json": json({ ...build, url: 42, version: "", protocolVersion: "three", capabilities: [] }),
            "test_agent_card.json": json({ ...card("test"), skills: [] }),
          });
        },
        problems: [
          "build_agent_card.json /url: must be string",
          "build_agent_card.json /version: must NOT have fewer than 1 characters",
          'build_agent_card.json /protocolVersion: must match pattern "^\\d+\\.\\d+\\.\\d+$"',
          "build_agent_card.json /capabilities: must be object",
          "build_agent_card.json /skills/0: must have required property 'tags'",
          "test_agent_card.json /skills: must NOT have fewer than 1 items",
        ],
      },
      {
        name: "two cards with the same agent name",
        cards: () => cardsDir(bench.work, { "test_agent_card.json": json({ ...card("test"), name: "plan-agent" }) }),
        problems: ['plan_agent_card.json and test_agent_card.json both name the agent "plan-agent"'],
      },
      {
        name: "a missing card file",
        cards: () => cardsDir(bench.work, { "build_agent_card.json": null }),
        problems: [/^build_agent_card\.json not found in .*cards-\w+ \(the cards directory is set by CARDS_DIR or --cards\)$/],
      },
      {
        name: "an empty card file",
        cards: () => cardsDir(bench.work, { "test_agent_card.json": "" }),
        problems: ["test_agent_card.json is empty"],
      },
      {
        name: "a 50 MB card file",
        cards: () => {
          const dir = cardsDir(bench.work);
          // Sparse: no disk space used, and the size alone must refuse it.
          truncateSync(path.join(dir, "plan_agent_card.json"), 50 * 1024 * 1024);
          return dir;
        },
        problems: ["plan_agent_card.json is 52,428,800 bytes; a card may be at most 1,048,576 bytes"],
      },
    ];

    for (const c of cases) {
      it(`refuses ${c.name}, and pushes nothing`, async () => {
        const cards = c.cards();
        const result = await step("push", [], { CARDS_DIR: cards });
        assert.equal(result.code, 2, result.stderr);
        const [headline, ...lines] = result.stderr.trimEnd().split("\n");
        const count = c.problems.length === 1 ? "1 problem" : `${c.problems.length} problems`;
        assert.equal(headline, `✗ ${count} in the agent cards; nothing was sent to the registry:`);
        const listed = lines.filter((line) => line.startsWith("  - ")).map((line) => line.slice(4));
        assert.equal(listed.length, c.problems.length, result.stderr);
        for (const problem of c.problems) {
          assert.ok(
            listed.some((line) => (typeof problem === "string" ? line === problem : problem.test(line))),
            `${problem} not in:\n${result.stderr}`,
          );
        }
        assert.equal(lines.at(-1), `  Fix the cards in ${cards} and run again.`);
        assert.deepEqual(proxy.requests, []);
      });
    }
  });

  describe("7. options", () => {
    const cases: { step: string; args?: string[]; env?: Record<string, string>; error: string; hint: string }[] = [
      { step: "push", args: ["--colour"], error: "unknown option --colour", hint: "Run with --help to see the options." },
      { step: "pull", args: ["-x"], error: "unknown option -x", hint: "Run with --help to see the options." },
      {
        step: "list",
        env: { AGENTS: "plan;touch /tmp/pallet-injected" },
        error: `invalid agent name "plan;touch /tmp/pallet-injected": use lowercase letters and digits, separated by '.', '_' or '-'`,
        hint: "Set --agents (env AGENTS) to comma-separated names, e.g. plan,build,test.",
      },
      { step: "verify", env: { AGENTS: "Plan,build" }, error: 'invalid agent name "Plan"', hint: "Set --agents" },
      { step: "summary", args: ["--agents", "../x"], error: 'invalid agent name "../x"', hint: "Set --agents" },
      { step: "manifest", env: { AGENTS: "$(touch x)" }, error: 'invalid agent name "$(touch x)"', hint: "Set --agents" },
      { step: "push", env: { AGENTS: "plan,,test" }, error: 'invalid agent name ""', hint: "Set --agents" },
      {
        step: "pull",
        env: { TAG: "-v1" },
        error: 'invalid tag "-v1": tags match [A-Za-z0-9_][A-Za-z0-9._-]{0,127}',
        hint: "Set --tag (env TAG) to a tag such as v1.",
      },
      { step: "copy", env: { TO_TAG: "v2;id" }, error: 'invalid tag "v2;id"', hint: "Set --to-tag (env TO_TAG) to a tag such as v2." },
      { step: "verify", args: ["--tag", "v".repeat(129)], error: `invalid tag "${"v".repeat(129)}"`, hint: "Set --tag" },
      {
        step: "list",
        env: { REGISTRY: "localhost:5000;touch x" },
        error: 'invalid registry "localhost:5000;touch x": expected host[:port], e.g. localhost:5000',
        hint: "Set --registry (env REGISTRY) to the registry's address only",
      },
      { step: "pull", env: { REGISTRY: "http://localhost:5000" }, error: 'invalid registry "http://localhost:5000"', hint: "without http://" },
      { step: "copy", env: { ORAS_BACKEND: "bogus" }, error: 'ORAS_BACKEND must be auto, oras or builtin, not "bogus"', hint: "" },
    ];

    it("refuses unknown flags, agent names and tags outside the OCI grammar, and shell text, before any request", async () => {
      const results = await Promise.all(cases.map((c) => step(c.step, c.args ?? [], c.env)));
      for (const [i, result] of results.entries()) {
        const { step: name, error, hint } = cases[i];
        assert.equal(result.code, 2, `${name}: ${result.stderr}`);
        assert.ok(result.stderr.startsWith(`✗ ${error}`), `${name}: expected "${error}", got:\n${result.stderr}`);
        assert.ok(result.stderr.includes(hint), `${name}: expected the hint "${hint}", got:\n${result.stderr}`);
        assert.equal(result.stdout, "", `${name} began its work:\n${result.stdout}`);
      }
      assert.deepEqual(proxy.requests, []);
    });
  });

  it("left the registry empty", async () => {
    assert.deepEqual(await catalog(bench.registry.address), []);
  });
});
