// What discovery knows about one agent card in a registry, how a search selects it, and the one
// JSON form `discover --json` and the discovery service both give.
import { type A2aVersion, cardProtocol, validateCardBytes } from "../cards.ts";
import type { Descriptor } from "../oci/manifest.ts";
import { type CardTrust, describeTrust } from "../trust/signatures.ts";
import type { Verification } from "../verification.ts";

/** The workshop's cards live in `agents/<agent>`; a card elsewhere keeps its repository as its agent name. */
export const AGENTS_NAMESPACE = "agents";

export interface CardSummary {
  name: string;
  version: string;
  description: string;
  a2aVersion: A2aVersion;
  /** Where the agent is served, the preferred first. */
  urls: string[];
  /** Its skills' ids, in the card's order. */
  skills: string[];
}

/** One tag of one repository that holds an agent card. */
export interface CardEntry {
  repository: string;
  tag: string;
  /** The card's manifest: what the tag resolves to, and what the index lists. */
  manifest: Descriptor;
  card: CardSummary;
  /** The card's own blob, as its manifest names it: where the manifest was read this run. */
  layer?: Descriptor;
  /** What the card's signatures came to, checked on its bytes: where they were read this run and VERIFY is not off (not when a trusted index gave the summary). */
  trust?: CardTrust;
}

/** Enough of a description to search and show; the card itself has all of it. */
const DESCRIPTION_LIMIT = 300;

/** A description as discovery keeps it: its first 300 characters. */
export const brief = (description: string) =>
  description.length > DESCRIPTION_LIMIT ? `${description.slice(0, DESCRIPTION_LIMIT - 1)}…` : description;

export const agentOf = (repository: string) =>
  repository.startsWith(`${AGENTS_NAMESPACE}/`) ? repository.slice(AGENTS_NAMESPACE.length + 1) : repository;

/** What discovery shows of a card and the card itself, or why the card cannot be shown (it fails its schema). */
export function summariseCard(bytes: Uint8Array, label: string): { summary: CardSummary; card: Record<string, unknown> } | { problem: string } {
  const { card, problems } = validateCardBytes(bytes, label);
  if (!card || problems.length > 0) return { problem: problems.join("; ") };
  const summary = summaryOf(card, label);
  return "problem" in summary ? summary : { ...summary, card };
}

/** The summary of a card that passed its schema already. */
export function summaryOf(card: Record<string, unknown>, label: string): { summary: CardSummary } | { problem: string } {
  const protocol = cardProtocol(card);
  if ("problem" in protocol) return { problem: `${label} ${protocol.problem}` };
  return {
    summary: {
      name: card.name as string,
      version: card.version as string,
      description: brief(card.description as string),
      a2aVersion: protocol.version,
      urls: protocol.urls,
      skills: (card.skills as { id: string }[]).map((skill) => skill.id),
    },
  };
}

export interface CardFilter {
  /** A skill id the card must list. */
  skill?: string;
  tag?: string;
  /** Part of the agent's or the card's name, any case. */
  name?: string;
  /** Part of the agent, the card's name, description, skill ids or URLs, any case. */
  text?: string;
}

/** What a search by name or text looks in, lower-cased: made once per entry where many searches follow. */
export function searchable(entry: CardEntry) {
  const { card } = entry;
  const names = [agentOf(entry.repository), card.name].map((field) => field.toLowerCase());
  return { names, texts: [...names, ...[card.description, ...card.skills, ...card.urls].map((field) => field.toLowerCase())] };
}

const mentions = (fields: string[], wanted: string) => fields.some((field) => field.includes(wanted.toLowerCase()));

/** Whether an entry matches; `fields` are its searchable text, made here where a name or text is asked for and not given. */
export function matches(entry: CardEntry, filter: CardFilter, fields?: () => ReturnType<typeof searchable>): boolean {
  if ((filter.tag !== undefined && entry.tag !== filter.tag) || (filter.skill !== undefined && !entry.card.skills.includes(filter.skill))) return false;
  if (!filter.name && !filter.text) return true;
  const { names, texts } = fields?.() ?? searchable(entry);
  return (!filter.name || mentions(names, filter.name)) && (!filter.text || mentions(texts, filter.text));
}

const collator = new Intl.Collator("en", { numeric: true });

/** A tag that names a version: 1.2.0, v2, v2.0-rc1 (dotted numbers after an optional v; a -suffix marks a pre-release). */
const VERSION = /^v?(\d+(?:\.\d+)*)(-[0-9A-Za-z.-]+)?$/;

export const isVersionTag = (tag: string) => VERSION.test(tag);

/** Versions first, as versions (v2 before v10, 1.0.0-rc1 before 1.0.0), then the other tags (stable, pinned) by name. */
function compareTags(a: string, b: string): number {
  const [va, vb] = [VERSION.exec(a), VERSION.exec(b)];
  if (!va || !vb) return Number(!va) - Number(!vb) || collator.compare(a, b);
  const [na, nb] = [va[1].split(".").map(Number), vb[1].split(".").map(Number)];
  for (let i = 0; i < Math.max(na.length, nb.length); i++) {
    if ((na[i] ?? 0) !== (nb[i] ?? 0)) return (na[i] ?? 0) - (nb[i] ?? 0);
  }
  return Number(!va[2]) - Number(!vb[2]) || collator.compare(a, b);
}

/** Agent and tag in order: by agent, then tag (versions as versions, then named tags). */
export const byAgentThenTag = ([agentA, tagA]: [string, string], [agentB, tagB]: [string, string]) =>
  collator.compare(agentA, agentB) || compareTags(tagA, tagB);

/** An entry's agent and tag, what it is sorted and found by. */
export const agentAndTag = (entry: CardEntry): [string, string] => [agentOf(entry.repository), entry.tag];

/** By agent, then tag: versions as versions, then named tags. */
export const byAgentAndTag = (a: CardEntry, b: CardEntry) => byAgentThenTag(agentAndTag(a), agentAndTag(b));

/** Where the discovery service serves a card: /agents/{agent}/{tag}/.well-known/agent-card.json. */
export const cardPath = (entry: CardEntry) =>
  `/agents/${agentOf(entry.repository).split("/").map(encodeURIComponent).join("/")}/${encodeURIComponent(entry.tag)}/.well-known/agent-card.json`;

/**
 * One card as JSON, the same in every answer; `verification` is null where it was not asked (an
 * index-only search), `signature` where the card's signatures were not checked (a trusted index
 * gave it, or VERIFY=off).
 */
export function entryJson(entry: CardEntry, verification: Verification | null) {
  const { card } = entry;
  return {
    agent: agentOf(entry.repository),
    repository: entry.repository,
    tag: entry.tag,
    name: card.name,
    version: card.version,
    a2aVersion: card.a2aVersion,
    url: card.urls[0] ?? null,
    urls: card.urls,
    skills: card.skills,
    description: card.description,
    digest: entry.manifest.digest,
    verified: verification?.verified ?? null,
    verification: verification?.reason ?? null,
    signature: entry.trust ? { status: entry.trust.status, detail: describeTrust(entry.trust) } : null,
    card: cardPath(entry),
  };
}
