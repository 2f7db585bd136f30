// Undo a push: removes TAG of each agent in AGENTS, after saying what goes and asking (YES=1
// answers). A manifest no other tag holds goes with its tag, and its verification records too.
// Every agent must have TAG, or nothing is removed.
import { AGENTS_NAMESPACE } from "../lib/discovery/card-entry.ts";
import { isReferrersTag } from "../lib/discovery/crawl.ts";
import { mapLimit } from "../lib/concurrency.ts";
import { ContentError } from "../lib/errors.ts";
import { untag } from "../lib/oci/artifacts.ts";
import { referrersTag } from "../lib/oci/referrers.ts";
import { collect, type Repository } from "../lib/oci/registry.ts";
import { indexUntagged } from "../lib/step/discovery.ts";
import { AGENTS_AT_ONCE } from "../lib/step/options.ts";
import { confirm, isMain, main, type Step } from "../lib/step/run.ts";

/** What removing `tag` takes: its manifest, the other tags that keep it, and whether it has verification records. */
async function planOf(repository: Repository, tag: string) {
  const tags = await collect(repository.tags());
  if (!tags.includes(tag)) {
    throw new ContentError(`${repository.reference()} has no tag ${tag} (it has ${tags.join(", ") || "none"}); nothing was removed`);
  }
  const read = await repository.fetchManifest(tag);
  const { digest } = read.descriptor;
  const candidates = tags.filter((other) => other !== tag && !isReferrersTag(other));
  const held = await mapLimit(candidates, AGENTS_AT_ONCE, async (other) => (await repository.digestOf(other)) === digest);
  const others = candidates.filter((_, i) => held[i]);
  return { repository, tag, read, digest, others, records: others.length === 0 && tags.includes(referrersTag(digest)) };
}

export const step: Step = {
  name: "untag",
  section: "Remove a Tag",
  runs:
    "no oras command (none removes only a tag): DELETE /v2/agents/<agent>/manifests/TAG, or where the registry deletes " +
    "only by digest (Distribution 2.x), the manifest's DELETE and its other tags put back",
  options: ["registry", "agents", "tag"],
  example: "make untag AGENTS=plan TAG=v3   (YES=1: without asking)",
  async body({ options, out, client }) {
    const plans = await mapLimit(options.agents, AGENTS_AT_ONCE, (agent) => planOf(client.repository(`${AGENTS_NAMESPACE}/${agent}`), options.tag));
    out.line(`This removes ${plans.length} tag${plans.length === 1 ? "" : "s"} from ${options.registry}:`);
    for (const plan of plans) {
      const kept = plan.others.length > 0
        ? `${plan.others.join(", ")} keep${plan.others.length === 1 ? "s" : ""} that manifest`
        : `the manifest goes with it${plan.records ? ", and its verification records" : ""}`;
      out.line(`  ${plan.repository.reference(plan.tag)} (${plan.digest}): ${kept}`);
    }
    await confirm(out, "Remove them?");
    for (const plan of plans) {
      await untag(plan.repository, plan.tag, plan.read, plan.others);
      if (plan.records) {
        const records = referrersTag(plan.digest);
        await untag(plan.repository, records, await plan.repository.fetchManifest(records), []);
      }
      out.ok(`removed ${plan.repository.reference(plan.tag)}`);
    }
    await indexUntagged({ client, out, options }, options.tag, options.agents);
    if (options.json) {
      out.json({ removed: plans.map(({ repository, tag, digest, others, records }) => ({ repository: repository.name, tag, digest, kept: others, records })) });
    }
  },
};

if (isMain(import.meta)) await main(step);
