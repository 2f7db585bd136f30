// make mirror FROM=host:port TO=host:port: copies every agent repository and tag that is missing
// or different on TO, referrers included, then proves both sides resolve every tag alike.
// Each side has its own transport and credentials (FROM_CA_FILE, TO_CA_FILE, …, or the Docker
// config's for each host). Rerun after an interrupt: what is already equal is skipped.
import { ContentError } from "../lib/errors.ts";
import { AGENT_PREFIX, mirror, type TagState } from "../lib/mirror.ts";
import { isMain, main, type Step } from "../lib/step/run.ts";

const named = (state: TagState) => `${state.repository}:${state.tag}`;

export const step: Step = {
  name: "mirror",
  section: "Mirror agent repositories",
  runs: "for each tag of FROM/agents/*: oras cp FROM/agents/<agent>:<tag> TO/agents/<agent>:<tag> unless TO has it already; oras resolve on both sides",
  options: ["from", "to", "agents"],
  example: "make mirror FROM=localhost:5000 TO=registry.example:5000 TO_CA_FILE=ca.pem",
  async body({ options, out, clients }) {
    const [from, to] = [options.from!, options.to!];
    const source = clients.for(from, options.fromRemote);
    const target = clients.for(to, options.toRemote);
    out.line(`From ${source.baseUrl} to ${target.baseUrl}`);
    const report = await mirror(source, target, {
      fallback: options.agents.map((agent) => `${AGENT_PREFIX}${agent}`),
      onEvent: (event) => {
        if (event.kind === "copied") {
          out.ok(`copied ${named(event.tag)} ${event.tag.digest}${event.tag.before ? ` (${to} had ${event.tag.before})` : ""}`);
        } else if (event.kind === "skipped") {
          out.note(`= ${named(event.tag)} ${event.tag.digest} is on ${to} already`);
        } else if (event.kind === "mismatch") {
          out.fail(`${named(event.tag)}: ${from} resolves it to ${event.tag.digest}, ${to} to ${event.target ?? "nothing"}`);
        } else if (event.kind === "referrer") {
          out.ok(`copied ${event.repository}@${event.referrer.digest} (${event.referrer.artifactType}), a referrer of ${event.subject}`);
        }
      },
    });
    if (!report.catalog) out.warn(`${from} does not list its repositories; mirrored the agents named by AGENTS: ${report.repositories.join(", ")}`);
    const tags = report.verified.length + report.mismatched.length;
    out.line();
    const referrers = report.referrers > 0 ? `; ${report.referrers} referrers the referrers API listed` : "";
    out.line(`${report.repositories.length} repositories, ${tags} tags: copied ${report.copied.length}, skipped ${report.skipped.length} (already equal)${referrers}`);
    if (options.json) out.json(report);
    if (report.mismatched.length > 0) {
      throw new ContentError(
        `${report.mismatched.length} of ${tags} tags resolve to different digests on ${from} and ${to}`,
        "Something wrote to one side while the mirror ran: run make mirror again.",
      );
    }
    out.ok(`verified: ${from} and ${to} resolve all ${tags} tags to the same digests`);
  },
};

if (isMain(import.meta)) await main(step);
