// The discovery service's page for people: every agent with its versions, skills, digests and
// verified status. Card text is whatever a publisher wrote, so every piece of it is escaped,
// and only http(s) URLs become links.
import type { Verification } from "../verification.ts";
import { type CardEntry, cardPath, isVersionTag } from "./card-entry.ts";

const ESCAPES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (char) => ESCAPES[char]);

function link(url: string): string {
  const safe = /^https?:\/\//i.test(url) && URL.canParse(url);
  return safe ? `<a href="${escapeHtml(url)}" rel="nofollow noopener">${escapeHtml(url)}</a>` : escapeHtml(url);
}

/** The verified badge; hovering it says why (or why not). */
const badge = (verification: Verification | null) =>
  verification === null
    ? '<span class="badge unknown">not asked</span>'
    : `<span class="badge ${verification.verified ? "ok" : "no"}" title="${escapeHtml(verification.reason)}">${verification.verified ? "verified" : "not verified"}</span>`;

const skills = (ids: string[]) => ids.map((id) => `<span class="skill">${escapeHtml(id)}</span>`).join(" ");

/** A version's row: each cell with its column's name, which a narrow screen shows in front of it. */
const COLUMNS: [string, (entry: CardEntry, verified: Verification | null) => string][] = [
  ["Tag", (entry) => `<code>${escapeHtml(entry.tag)}</code>`],
  ["Card version", (entry) => escapeHtml(entry.card.version)],
  ["A2A", (entry) => escapeHtml(entry.card.a2aVersion)],
  ["Skills", (entry) => skills(entry.card.skills)],
  ["Manifest digest", (entry) => `<code class="digest" title="${escapeHtml(entry.manifest.digest)}">${escapeHtml(entry.manifest.digest.slice(0, 19))}…</code>`],
  ["Verified", (_, verified) => badge(verified)],
  ["Card", (entry) => `<a href="${escapeHtml(cardPath(entry))}">agent-card.json</a>`],
];

function agentSection(entries: CardEntry[], verified: (entry: CardEntry) => Verification | null): string {
  // The newest version (the last version tag; else the last tag) speaks for the agent; each row says what differs.
  const latest = entries.findLast((entry) => isVersionTag(entry.tag)) ?? entries[entries.length - 1];
  const { card } = latest;
  const rows = entries.map((entry) => `
      <tr>${COLUMNS.map(([name, cell]) => `<td data-label="${name}">${cell(entry, verified(entry))}</td>`).join("")}</tr>`).join("");
  return `
  <section class="agent">
    <h2>${escapeHtml(card.name)} <span class="repository">${escapeHtml(latest.repository)}</span></h2>
    <p>${escapeHtml(card.description)}</p>
    <p class="meta">Skills: ${skills(card.skills)}</p>
    <p class="meta">Served at: ${card.urls.map(link).join(", ") || "-"}</p>
    <table>
      <thead><tr>${COLUMNS.map(([name]) => `<th>${name}</th>`).join("")}</tr></thead>
      <tbody>${rows}
      </tbody>
    </table>
  </section>`;
}

// Narrower than 40rem (a phone), the form wraps and each version's row becomes a block of
// labelled lines: seven columns do not fit there side by side.
const STYLE = `
  body { font: 15px/1.5 system-ui, sans-serif; margin: 2rem auto; max-width: 72rem; padding: 0 1rem; color: #1d2430; overflow-wrap: anywhere; }
  h1 { margin-bottom: 0.2rem; }
  .summary { color: #566; margin-top: 0; }
  form { margin: 1rem 0 1.5rem; display: flex; flex-wrap: wrap; gap: 0.5rem; }
  input, select, button { font: inherit; padding: 0.25rem 0.5rem; max-width: 100%; }
  input { flex: 1 1 16rem; min-width: 0; }
  .agent { border: 1px solid #d5dbe3; border-radius: 6px; padding: 0.2rem 1rem 0.8rem; margin-bottom: 1.2rem; }
  .agent h2 { font-size: 1.2rem; margin-bottom: 0.2rem; }
  .repository { font-weight: normal; color: #667; font-size: 0.9rem; margin-left: 0.5rem; }
  .meta { margin: 0.2rem 0; }
  table { border-collapse: collapse; width: 100%; margin-top: 0.6rem; table-layout: fixed; }
  th:nth-child(1) { width: 9%; } th:nth-child(2) { width: 11%; } th:nth-child(3) { width: 6%; } th:nth-child(4) { width: 26%; }
  th:nth-child(5) { width: 20%; } th:nth-child(6) { width: 12%; } th:nth-child(7) { width: 16%; }
  td { overflow-wrap: anywhere; }
  th, td { text-align: left; padding: 0.25rem 0.6rem 0.25rem 0; border-bottom: 1px solid #eef0f3; vertical-align: top; }
  th { font-size: 0.85rem; color: #566; }
  .skill { display: inline-block; background: #eef3fb; border-radius: 4px; padding: 0 0.35rem; margin: 0.1rem 0; font-size: 0.85rem; }
  .badge { border-radius: 4px; padding: 0 0.4rem; font-size: 0.85rem; white-space: nowrap; }
  .badge.ok { background: #d9f2df; color: #14532d; }
  .badge.no { background: #f0f1f3; color: #555; }
  .badge.unknown { background: #fff4d6; color: #6b4e00; }
  .digest { font-size: 0.85rem; }
  .problems { color: #8a4b00; }
  section.problems h2 { font-size: 1.05rem; }
  @media (max-width: 40rem) {
    body { margin: 1rem auto; }
    table, tbody, tr, td { display: block; width: auto; }
    thead { display: none; }
    tr { border-top: 1px solid #d5dbe3; padding: 0.4rem 0; }
    td { border: 0; padding: 0.1rem 0; }
    td::before { content: attr(data-label) ": "; color: #566; font-size: 0.85rem; }
  }
`;

