// Every script in scripts/ as a user starts it: --help (HELP=1 through make) says what it does,
// exits 0 and does nothing else; an unknown flag is refused; --json (JSON=1) prints one JSON
// document on stdout and the people's output on stderr.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, statSync } from "node:fs";
import path from "node:path";
import { mapLimit } from "../../lib/concurrency.ts";
import { filesBelow, PROJECT_ROOT, RUNTIME, runScript, withRegistry } from "../helpers.ts";

const SCRIPTS = readdirSync(path.join(PROJECT_ROOT, "scripts")).filter((file) => file.endsWith(".ts")).map((file) => file.slice(0, -3));
/** What a script would write first if it did its work: the validators, for one. */
const GENERATED = path.join(PROJECT_ROOT, "lib/generated/card-validators.js");

describe("every script", () => {
  const bench = withRegistry();

  it("answers --help and HELP=1 with its usage and exit 0, starting no work, and refuses an unknown flag", async () => {
    assert.ok(SCRIPTS.length >= 20, SCRIPTS.join(" "));
    const generated = statSync(GENERATED).mtimeMs;
    const failures = (await mapLimit(SCRIPTS, 4, async (script) => {
      // Run where any work would leave files, against a registry that would answer.
      const cwd = mkdtempSync(path.join(bench.work, `${script}-`));
      const env = { ...bench.env, OUT_DIR: path.join(cwd, "out"), DISCOVERY_CACHE: path.join(cwd, "cache") };
      const problems = [];
      for (const [how, args, extra] of [["--help", ["--help"], {}], ["HELP=1", [], { HELP: "1" }]] as const) {
        const result = await runScript(script, [...args], { ...env, ...extra }, cwd);
        if (result.code !== 0) problems.push(`${how} exited ${result.code}: ${result.stderr}`);
        if (!/Usage/.test(result.stdout)) problems.push(`${how} printed no usage:\n${result.stdout}`);
        if (/^== /m.test(result.stdout + result.stderr)) problems.push(`${how} started the step:\n${result.stdout}`);
      }
      if (filesBelow(cwd).length > 0) problems.push(`--help wrote ${filesBelow(cwd).join(", ")}`);
      const unknown = await runScript(script, ["--jsn"], env, cwd);
      // scripts/oras.ts is oras: exit 1 for every failure, usage errors included.
      const refusal = script === "oras" ? [1, /Error: .*--jsn/] as const : [2, /--jsn/] as const;
      if (unknown.code !== refusal[0] || !refusal[1].test(unknown.stderr)) problems.push(`--jsn: exit ${unknown.code}: ${unknown.stderr}`);
      return problems.map((problem) => `scripts/${script}.ts ${problem}`);
    })).flat();
    assert.deepEqual(failures, []);
    assert.equal(statSync(GENERATED).mtimeMs, generated, "--help rewrote the validators");
  });

  it("walkthrough --json gives each step's JSON result in one document, and the people's output on stderr", async () => {
    const result = await runScript("walkthrough", ["--json"], { ...bench.env, RUNTIME });
    assert.equal(result.code, 0, result.stderr);
    const { steps } = JSON.parse(result.stdout);
    assert.deepEqual(steps.map((step: { step: string }) => step.step), ["registry", "push", "list", "manifest", "pull", "verify", "copy", "summary"]);
    for (const step of steps) {
      assert.equal(step.exitCode, 0, step.step);
      assert.equal(typeof step.result, "object", `${step.step} gave no JSON`);
    }
    assert.equal(steps[1].result.pushed.length, 3);
    assert.match(result.stderr, /== 3\.1 Publish Agent Cards ==/);
  });

  it("doctor --json says whether the machine is ready, check by check", async () => {
    const result = await runScript("doctor", ["--json"], bench.env);
    const report = JSON.parse(result.stdout);
    assert.equal(result.code, report.ready ? 0 : 2, result.stderr);
    assert.ok(report.checks.some((check: { ok: boolean; text: string }) => check.ok && check.text.startsWith("a registry answers at")), result.stdout);
  });
});
