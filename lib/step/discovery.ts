// What the steps that publish share about discovery: the cache they keep, and saying how the
// index took what they published.
import { DiscoveryCache } from "../discovery/cache.ts";
import { type Seen, updateIndex } from "../discovery/publishing.ts";
import { env } from "../env.ts";
import type { StepContext } from "./run.ts";

/** The discovery cache DISCOVERY_CACHE names: tmp/discovery by default, "off" for none. */
export const openDiscoveryCache = () => DiscoveryCache.open(env.discoveryCache);

/**
 * Puts what a push or a copy published in the discovery index. The cards are published by then,
 * so a failure here only warns, and says how to catch up.
 */
export async function indexPublished({ client, out }: Pick<StepContext, "client" | "out">, tag: string, agents: string[], seen?: Map<string, Seen>) {
  const update = await updateIndex(client, openDiscoveryCache(), tag, agents, seen);
  if ("failure" in update) {
    out.warn(`the discovery index ${update.index} was not updated: ${update.failure.message}`);
    out.note("  `make discover REFRESH=1` rebuilds it; until then `make discover CRAWL=1` finds every card.");
  } else {
    out.ok(`discovery index ${update.index} lists ${update.listed.join(", ")}`);
  }
}
