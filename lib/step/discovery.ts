// What the steps that publish share about discovery: the cache they keep, and saying how the
// index took what they published.
import { DiscoveryCache } from "../discovery/cache.ts";
import { type Seen, updateIndex } from "../discovery/publishing.ts";
import { env } from "../env.ts";
import { rebuildIndexHint } from "./advice.ts";
import type { StepContext } from "./run.ts";

/** The discovery cache DISCOVERY_CACHE names: tmp/discovery by default, "off" for none. */
export const openDiscoveryCache = () => DiscoveryCache.open(env.discoveryCache);

/**
 * Puts what a push or a copy published in the discovery index. The cards are published by then,
 * so a failure here only warns, and says how to catch up.
 */
export async function indexPublished({ client, out, options }: Pick<StepContext, "client" | "out" | "options">, tag: string, agents: string[], seen?: Map<string, Seen>) {
  const update = await updateIndex(client, await openDiscoveryCache(), tag, agents, seen);
  if ("failure" in update) {
    out.warn(`the discovery index ${update.index} was not updated: ${update.failure.message}`);
    out.note(`  ${rebuildIndexHint(options)}`);
  } else {
    out.ok(`discovery index ${update.index} lists ${update.listed.join(", ")}`);
  }
}
