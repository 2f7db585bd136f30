// The discovery service's view of a registry: one discovery of every card, and what answering
// requests needs of it, built once per view instead of once per request: each card by agent and
// tag, the cards of each skill and tag, every card's searchable text lower-cased, and the
// selections made so far. A view never changes; the service replaces it with a newer one.
import { agentAndTag, byAgentThenTag, type CardEntry, type CardFilter, matches, searchable } from "./card-entry.ts";
import { type Discovery, verifiedOf } from "./discover.ts";

/** Selections (and answers, for the service) kept per view; past this many the oldest goes. */
const KEPT_PER_VIEW = 256;

/** A Map that drops its oldest entry past KEPT_PER_VIEW. */
export function remember<K, V>(map: Map<K, V>, key: K, value: V): V {
  if (map.size >= KEPT_PER_VIEW) map.delete(map.keys().next().value!);
  map.set(key, value);
  return value;
}

/** Where a page starts: after this agent and tag. Written `agent:tag` (neither holds a colon). */
const cursorOf = (entry: CardEntry) => agentAndTag(entry).join(":");

export const parseCursor = (text: string): [string, string] | undefined => {
  const at = text.lastIndexOf(":");
  return at > 0 && at < text.length - 1 ? [text.slice(0, at), text.slice(at + 1)] : undefined;
};

const groupBy = (entries: CardEntry[], keys: (entry: CardEntry) => string[]) => {
  const groups = new Map<string, number[]>();
  entries.forEach((entry, i) => {
    for (const key of new Set(keys(entry))) {
      if (!groups.has(key)) groups.set(key, []);
      groups.get(key)!.push(i);
    }
  });
  return groups;
};

export class View {
  private readonly byPath = new Map<string, CardEntry>();
  private readonly bySkill: Map<string, number[]>;
  private readonly byTag: Map<string, number[]>;
  /** Each card's searchable text, made at the first search by name or text. */
  private readonly fields: ReturnType<typeof searchable>[] = [];
  private readonly selections = new Map<string, number[]>();
  /** Every skill id, sorted: the page's search form offers them. */
  readonly skills: string[];

  constructor(
    readonly found: Discovery,
    /** When it was discovered (ms since the epoch). */
    readonly at: number,
  ) {
    const { entries } = found;
    for (const entry of entries) {
      // The first of an agent's name wins where two repositories give one (agents/x and x).
      const path = this.path(...agentAndTag(entry));
      if (!this.byPath.has(path)) this.byPath.set(path, entry);
    }
    this.bySkill = groupBy(entries, (entry) => entry.card.skills);
    this.byTag = groupBy(entries, (entry) => [entry.tag]);
    this.skills = [...this.bySkill.keys()].sort();
  }

  private path = (agent: string, tag: string) => `${agent}\n${tag}`;

  /** The card discovery shows at an agent's tag. */
  card = (agent: string, tag: string) => this.byPath.get(this.path(agent, tag));

  /** Whether a card counts as verified, and why; null where that was not asked (an index-only view). */
  verified = (entry: CardEntry) => verifiedOf(this.found)(entry);

  /** The positions of the cards that match, in order; the lists by skill or tag narrow it first. */
  private select(filter: CardFilter): number[] {
    const key = JSON.stringify([filter.skill, filter.tag, filter.name, filter.text]);
    const kept = this.selections.get(key);
    if (kept) return kept;
    const { entries } = this.found;
    const candidates = filter.skill !== undefined
      ? this.bySkill.get(filter.skill) ?? []
      : filter.tag !== undefined
      ? this.byTag.get(filter.tag) ?? []
      : entries.map((_, i) => i);
    return remember(this.selections, key, candidates.filter((i) => matches(entries[i], filter, () => (this.fields[i] ??= searchable(entries[i])))));
  }

  /** Up to `limit` matching cards after `after` (an agent and tag), their place, how many match in all, and where the next page starts. */
  page(filter: CardFilter, limit: number, after?: [string, string]) {
    const selected = this.select(filter);
    const { entries } = this.found;
    let [low, high] = [0, selected.length];
    while (after && low < high) {
      const middle = (low + high) >> 1;
      if (byAgentThenTag(agentAndTag(entries[selected[middle]]), after) <= 0) low = middle + 1;
      else high = middle;
    }
    const cards = selected.slice(low, low + limit).map((i) => entries[i]);
    return { cards, start: low, total: selected.length, next: low + limit < selected.length ? cursorOf(cards[cards.length - 1]) : undefined };
  }
}
