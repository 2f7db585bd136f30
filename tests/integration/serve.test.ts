// The discovery service against a real registry, through HTTP clients and a headless Chromium
// (Debian's chromium), which shows the page as people see it.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { CARD_TYPE } from "../../lib/cards.ts";
import { DiscoveryCache } from "../../lib/discovery/cache.ts";
import { addToIndex } from "../../lib/discovery/catalog-index.ts";
import { listen, type Listening } from "../../lib/discovery/listen.ts";
import { DiscoveryService } from "../../lib/discovery/service.ts";
import { pushArtifact } from "../../lib/oci/artifacts.ts";
import { sha256Digest } from "../../lib/oci/digest.ts";
import { Registry } from "../../lib/oci/registry.ts";
import { cardPolicy } from "../../lib/step/trust.ts";
import { fixtureCard, run, runScript, skopeo, startFaultProxy, startScript, startService, withRegistry } from "../helpers.ts";

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
    // The service answers from the index alone at first; these tests read what it shows once it has checked the registry.
    for (let tries = 0; (await (await fetch(`${base}/agents`)).json()).source === "index-only"; tries++) {
      assert.ok(tries < 200, "the service never finished checking the registry");
      await sleep(100);
    }
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
    // The service answers from the index alone at first, then from the index checked against the registry, as discover does.
    let served = await (await fetch(`${base}/agents?skill=create_plan`)).json();
    for (let tries = 0; served.source === "index-only" && tries < 100; tries++) {
      await sleep(100);
      served = await (await fetch(`${base}/agents?skill=create_plan`)).json();
    }
    const discovered = await runScript("discover", ["--json", "--skill", "create_plan"], env);
    assert.equal(discovered.code, 0, discovered.stderr);
    const { cardsFetched: _served, ...service } = served;
    const { cardsFetched: _discovered, ...cli } = JSON.parse(discovered.stdout);
    assert.deepEqual(service, cli);
    assert.deepEqual(Object.keys(cli), ["registry", "source", "stale", "total", "next", "cards", "problems", "index"]);
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
      // The service answers from the index alone first; the registry checked in the background finds the new tags.
      let page = await (await fetch(`${url}/`)).text();
      for (let tries = 0; !page.includes("The index is out of date") && tries < 100; tries++) {
        await sleep(100);
        page = await (await fetch(`${url}/`)).text();
      }
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

