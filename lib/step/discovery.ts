// What the steps that publish (or untag) share about discovery: the cache they keep, and saying
// how the index took what they published or removed.
import { DiscoveryCache } from "../discovery/cache.ts";
import { dropFromIndex, type IndexUpdate, type Seen, updateIndex } from "../discovery/publishing.ts";
import { env } from "../env.ts";
import { rebuildIndexHint } from "./advice.ts";
import type { StepContext } from "./run.ts";

/** The discovery cache DISCOVERY_CACHE names: tmp/discovery by default, "off" for none. */
export const openDiscoveryCache = () => DiscoveryCache.open(env.discoveryCache);

type Context = Pick<StepContext, "client" | "out" | "options">;

/** Says how the index took an update. The registry has what the step did by then, so a failure only warns, and says how to catch up. */
function tell({ out, options }: Context, update: IndexUpdate, done: (index: string, tags: string) => string) {
  if ("failure" in update) {
    out.warn(`the discovery index ${update.index} was not updated: ${update.failure.message}`);
    out.note(`  ${rebuildIndexHint(options)}`);
  } else {
    out.ok(done(update.index, update.tags.join(", ")));
  }
}

/** Puts what a push or a copy published in the discovery index. */
export async function indexPublished(context: Context, tag: string, agents: string[], seen?: Map<string, Seen>) {
  const update = await updateIndex(context.client, await openDiscoveryCache(), tag, agents, seen);
  tell(context, update, (index, tags) => `discovery index ${index} lists ${tags}`);
}

/** Takes what an untag removed out of the discovery index. */
export async function indexUntagged(context: Context, tag: string, agents: string[]) {
  const update = await dropFromIndex(context.client, await openDiscoveryCache(), tag, agents);
  tell(context, update, (index, tags) => `discovery index ${index} no longer lists ${tags}`);
}
