// README.md and the pages in docs/: the README stays a ten-minute read, it links to every page,
// and every relative link and #anchor in them leads to a file and a heading that exist.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const README = "README.md";
/** README.md, then every docs/*.md, as paths from the project root. */
const PAGES = [README, ...readdirSync(path.join(ROOT, "docs")).filter((name) => name.endsWith(".md")).sort().map((name) => `docs/${name}`)];

const read = (page: string) => readFileSync(path.join(ROOT, page), "utf8");

/** A page's lines outside fenced code blocks (``` or ~~~), with their line numbers. */
function prose(text: string): { line: number; text: string }[] {
  const lines: { line: number; text: string }[] = [];
  let fence: string | undefined;
  text.split("\n").forEach((line, i) => {
    const opening = line.match(/^ {0,3}(`{3,}|~{3,})/)?.[1];
    if (fence === undefined && opening) fence = opening;
    else if (fence !== undefined && opening && opening[0] === fence[0] && opening.length >= fence.length && line.trim() === opening) fence = undefined;
    else if (fence === undefined) lines.push({ line: i + 1, text: line });
  });
  return lines;
}

/** GitHub's anchor for a heading: its text lowercased, punctuation but '-' and '_' dropped, spaces to '-'. */
function slug(heading: string): string {
  return heading
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, "$1")
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, "")
    .replace(/ /g, "-");
}

/** The anchors of a page's headings; a repeated heading gets -1, -2 … as on GitHub. */
function anchors(text: string): Set<string> {
  const seen = new Map<string, number>();
  const result = new Set<string>();
  for (const { text: line } of prose(text)) {
    const heading = line.match(/^ {0,3}#{1,6}\s+(.*?)(?:\s+#+\s*)?$/)?.[1];
    if (heading === undefined) continue;
    const base = slug(heading);
    const count = seen.get(base) ?? 0;
    seen.set(base, count + 1);
    result.add(count === 0 ? base : `${base}-${count}`);
  }
  return result;
}

/** Every link target on a page's prose lines (inline, image and reference-style), code spans left out. */
function links(text: string): { line: number; target: string }[] {
  const found: { line: number; target: string }[] = [];
  for (const { line, text: raw } of prose(text)) {
    const textOnly = raw.replace(/(`+).*?\1/g, "");
    for (const match of textOnly.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) found.push({ line, target: match[1] });
    const reference = textOnly.match(/^ {0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)/);
    if (reference) found.push({ line, target: reference[1] });
  }
  return found;
}

/** What is wrong with a link from `page`, or undefined when it leads somewhere. */
function brokenLink(page: string, target: string): string | undefined {
  if (/^[a-z][a-z0-9+.-]*:/i.test(target)) return undefined; // https:, mailto: …: not ours to check
  const hash = target.indexOf("#");
  const file = decodeURIComponent(hash < 0 ? target : target.slice(0, hash));
  const anchor = hash < 0 ? undefined : decodeURIComponent(target.slice(hash + 1));
  const linked = file === "" ? page : path.posix.normalize(path.posix.join(path.posix.dirname(page), file));
  if (linked.startsWith("../") || !existsSync(path.join(ROOT, linked))) return `${file} does not exist`;
  if (anchor === undefined) return undefined;
  if (!linked.endsWith(".md")) return `#${anchor} points into ${linked}, which is not a Markdown page`;
  if (!anchors(read(linked)).has(anchor)) return `${linked} has no heading #${anchor}`;
  return undefined;
}

describe("README.md and docs/", () => {
  it("README.md is a ten-minute read: under 300 lines, and shows make walkthrough and make test", () => {
    const readme = read(README);
    const lines = readme.split("\n").length - (readme.endsWith("\n") ? 1 : 0);
    assert.ok(lines < 300, `README.md has ${lines} lines; keep it under 300 and move the rest to docs/`);
    for (const command of ["make walkthrough", "make test"]) assert.ok(readme.includes(command), `README.md does not show ${command}`);
  });

  it("README.md links to every page in docs/", () => {
    const linked = new Set(links(read(README)).map(({ target }) => target.split("#")[0]));
    const docs = PAGES.filter((page) => page !== README);
    assert.ok(docs.length > 0, "docs/ has no pages");
    for (const page of docs) assert.ok(linked.has(page), `README.md does not link to ${page}`);
  });

  it("every relative link points to an existing file, and every #anchor to a heading of its page", () => {
    const broken: string[] = [];
    let checked = 0;
    for (const page of PAGES) {
      for (const { line, target } of links(read(page))) {
        checked++;
        const problem = brokenLink(page, target);
        if (problem) broken.push(`${page}:${line}: (${target}): ${problem}`);
      }
    }
    assert.ok(checked > 0, "no links found");
    assert.deepEqual(broken, []);
  });

  it("anchors follow GitHub's slugs", () => {
    assert.equal(slug("3.2 Step 1: list registry contents (`make list`, `make manifest`)"), "32-step-1-list-registry-contents-make-list-make-manifest");
    assert.equal(slug("File content doesn't match after pull"), "file-content-doesnt-match-after-pull");
    assert.equal(slug("Referrers, and verified status in the registry"), "referrers-and-verified-status-in-the-registry");
    assert.equal(slug("TLS: plain HTTP and HTTPS mixed up, an untrusted certificate"), "tls-plain-http-and-https-mixed-up-an-untrusted-certificate");
    assert.equal(slug("snake_case and kebab-case"), "snake_case-and-kebab-case");
    assert.deepEqual([...anchors("# A\n## A\n```\n# not a heading\n```\n### A\n")], ["a", "a-1", "a-2"]);
  });
});
