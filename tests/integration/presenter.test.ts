// make walkthrough PAUSE=1: each step shows its title and commands, waits for Enter, then runs;
// the summary sets the steps' times against the workshop's budget.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { setTimeout as sleep } from "node:timers/promises";
import { PROJECT_ROOT, RUNTIME, withRegistry } from "../helpers.ts";

const STEPS = [
  { title: "Prerequisite: a registry", ran: /✓ a registry already answers/ },
  { title: "3.1 Publish Agent Cards", ran: /\$ \(cd .* && oras push / },
  { title: "3.2 Verify Storage, Step 1: List Registry Contents", ran: /\$ oras repo ls / },
  { title: "3.2 Verify Storage, Step 1: Manifests and Digests", ran: /\$ oras manifest fetch / },
  { title: "3.2 Verify Storage, Step 2: Pull Agent Cards Back", ran: /\$ oras pull / },
  { title: "3.2 Verify Storage, Steps 3-4: Registry Verification Report", ran: /=== All agents verified successfully ===/ },
  { title: "Copy to a New Version", ran: /\$ oras cp / },
];

describe("presenter mode", () => {
  const bench = withRegistry();

  it("waits for Enter before each step, then runs it, and times the walkthrough against the budget", { timeout: 300_000 }, async () => {
    const child = spawn("make", ["--no-print-directory", "walkthrough"], {
      cwd: PROJECT_ROOT,
      env: { ...process.env, ...bench.env, NO_COLOR: "1", PAUSE: "1", RUNTIME },
      stdio: ["pipe", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.on("data", (chunk) => (output += chunk));
    child.stderr.on("data", (chunk) => (output += chunk));
    const exited = new Promise<number | null>((resolve) => child.on("close", resolve));

    for (const [i, step] of STEPS.entries()) {
      let prompts = 0;
      while ((prompts = output.split("Press Enter to run it.").length - 1) <= i) {
        assert.equal(child.exitCode, null, `the walkthrough ended before step ${i + 1}:\n${output}`);
        await sleep(20);
      }
      const shown = output.slice(output.lastIndexOf(`== ${step.title} ==`));
      assert.match(shown, /next: /, `${step.title} shows its commands first`);
      // Waiting: what the step does has not happened yet.
      await sleep(300);
      assert.doesNotMatch(output.slice(output.lastIndexOf("Press Enter to run it.")), step.ran, `${step.title} ran before Enter`);
      assert.equal(prompts, i + 1);
      child.stdin.write("\n");
      while (!step.ran.test(output.slice(output.lastIndexOf(`== ${step.title} ==`)))) {
        assert.equal(child.exitCode, null, `the walkthrough ended in ${step.title}:\n${output}`);
        await sleep(20);
      }
    }
    // The summary waits too.
    while (output.split("Press Enter to run it.").length - 1 <= STEPS.length) await sleep(20);
    child.stdin.end("\n");
    assert.equal(await exited, 0, output);
    assert.match(output, /^Publishing: [\d.]+ s \(the workshop budgets 8 minutes: push\)$/m);
    assert.match(output, /^Verifying: [\d.]+ s \(the workshop budgets 12 minutes: list, manifest, pull, verify\)$/m);
    assert.match(output, /^Phase 3 done in [\d.]+ s/m);
    assert.equal(output.match(/\| Copied from v1 \|/g)?.length, 3, output);
  });
});
