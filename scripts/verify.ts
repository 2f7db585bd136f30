// 3.2 Steps 3-4: the Registry Verification Report. Pulls each card again and proves it is the
// file that was pushed; any difference is shown (sizes, hashes, json-diff) and exits 1.
import { readFile } from "node:fs/promises";
import { loadCards } from "../lib/cards.ts";
import { runStep } from "../lib/cli.ts";
import { compareCard } from "../lib/compare.ts";
import { CliError, ContentError } from "../lib/errors.ts";
import { agentReference } from "../lib/options.ts";
import { printJson, say, shellLine } from "../lib/output.ts";
import { formatReference } from "../lib/oci/reference.ts";

await runStep({ script: "verify", summary: "3.2 Steps 3-4: pull every card and verify it against the original." }, async (options, oras) => {
  say.banner("3.2 Verify Storage, Steps 3-4: Registry Verification Report");
  const originals = await loadCards(options.cardsDir, options.agents);
  const report = [];
  for (const original of originals) {
    say.line();
    say.line(`Verifying ${original.agent} agent...`);
    const ref = agentReference(options, original.agent);
    try {
      const { digest, files } = await oras.pull(ref, options.outDir);
      const file = files.find((candidate) => candidate.title === original.fileName);
      if (!file) {
        throw new ContentError(
          `${formatReference(ref)} holds no layer titled ${original.fileName} (titles: ${files.map((f) => f.title).join(", ")})`,
        );
      }
      say.command(shellLine(["diff", original.path, file.path]));
      const comparison = compareCard(original.bytes, await readFile(file.path), file.digest);
      for (const check of comparison.checks) (check.ok ? say.ok : say.fail)(`${check.name}: ${check.detail}`);
      if (comparison.ok) {
        say.ok(`${original.agent} agent: Content verified`);
      } else {
        say.fail(
          `${original.agent} agent: ${
            comparison.formattingOnly
              ? "formatting differs, JSON content is the same (something re-serialised the card)"
              : "Content mismatch"
          }`,
        );
        if (comparison.diff) say.line(comparison.diff);
      }
      report.push({ agent: original.agent, reference: formatReference(ref), digest, ...comparison });
    } catch (error) {
      // A missing or hostile artifact fails this agent; the others are still checked.
      if (!(error instanceof CliError) || error.exitCode !== 1) throw error;
      say.fail(`${original.agent} agent: ${error.message}`);
      if (error.hint) say.note("  " + error.hint);
      report.push({ agent: original.agent, reference: formatReference(ref), ok: false, error: error.message });
    }
  }
  if (options.json) printJson({ verified: report });
  const failed = report.filter((entry) => !entry.ok).map((entry) => entry.agent);
  if (failed.length > 0) {
    throw new ContentError(
      `${failed.length} of ${report.length} agents failed verification: ${failed.join(", ")}`,
      "Push the cards again (make push) and rerun make verify; the lines above say what differs.",
    );
  }
  say.line();
  say.line("=== All agents verified successfully ===");
});
