// The discovery service against a real registry, through HTTP clients and a headless Chromium
// (Debian's chromium), which shows the page as people see it.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { sha256Digest } from "../../lib/oci/digest.ts";
import { fixtureCard, run, runScript, skopeo, startScript, withRegistry } from "../helpers.ts";

/** Starts `make serve` on a free port; resolves once it says where it listens. */
function startService(env: Record<string, string>, args: string[] = []) {
  const service = startScript("serve", ["--addr", "127.0.0.1:0", ...args], env);
  let output = "";
  const url = new Promise<string>((resolve, reject) => {
    service.child.stdout?.on("data", (chunk) => {
      output += chunk;
      const found = output.match(/at (http:\/\/127\.0\.0\.1:\d+)\//);
      if (found) resolve(found[1]);
    });
    service.done.then((result) => reject(new Error(`serve exited ${result.code} before listening:\n${result.stdout}\n${result.stderr}`)));
  });
  return { ...service, url };
}

/**
 * How `html` lays out `width` CSS px wide in Chromium: the page's width, what it scrolls to, and
 * every element that sticks out of the page or (a cell, a heading, a paragraph, the form) out of
 * its own box. Chromium's window is 500 px at the least, so the page is an iframe that wide, as
 * tall as needed not to scroll, measured by a script of the page around it; the page itself runs
 * none (its Content-Security-Policy forbids it), and its layout does not depend on one.
 */
async function layout(html: string, width: number): Promise<{ clientWidth: number; scrollWidth: number; overflowing: string[] }> {
  const dir = mkdtempSync(path.join(os.tmpdir(), "pallet-page-"));
  try {
    const file = path.join(dir, "frame.html");
    writeFileSync(file, `<!doctype html><html><body style="margin: 0">
      <iframe id="page" style="width: ${width}px; height: 20000px; border: 0" srcdoc="${html.replaceAll("&", "&amp;").replaceAll('"', "&quot;")}"></iframe>
      <pre id="measured"></pre>
      <script>
        document.getElementById("page").addEventListener("load", (event) => {
          const root = event.target.contentDocument.documentElement;
          const boxed = ["TD", "TH", "P", "H1", "H2", "FORM", "SECTION"];
          const overflowing = [...root.querySelectorAll("body *")]
            .filter((element) => element.getBoundingClientRect().right > root.clientWidth + 0.5 || (boxed.includes(element.tagName) && element.scrollWidth > element.clientWidth + 1))
            .map((element) => element.tagName.toLowerCase() + " " + JSON.stringify(element.textContent.trim().slice(0, 40)));
          document.getElementById("measured").textContent = JSON.stringify({ clientWidth: root.clientWidth, scrollWidth: root.scrollWidth, overflowing });
        });
      </script>
    </body></html>`);
    const dom = await chromium([`--window-size=${width + 100},1000`, "--dump-dom", `file://${file}`]);
    const measured = dom.match(/<pre id="measured">([^<]*)<\/pre>/)?.[1];
    assert.ok(measured, `nothing measured:\n${dom.slice(-500)}`);
    return JSON.parse(measured.replaceAll("&lt;", "<").replaceAll("&gt;", ">").replaceAll("&amp;", "&"));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function chromium(args: string[]): Promise<string> {
  const profile = mkdtempSync(path.join(os.tmpdir(), "pallet-chromium-"));
  try {
    const result = await run("chromium", [
      "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
      "--disable-component-update", "--disable-sync", `--user-data-dir=${profile}`, ...args,
    ]);
    assert.equal(result.code, 0, `chromium failed: ${result.stderr}`);
    return result.stdout;
  } finally {
    rmSync(profile, { recursive: true, force: true });
  }
}

describe("make serve", () => {
  const bench = withRegistry();
  let env: Record<string, string>;
  let service: ReturnType<typeof startService>;
  let base: string;
  const digestOf = async (reference: string) =>
    sha256Digest(await skopeo(["inspect", "--raw", "--tls-verify=false", `docker://${bench.registry.address}/${reference}`]));

  before(async () => {
    env = { ...bench.env, DISCOVERY_CACHE: "off" };
    // A card whose text is markup, and whose URL is a script: the page must show it as text.
    const hostile = JSON.parse(fixtureCard("test").toString());
    hostile.name = "evil<script>document.title='owned'</script>";
    hostile.description = '"><img src=x onerror="document.title=\'owned\'"> & more';
    hostile.url = "javascript:document.title='owned'";
    const dir = path.join(bench.work, "hostile");
    mkdirSync(dir);
    writeFileSync(path.join(dir, "evil_agent_card.json"), JSON.stringify(hostile, null, 2));
    for (const [step, args] of [["push", []], ["copy", []], ["publish", ["--card", path.join(dir, "evil_agent_card.json")]]] as const) {
      const result = await runScript(step, [...args], env);
      assert.equal(result.code, 0, `${step} failed:\n${result.stdout}\n${result.stderr}`);
    }
    service = startService(env);
    base = await service.url;
  });
  after(() => {
    service?.child.kill("SIGKILL");
  });

  it("GET /agents lists every card as JSON, and ?skill= and ?q= narrow it", async () => {
    const response = await fetch(`${base}/agents`);
    assert.equal(response.status, 200);
    assert.match(response.headers.get("content-type") ?? "", /^application\/json/);
    const { cards } = await response.json() as { cards: { agent: string; tag: string; digest: string; skills: string[]; card: string; verified: boolean }[] };
    assert.deepEqual(cards.map((card) => `${card.agent}:${card.tag}`), ["build:v1", "build:v2", "evil:v1", "plan:v1", "plan:v2", "test:v1", "test:v2"]);
    for (const card of cards) assert.equal(card.digest, await digestOf(`agents/${card.agent}:${card.tag}`));
    assert.equal(cards[3].card, "/agents/plan/v1/.well-known/agent-card.json");

    const listed = async (query: string) => ((await (await fetch(`${base}/agents?${query}`)).json()) as { cards: { agent: string; tag: string }[] }).cards;
    assert.deepEqual((await listed("skill=generate_code")).map((card) => card.agent), ["build", "build"]);
    assert.deepEqual((await listed("q=reviewable")).map((card) => `${card.agent}:${card.tag}`), ["plan:v1", "plan:v2"]);
    assert.deepEqual(await listed("skill=create_plan&q=nothing-like-this"), []);
  });

  it("GET /agents answers with the very shape `discover --json` prints, search and all", async () => {
    const served = await (await fetch(`${base}/agents?skill=create_plan`)).json();
    const discovered = await runScript("discover", ["--json", "--skill", "create_plan"], env);
    assert.equal(discovered.code, 0, discovered.stderr);
    const { cardsFetched: _served, ...service } = served;
    const { cardsFetched: _discovered, ...cli } = JSON.parse(discovered.stdout);
    assert.deepEqual(service, cli);
    assert.deepEqual(Object.keys(cli), ["registry", "source", "stale", "cards", "problems"]);
  });

  it("serves a stored card byte for byte, with its layer digest as ETag, Cache-Control, and 304 when unchanged", async () => {
    const url = `${base}/agents/plan/v1/.well-known/agent-card.json`;
    const response = await fetch(url);
    assert.equal(response.status, 200);
    const body = new Uint8Array(await response.arrayBuffer());
    assert.deepEqual(body, new Uint8Array(fixtureCard("plan")));
    const etag = `"${sha256Digest(fixtureCard("plan"))}"`;
    assert.equal(response.headers.get("etag"), etag);
    assert.equal(response.headers.get("cache-control"), "public, max-age=60");
    assert.match(response.headers.get("content-type") ?? "", /^application\/json/);

    const again = await fetch(url, { headers: { "If-None-Match": etag } });
    assert.equal(again.status, 304);
    assert.equal(again.headers.get("etag"), etag);
    assert.equal((await again.arrayBuffer()).byteLength, 0);
    const changed = await fetch(url, { headers: { "If-None-Match": '"sha256:0000"' } });
    assert.equal(changed.status, 200);
    await changed.body?.cancel();

    const head = await fetch(url, { method: "HEAD" });
    assert.equal(head.status, 200);
    assert.equal(head.headers.get("content-length"), String(fixtureCard("plan").byteLength));
  });

  it("answers 404 for what is not there and 405 for what it does not do, as JSON", async () => {
    for (const missing of ["/agents/ghost/v1/.well-known/agent-card.json", "/agents/plan/v9/.well-known/agent-card.json", "/agents/PLAN!/v1/.well-known/agent-card.json", "/elsewhere"]) {
      const response = await fetch(`${base}${missing}`);
      assert.equal(response.status, 404, missing);
      assert.ok(typeof (await response.json()).error === "string");
    }
    const post = await fetch(`${base}/agents`, { method: "POST", body: "{}" });
    assert.equal(post.status, 405);
    assert.equal(post.headers.get("allow"), "GET, HEAD");
    await post.body?.cancel();
  });

  it("shows people every agent, version, skill and digest in Chromium, and card text only as text", async () => {
    const dom = await chromium(["--dump-dom", `${base}/`]);
    assert.match(dom, new RegExp(`<h1>Agent cards in ${bench.registry.address.replaceAll(".", "\\.")}</h1>`));
    for (const agent of ["plan", "build", "test"]) {
      assert.ok(dom.includes(`${agent}-agent <span class="repository">agents/${agent}</span>`), `${agent} is not on the page`);
      assert.ok(dom.includes(`title="${await digestOf(`agents/${agent}:v1`)}"`), `${agent}'s digest is not on the page`);
    }
    for (const text of ["create_plan", "generate_code", "run_tests", "not verified", 'href="/agents/plan/v2/.well-known/agent-card.json"']) {
      assert.ok(dom.includes(text), `the page lacks ${text}`);
    }
    // The hostile card: its markup is text, its script URL no link, and nothing ran.
    assert.ok(dom.includes("evil&lt;script&gt;document.title='owned'&lt;/script&gt;"));
    assert.ok(dom.includes("\"&gt;&lt;img src=x onerror=\"document.title='owned'\"&gt; &amp; more"));
    assert.doesNotMatch(dom, /<script|<img|href="javascript:/i);
    assert.match(dom, /<title>Agent cards in /);
    assert.doesNotMatch(dom, /<title>owned/);
  });

  it("filters the page with the search form's query", async () => {
    const dom = await chromium(["--dump-dom", `${base}/?skill=run_tests`]);
    assert.ok(dom.includes("test-agent"));
    assert.ok(!dom.includes("plan-agent") && !dom.includes("build-agent"));
    assert.ok(dom.includes('<option value="run_tests" selected="">run_tests</option>'));
  });

  it("stops on SIGTERM once requests in flight are done, exiting 0", async () => {
    const other = startService(env);
    const url = await other.url;
    assert.equal((await fetch(`${url}/agents`)).status, 200);
    // process.kill rather than child.kill: Deno reports a child it killed itself as ended by the signal, whatever its exit code.
    process.kill(other.child.pid!, "SIGTERM");
    const result = await other.done;
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /SIGTERM: stopping/);
    assert.match(result.stdout, /✓ stopped/);
  });

  it("refuses a bad address and a port in use with exit 2", async () => {
    const bad = await runScript("serve", [], { ...env, SERVE_ADDR: "localhost" });
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /invalid listen address "localhost": expected host:port/);
    const taken = await runScript("serve", ["--addr", new URL(base).host], env);
    assert.equal(taken.code, 2);
    assert.match(taken.stderr, /cannot listen on 127\.0\.0\.1:\d+: the port is in use/);
  });

  it("sorts versions as versions, says what to run for a stale index, leads back from an empty search, and fits 420 px and 1280 px", async () => {
    // Tags the index does not know yet: the page shows them as the registry has them, and says the index is stale.
    const tagged = await runScript("oras", ["tag", "--plain-http", `${bench.registry.address}/agents/plan:v1`, "stable", "pinned", "v10"], env);
    assert.equal(tagged.code, 0, tagged.stderr);
    const other = startService(env);
    try {
      const url = await other.url;
      const page = await (await fetch(`${url}/`)).text();
      const plan = page.slice(page.indexOf("agents/plan</span>"), page.indexOf("</section>", page.indexOf("agents/plan</span>")));
      assert.deepEqual([...plan.matchAll(/<td data-label="Tag"><code>([^<]+)<\/code>/g)].map((match) => match[1]), ["v1", "v2", "v10", "pinned", "stable"]);
      assert.ok(
        page.includes(`The index is out of date for agents/plan; shown as the registry has them now. Rebuild it with \`make discover REGISTRY=${bench.registry.address} REFRESH=1\``),
        page,
      );
      const empty = await (await fetch(`${url}/?q=nothing-like-this`)).text();
      assert.match(empty, /<p><a href="\/">Show every agent<\/a><\/p>[\s\S]*No agent cards match this search\./);
      for (const width of [420, 1280]) {
        for (const [name, html] of [["the page", page], ["an empty search", empty]]) {
          const measured = await layout(html, width);
          assert.equal(measured.clientWidth, width, `${name} at ${width} px`);
          assert.ok(measured.scrollWidth <= measured.clientWidth, `${name} at ${width} px scrolls sideways to ${measured.scrollWidth} px`);
          assert.deepEqual(measured.overflowing, [], `${name} at ${width} px`);
        }
      }
    } finally {
      other.child.kill("SIGKILL");
    }
  });

  it("--help says what it does, its options and an example", async () => {
    const result = await runScript("serve", ["--help"], env);
    assert.equal(result.code, 0);
    for (const text of ["Discovery Service", "--addr VALUE", "SERVE_ADDR", "--index-only", "Example: make serve"]) {
      assert.ok(result.stdout.includes(text), `help lacks ${text}:\n${result.stdout}`);
    }
  });
});
