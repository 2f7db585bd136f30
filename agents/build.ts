// The build agent (generate_code): one plan step's instructions and a language in, a small module
// and its tests out, written so that they really run. Deterministic and offline: the module holds
// the instructions' steps in order and answers which comes next; the tests check that. TypeScript
// tests are node:test suites (the test agent runs them); Python ones use unittest.
import { Refused, serveAgent, type Skill } from "./serve.ts";

interface BuildInput {
  instructions: string;
  language: string;
  step_id?: string;
  existing_files?: string[];
}

const LANGUAGES: Record<string, (name: string, steps: string) => [path: string, content: string][]> = {
  typescript: (name, steps) => [
    [`src/${name}.ts`, `/** The steps, in order. */\nexport const steps: string[] = ${steps};\n\n/** The first step not done yet; undefined once all are. */\nexport function nextStep(done: string[]): string | undefined {\n  return steps.find((step) => !done.includes(step));\n}\n`],
    [`src/${name}.test.ts`, `import assert from "node:assert/strict";\nimport { describe, it } from "node:test";\nimport { nextStep, steps } from "./${name}.ts";\n\ndescribe("${name}", () => {\n  it("starts with the first step", () => assert.equal(nextStep([]), steps[0]));\n  it("goes on in order", () => assert.equal(nextStep(steps.slice(0, 1)), steps[1]));\n  it("is done after the last step", () => assert.equal(nextStep(steps), undefined));\n});\n`],
  ],
  python: (name, steps) => [
    [`${name}.py`, `"""The steps, in order."""\nSTEPS = ${steps}\n\n\ndef next_step(done):\n    """The first step not done yet; None once all are."""\n    return next((step for step in STEPS if step not in done), None)\n`],
    [`test_${name}.py`, `import unittest\n\nfrom ${name} import STEPS, next_step\n\n\nclass NextStepTest(unittest.TestCase):\n    def test_starts_with_the_first_step(self):\n        self.assertEqual(next_step([]), STEPS[0])\n\n    def test_goes_on_in_order(self):\n        self.assertEqual(next_step(STEPS[:1]), STEPS[1] if len(STEPS) > 1 else None)\n\n    def test_is_done_after_the_last_step(self):\n        self.assertIsNone(next_step(STEPS))\n\n\nif __name__ == "__main__":\n    unittest.main()\n`],
  ],
};

const generateCode: Skill = (input) => {
  const { instructions, language, step_id, existing_files = [] } = input as unknown as BuildInput;
  const write = LANGUAGES[language];
  if (!write) throw new Refused(`this offline agent writes ${Object.keys(LANGUAGES).join(" and ")}, not ${language}`);
  const words = instructions.toLowerCase().match(/[a-z0-9]+/g) ?? [];
  const name = [...(step_id ? [step_id] : []), ...words].slice(0, 4).join("_").replace(/^(\d)/, "m$1").replaceAll("-", "_") || "module";
  const steps = instructions.split(/[.;\n]+|,\s*|\s+(?:and|then)\s+/i).map((step) => step.trim()).filter(Boolean);
  const files = write(name, JSON.stringify(steps.length ? steps : [instructions]))
    .map(([path, content]) => ({ path, action: existing_files.includes(path) ? "update" : "create", content }));
  return { files, notes: `${files.length} files for ${language}: ${files.map((file) => file.path).join(", ")}` };
};

serveAgent("generate_code", generateCode);
