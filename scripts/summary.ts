// The walkthrough's closing table, like the spec's "All Agents Summary", with real digests.
import { runStep } from "../lib/cli.ts";
import { agentReference } from "../lib/options.ts";
import { RegistryClient } from "../lib/oci/remote.ts";
import { printJson, say, table } from "../lib/output.ts";
import { formatReference } from "../lib/oci/reference.ts";

await runStep({ script: "summary", summary: "Print the All Agents Summary table (WALKTHROUGH_STARTED=epoch ms adds the time taken)." }, async (options) => {
  say.banner("All Agents Summary");
  const client = new RegistryClient(options.registry, options.plainHttp ? { plainHttp: true } : {});
  const rows = [];
  for (const agent of options.agents) {
    for (const tag of [options.tag, options.toTag]) {
      const ref = agentReference(options, agent, tag);
      const digest = await client.resolve(ref.repository, tag, formatReference(ref));
      const status = !digest ? "Missing" : tag === options.tag ? "Published" : `Copied from ${options.tag}`;
      rows.push({ repository: `${options.registry}/${ref.repository}`, tag, digest: digest ?? "-", status });
    }
  }
  table(["Repository", "Tag", "Digest", "Status"], rows.map((row) => [row.repository, row.tag, row.digest, row.status]));
  const started = Number(process.env.WALKTHROUGH_STARTED);
  const seconds = started > 0 ? (Date.now() - started) / 1000 : undefined;
  if (seconds !== undefined) say.line(`\nPhase 3 done in ${seconds.toFixed(2)} s (the workshop budgets 30 minutes by hand).`);
  if (options.json) printJson({ summary: rows, seconds });
  if (rows.some((row) => row.status === "Missing")) process.exitCode = 1;
});
