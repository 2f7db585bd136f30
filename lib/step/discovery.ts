// What the steps that publish (or untag) share about discovery: the cache they keep, and saying
// how the index took what they published or removed.
import { DiscoveryCache } from "../discovery/cache.ts";
import { dropFromIndex, type IndexUpdate, type Seen, updateIndex } from "../discovery/publishing.ts";
import { env } from "../env.ts";
import type { SigningKey } from "../trust/keys.ts";
import { recordedButUnproven, type Verification } from "../verification.ts";
import { rebuildIndexHint, unprovenRecordsHint } from "./advice.ts";
import type { StepContext } from "./run.ts";

/** The discovery cache DISCOVERY_CACHE names: tmp/discovery by default, "off" for none. */
export const openDiscoveryCache = () => DiscoveryCache.open(env.discoveryCache);

type Context = Pick<StepContext, "client" | "out" | "options">;

/** After a table of cards: why those whose verify records do not count say "Verified no". */
export function sayUnproven({ out, options }: Pick<Context, "out" | "options">, verifications: (Verification | null)[]) {
  const unproven = verifications.filter((verification) => verification !== null && recordedButUnproven(verification)).length;
  if (unproven > 0) out.note(unprovenRecordsHint(options, unproven));
}

/**
 * Says how the index took an update. The registry has what the step did by then, so a failure
 * only warns, and says how to catch up; so does a `signer` that could not sign it.
 */
function tell({ out, options }: Context, update: IndexUpdate, done: (index: string, tags: string) => string, signer?: SigningKey) {
  if ("failure" in update) {
    out.warn(`the discovery index ${update.index} was not updated: ${update.failure.message}`);
    out.note(`  ${rebuildIndexHint(options)}`);
    return;
  }
  out.ok(`${done(update.index, update.tags.join(", "))}${update.signed ? `; signed by ${signer!.kid}` : ""}`);
  if (signer && !update.signed) {
    out.warn(`the discovery index ${update.index} was written unsigned: someone else wrote it last, and KEY does not vouch for entries it did not check`);
    out.note(`  Rebuild it from the cards and sign it: make discover REFRESH=1 KEY=… REGISTRY=${options.registry}`);
  }
}

/** Puts what a push or a copy published in the discovery index, signed by `signer` where it may be. */
export async function indexPublished(context: Context, tag: string, agents: string[], seen?: Map<string, Seen>, signer?: SigningKey) {
  const update = await updateIndex(context.client, await openDiscoveryCache(), tag, agents, seen, signer);
  tell(context, update, (index, tags) => `discovery index ${index} lists ${tags}`, signer);
}

/** Takes what an untag removed out of the discovery index. */
export async function indexUntagged(context: Context, tag: string, agents: string[]) {
  const update = await dropFromIndex(context.client, await openDiscoveryCache(), tag, agents);
  tell(context, update, (index, tags) => `discovery index ${index} no longer lists ${tags}`);
}