describe("the discovery service under load, while it refreshes, and twice over", () => {
  const bench = withRegistry();
  let env: Record<string, string>;
  const services: ReturnType<typeof startService>[] = [];
  const serve = (extra: Record<string, string> = {}) => {
    const service = startService({ ...env, ...extra });
    services.push(service);
    return service;
  };
  const getJson = async (url: string) => {
    // A bound on a request that never ends, so that a service that blocks fails the test instead of hanging it.
    const response = await fetch(url, { signal: AbortSignal.timeout(20_000) });
    assert.equal(response.status, 200, url);
    return { age: response.headers.get("age"), ...await response.json() } as {
      age: string | null;
      source: string;
      total: number;
      next: string | null;
      cards: { agent: string; tag: string; digest: string; card: string }[];
    };
  };
  /** Polls until `done` holds; the deadline only keeps a broken service from hanging the test. */
  async function until<T>(what: string, poll: () => Promise<T | undefined>): Promise<T> {
    const deadline = Date.now() + 20_000;
    for (;;) {
      const found = await poll();
      if (found !== undefined) return found;
      assert.ok(Date.now() < deadline, `still waiting for ${what}`);
      await sleep(100);
    }
  }
  const checked = (base: string) => until("the check against the registry", async () => ((await getJson(`${base}/agents`)).source === "index" ? true : undefined));
  const cardUrl = (base: string, agent: string) => `${base}/agents/${agent}/v1/.well-known/agent-card.json`;

  before(async () => {
    env = { ...bench.env, DISCOVERY_CACHE: "off" };
    for (const step of ["push", "copy"]) {
      const result = await runScript(step, [], env);
      assert.equal(result.code, 0, `${step} failed:\n${result.stdout}\n${result.stderr}`);
    }
  });
  after(() => {
    for (const service of services) service.child.kill("SIGKILL");
  });

  it("starts from the index alone, answering before the registry has been checked", async () => {
    const proxy = await startFaultProxy(bench.registry.address);
    try {
      const held = proxy.hold("GET", /^\/v2\/agents\/(plan|build|test)\/tags\/list/);
      const service = serve({ REGISTRY: proxy.address });
      // The check against the registry is held at its first tag list: the service must listen first.
      const first = await Promise.race([service.url.then((base) => ({ base })), held.then((release) => ({ release }))]);
      if ("release" in first) {
        first.release();
        assert.fail("the service checked the registry before it answered");
      }
      const answered = await getJson(`${first.base}/agents`);
      assert.equal(answered.source, "index-only");
      assert.equal(answered.total, 6);
      (await held)();
      await checked(first.base);
    } finally {
      await proxy.stop();
    }
  });

  it("pages /agents: limit, a cursor, the total and a link to the next page; the page for people the same way", async () => {
    const base = await serve().url;
    const pages = [];
    for (let next: string | null = "/agents?limit=4"; next;) {
      const page = await getJson(`${base}${next}`);
      assert.equal(page.total, 6);
      pages.push(page.cards.map((card) => `${card.agent}:${card.tag}`));
      next = page.next;
    }
    assert.deepEqual(pages, [["build:v1", "build:v2", "plan:v1", "plan:v2"], ["test:v1", "test:v2"]]);
    assert.deepEqual((await getJson(`${base}/agents?tag=v2&limit=1&cursor=build:v2`)).cards.map((card) => card.agent), ["plan"]);
    for (const limit of ["0", "1001", "ten"]) assert.equal((await fetch(`${base}/agents?limit=${limit}`)).status, 400);

    const html = await (await fetch(`${base}/?limit=4`)).text();
    assert.match(html, /6 cards, 1-4 shown/);
    const next = html.match(/<a href="([^"]+)" rel="next">Next page<\/a>/)?.[1];
    assert.equal(next, "/?limit=4&amp;cursor=plan%3Av2");
    const second = await (await fetch(`${base}${next!.replaceAll("&amp;", "&")}`)).text();
    assert.match(second, /6 cards, 5-6 shown/);
    assert.ok(second.includes("test-agent") && !second.includes("plan-agent"));
    assert.doesNotMatch(second, /rel="next"/);
  });

  it("reads a card once: requests for it at once share one registry read, and later ones and 304s ask the registry nothing", async () => {
    const proxy = await startFaultProxy(bench.registry.address);
    try {
      const base = await serve({ REGISTRY: proxy.address }).url;
      await checked(base);
      // Counted from here: discovery itself read the card to prove what it shows (the index is not signed).
      const read = () => proxy.count("GET", /^\/v2\/agents\/build\/(manifests\/sha256:|blobs\/)/);
      const already = read();
      const reads = () => read() - already;
      const held = proxy.hold("GET", /^\/v2\/agents\/build\/manifests\/sha256:/);
      const at = Array.from({ length: 50 }, () => fetch(cardUrl(base, "build")));
      const release = await held;
      release();
      const answers = await Promise.all(at);
      assert.deepEqual(answers.map((answer) => answer.status), Array(50).fill(200));
      for (const answer of answers) assert.deepEqual(new Uint8Array(await answer.arrayBuffer()), new Uint8Array(fixtureCard("build")));
      assert.equal(reads(), 2, "one manifest and one blob");

      const before = proxy.requests.length;
      const again = await fetch(cardUrl(base, "build"));
      assert.equal(again.status, 200);
      await again.body?.cancel();
      const etag = again.headers.get("etag")!;
      const unchanged = await fetch(cardUrl(base, "build"), { headers: { "If-None-Match": etag } });
      assert.equal(unchanged.status, 304);
      // Meanwhile the service only looked whether the index moved.
      assert.deepEqual(proxy.requests.slice(before).filter((line) => line !== "HEAD /v2/agents/manifests/index"), []);
    } finally {
      await proxy.stop();
    }
  });

  it("answers 503 with Retry-After past its reads in flight, rather than making a request wait", async () => {
    const proxy = await startFaultProxy(bench.registry.address);
    const service = new DiscoveryService({ registry: new Registry(proxy.address), cache: DiscoveryCache.open("off"), trust: { path: "none", keys: [] }, policy: cardPolicy({ verify: "if-present", trustStore: "none" }), maxReads: 1 });
    let server: Listening | undefined;
    try {
      await service.start();
      server = await listen("127.0.0.1", 0, (asked) => service.answer(asked));
      const base = `http://127.0.0.1:${server.port}`;
      const held = proxy.hold("GET", /^\/v2\/agents\/plan\/manifests\/sha256:/);
      const plan = fetch(cardUrl(base, "plan"));
      const release = await held;
      const busy = await fetch(cardUrl(base, "test"));
      assert.equal(busy.status, 503);
      assert.equal(busy.headers.get("retry-after"), "1");
      assert.match((await busy.json()).error, /try again in a second/);
      release();
      assert.equal((await plan).status, 200);
      assert.equal((await fetch(cardUrl(base, "test"))).status, 200);
    } finally {
      service.stop();
      await server?.close(0);
      await proxy.stop();
    }
  });

  it("serves only the cards discovery accepts, even where the index lists another", async () => {
    const registry = new Registry(bench.registry.address);
    const broken = new TextEncoder().encode('{"name": "broken"}');
    const { descriptor } = await pushArtifact(registry.repository("agents/broken"), "v1", [{ title: "broken_agent_card.json", mediaType: "application/json", bytes: broken }], {
      artifactType: CARD_TYPE,
    });
    const card = { name: "broken", version: "1", description: "", a2aVersion: "0.3" as const, urls: [], skills: [] };
    await addToIndex(registry, [{ repository: "agents/broken", tag: "v1", manifest: descriptor, card }]);
    // The index lists it, unsigned: checked against the registry or not, discovery reads the card and passes it over.
    const checkedBase = await serve().url;
    await checked(checkedBase);
    for (const base of [checkedBase, await serve({ INDEX_ONLY: "1" }).url]) {
      const response = await fetch(cardUrl(base, "broken"));
      assert.equal(response.status, 404);
      assert.match((await response.json()).error, /^no agent card at broken:v1 among the \d+ this service shows$/);
      const { problems } = await (await fetch(`${base}/agents`)).json();
      assert.ok(problems.some((problem: string) => /agents\/broken.*has neither "protocolVersion"/.test(problem)), JSON.stringify(problems));
    }
  });

  it("answers from the last view while it refreshes, says how old that view is, and shows a publish once refreshed", async () => {
    const proxy = await startFaultProxy(bench.registry.address);
    try {
      const base = await serve({ REGISTRY: proxy.address }).url;
      await checked(base);
      let release: (() => void) | undefined;
      proxy.hold("GET", /^\/v2\/agents\/manifests\/index$/).then((arrived) => (release = arrived));
      const card = path.join(bench.work, "fresh", "fresh_agent_card.json");
      mkdirSync(path.dirname(card));
      writeFileSync(card, fixtureCard("test").toString().replace("test-agent", "fresh-agent"));
      const published = await runScript("publish", ["--card", card], env);
      assert.equal(published.code, 0, published.stderr);
      // Requests go on while the service reads the index anew; the refresh is held until one is answered.
      const during = await until("an answer while the index is read", async () => {
        const answered = await getJson(`${base}/agents`);
        return release ? answered : undefined;
      });
      release!();
      assert.equal(during.cards.some((found) => found.agent === "fresh"), false);
      assert.match(during.age ?? "", /^\d+$/);
      const after = await until("the published card", async () => {
        const answered = await getJson(`${base}/agents`);
        return answered.cards.some((found) => found.agent === "fresh") ? answered : undefined;
      });
      assert.equal(after.source, "index");
    } finally {
      await proxy.stop();
    }
  });

  it("two instances against one registry agree, page by page and card by card, and both show a publish", async () => {
    const [one, two] = [await serve().url, await serve().url];
    const all = async (base: string) => {
      const cards = [];
      for (let next: string | null = "/agents?limit=3"; next;) {
        const page = await getJson(`${base}${next}`);
        cards.push(...page.cards);
        next = page.next;
      }
      return cards;
    };
    await Promise.all([checked(one), checked(two)]);
    assert.deepEqual(await all(two), await all(one));
    for (const card of await all(one)) {
      const [a, b] = await Promise.all([one, two].map((base) => fetch(`${base}${card.card}`)));
      assert.equal(b.headers.get("etag"), a.headers.get("etag"));
      assert.deepEqual(new Uint8Array(await b.arrayBuffer()), new Uint8Array(await a.arrayBuffer()));
    }
    const card = path.join(bench.work, "second", "second_agent_card.json");
    mkdirSync(path.dirname(card));
    writeFileSync(card, fixtureCard("plan").toString().replace("plan-agent", "second-agent"));
    assert.equal((await runScript("publish", ["--card", card], env)).code, 0);
    for (const base of [one, two]) await until("the published card", async () => ((await all(base)).some((found) => found.agent === "second") ? true : undefined));
    assert.deepEqual(await all(two), await all(one));
  });
});
