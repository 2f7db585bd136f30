// The walkthrough's closing table, like the spec's "All Agents Summary", with real digests read
// back from the registry (each manifest fetched and checked against its digest).
import { env } from "../lib/env.ts";
import { isOciError } from "../lib/oci/errors.ts";
import { agentReference } from "../lib/step/options.ts";
import { isMain, main, type Step } from "../lib/step/run.ts";

/** The spec's Time Breakdown: minutes a participant spends on each part by hand. */
const BUDGET = { publishing: { minutes: 8, steps: ["push"] }, verifying: { minutes: 12, steps: ["list", "manifest", "pull", "verify"] } };

export const step: Step = {
  name: "summary",
  section: "All Agents Summary",
  runs: "oras resolve REGISTRY/agents/<agent>:TAG and :TO_TAG (read directly, each manifest checked against its digest)",
  options: ["registry", "agents", "tag", "to-tag"],
  example: "make summary",
  async body({ options, out, client: registry }) {
    const rows = [];
    for (const agent of options.agents) {
      const repository = registry.repository(`agents/${agent}`);
      const digestOf = (tag: string) =>
        repository.fetchManifest(tag).then(({ descriptor }) => descriptor.digest, (error) => {
          if (isOciError(error, "not-found")) return undefined;
          throw error;
        });
      const [published, copied] = [await digestOf(options.tag), await digestOf(options.toTag)];
      const copyStatus = !copied ? "Missing" : copied === published ? `Copied from ${options.tag}` : `Differs from ${options.tag}`;
      rows.push({ repository: agentReference(options, agent).replace(/:[^:]*$/, ""), tag: options.tag, digest: published ?? "-", status: published ? "Published" : "Missing" });
      rows.push({ repository: rows[rows.length - 1].repository, tag: options.toTag, digest: copied ?? "-", status: copyStatus });
    }
    out.table(["Repository", "Tag", "Digest", "Status"], rows.map((row) => [row.repository, row.tag, row.digest, row.status]));
    const times = env.stepTimes;
    const started = env.walkthroughStarted;
    const seconds = started ? (Date.now() - started) / 1000 : undefined;
    if (times) {
      out.line();
      for (const [part, { minutes, steps }] of Object.entries(BUDGET)) {
        const spent = steps.reduce((sum, step) => sum + (times[step] ?? 0), 0);
        out.line(`${part[0].toUpperCase()}${part.slice(1)}: ${spent.toFixed(2)} s (the workshop budgets ${minutes} minutes: ${steps.join(", ")})`);
      }
    }
    if (seconds !== undefined) out.line(`\nPhase 3 done in ${seconds.toFixed(2)} s (the workshop budgets 30 minutes by hand).`);
    if (options.json) out.json({ summary: rows, seconds, ...(times && { stepSeconds: times }) });
    if (rows.some((row) => row.status === "Missing")) return 1;
  },
};

if (isMain(import.meta)) await main(step);