export interface PageContent {
  registry: string;
  /** What the list says about where it came from, for people. */
  source: string;
  /** When the list was discovered. */
  discovered: Date;
  /** The cards of this page, their place among those that match, and how many match. */
  cards: CardEntry[];
  start: number;
  total: number;
  /** The next page's link, if there is one. */
  next?: string;
  verified: (entry: CardEntry) => Verification | null;
  /** Every skill id of the registry, for the search form. */
  allSkills: string[];
  query: { text?: string; skill?: string };
  stale: string[];
  /** What to run to bring an out-of-date index up to date, with the service's settings. */
  staleHint?: string;
  /** Cards not shown: those that could not be read, and those VERIFY refused, each with why. */
  problems: string[];
}

/** Stale repositories and problems named on the page; the rest are counted. */
const NAMED_AT_MOST = 10;

/** The cards that are not shown, and why: a card VERIFY refused is here, never among the agents. */
function problemsSection(problems: string[]): string {
  if (problems.length === 0) return "";
  const more = problems.length - NAMED_AT_MOST;
  const items = problems.slice(0, NAMED_AT_MOST).map((problem) => `
      <li>${escapeHtml(problem).replaceAll("\n", "<br>")}</li>`).join("");
  return `
  <section class="problems">
    <h2>Not shown (${problems.length.toLocaleString("en-US")})</h2>
    <ul>${items}${more > 0 ? `
      <li>… and ${more.toLocaleString("en-US")} more</li>` : ""}
    </ul>
  </section>`;
}

export function renderPage(content: PageContent): string {
  const byRepository = new Map<string, CardEntry[]>();
  for (const entry of content.cards) byRepository.set(entry.repository, [...byRepository.get(entry.repository) ?? [], entry]);
  const options = content.allSkills.map((skill) =>
    `<option value="${escapeHtml(skill)}"${skill === content.query.skill ? " selected" : ""}>${escapeHtml(skill)}</option>`
  ).join("");
  const { start, total, cards } = content;
  const count = `${total.toLocaleString("en-US")} card${total === 1 ? "" : "s"}${cards.length < total ? `, ${(start + 1).toLocaleString("en-US")}-${(start + cards.length).toLocaleString("en-US")} shown` : ""}`;
  const sections = [...byRepository.values()].map((entries) => agentSection(entries, content.verified)).join("");
  const stale = content.stale.length - NAMED_AT_MOST;
  const searched = Boolean(content.query.text || content.query.skill);
  return `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>Agent cards in ${escapeHtml(content.registry)}</title>
  <style>${STYLE}</style>
</head>
<body>
  <h1>Agent cards in ${escapeHtml(content.registry)}</h1>
  <p class="summary">${escapeHtml(count)}, ${escapeHtml(content.source)} at ${content.discovered.toISOString().slice(11, 19)} UTC. The same as JSON: <a href="/agents">/agents</a>.</p>
  <form method="get" action="/">
    <input type="search" name="q" value="${escapeHtml(content.query.text ?? "")}" placeholder="name, description, skill or URL" aria-label="Search">
    <select name="skill" aria-label="Skill"><option value="">any skill</option>${options}</select>
    <button type="submit">Search</button>
  </form>${content.stale.length > 0 ? `
  <p class="problems">The index is out of date for ${escapeHtml(content.stale.slice(0, NAMED_AT_MOST).join(", "))}${stale > 0 ? ` and ${stale} more repositories` : ""}; shown as the registry has them now.${
    content.staleHint ? ` ${escapeHtml(content.staleHint)}` : ""
  }</p>` : ""}${searched ? `
  <p><a href="/">Show every agent</a></p>` : ""}${sections ||
    `
  <p>No agent cards${searched ? " match this search" : " in this registry"}.</p>`}${content.next ? `
  <p><a href="${escapeHtml(content.next)}" rel="next">Next page</a></p>` : ""}${problemsSection(content.problems)}
</body>
</html>
`;
}
