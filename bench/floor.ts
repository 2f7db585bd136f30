// The floor of `make bench`: bench/baseline.sh's requests and checks made with nothing but each
// runtime's own HTTP client, files and WebCrypto. What our steps take beyond it is requests
// beyond the minimum and our own code; started once per step, it is what a step could cost.
// bench.ts starts it, a process of its own, the way the Makefile starts a step:
//
//   floor.ts walkthrough REGISTRY AGENTS TAG TO_TAG CARDS_DIR OUT_DIR [STEP]
//       the six steps in order (push list manifest pull verify copy), as the Makefile runs them;
//       with STEP, that step alone
//   floor.ts fleet REGISTRY CARDS_DIR NAMESPACE CREATED CONCURRENCY OUT_DIR
//       every CARDS_DIR/<agent>_agent_card.json pushed to NAMESPACE/<agent>:v1 (created at
//       CREATED), listed, pulled and verified, CONCURRENCY cards at once; prints the seconds of
//       each phase as JSON
import { mapLimit } from "../lib/concurrency.ts";

/** What the floor needs of an answer; a fetch Response has it. */
interface Answer {
  ok: boolean;
  status: number;
  headers: { get(name: string): string | null };
  arrayBuffer(): Promise<ArrayBuffer>;
  json(): Promise<unknown>;
  body: { cancel(): Promise<void> } | null;
}
type Init = { method?: string; headers?: Record<string, string>; body?: Uint8Array };

/**
 * Each runtime's own client and files. Under Deno any node: module costs its Node layer's first
 * load, 10-45 ms; under Node, fetch costs undici's, about 0.3 s. A floor paying either in every
 * step would not be a floor.
 */
const host = "Deno" in globalThis ? denoHost() : await nodeHost();

function denoHost() {
  return {
    args: Deno.args,
    request: (url: string, init: Init): Promise<Answer> => fetch(url, init as RequestInit),
    readFile: (file: string) => Deno.readFile(file),
    readDir: async (dir: string) => (await Array.fromAsync(Deno.readDir(dir))).map((entry) => entry.name),
    writeFile: async (dir: string, name: string, bytes: Uint8Array) => {
      await Deno.mkdir(dir, { recursive: true });
      await Deno.writeFile(`${dir}/${name}`, bytes);
    },
    fail: () => void (Deno.exitCode = 1),
  };
}

async function nodeHost() {
  const [http, fs] = await Promise.all([import("node:http"), import("node:fs/promises")]);
  const request = (url: string, init: Init) =>
    new Promise<Answer>((resolve, reject) => {
      const sent = http.request(url, { method: init.method ?? "GET", headers: init.headers }, (response) => {
        const chunks: Uint8Array[] = [];
        const bytes = new Promise<Uint8Array>((done, failed) => {
          response.on("data", (chunk: Uint8Array) => chunks.push(chunk));
          // Copied into bytes of their own: a small Buffer is a view into Node's shared pool.
          response.on("end", () => done(new Uint8Array(Buffer.concat(chunks))));
          response.on("error", failed);
        });
        const status = response.statusCode!;
        resolve({
          ok: status >= 200 && status < 300,
          status,
          headers: { get: (name) => [response.headers[name.toLowerCase()]].flat()[0] ?? null },
          arrayBuffer: async () => (await bytes).buffer as ArrayBuffer,
          json: async () => JSON.parse(new TextDecoder().decode(await bytes)),
          body: { cancel: async () => void await bytes },
        });
      });
      sent.on("error", reject);
      sent.end(init.body);
    });
  return {
    args: process.argv.slice(2),
    request,
    readFile: (file: string) => fs.readFile(file),
    readDir: (dir: string) => fs.readdir(dir),
    writeFile: async (dir: string, name: string, bytes: Uint8Array) => {
      await fs.mkdir(dir, { recursive: true });
      await fs.writeFile(`${dir}/${name}`, bytes);
    },
    fail: () => void (process.exitCode = 1),
  };
}

const MANIFEST_TYPE = "application/vnd.oci.image.manifest.v1+json";
const CARD_TYPE = "application/a2a-agent-card+json";
const EMPTY_CONFIG = {
  mediaType: "application/vnd.oci.empty.v1+json",
  digest: "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a",
  size: 2,
  data: "e30=",
};
const EMPTY_BLOB = new TextEncoder().encode("{}");

async function sha256(bytes: Uint8Array): Promise<string> {
  const hash = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>));
  return "sha256:" + Array.from(hash, (byte) => byte.toString(16).padStart(2, "0")).join("");
}

/** Like `curl -fsS`: any answer but 2xx is a failure (a registry on this machine serves blobs itself, never by redirect). */
async function call(url: string, init: Init = {}): Promise<Answer> {
  const response = await host.request(url, init);
  if (!response.ok) {
    await response.body?.cancel();
    throw new Error(`${init.method ?? "GET"} ${url}: HTTP ${response.status}`);
  }
  return response;
}

/** A blob: one POST that mounts it from `from` (201), else POST then PUT of the whole body. */
async function upload(base: string, repository: string, digest: string, bytes: Uint8Array, from?: string) {
  const started = await call(`${base}/v2/${repository}/blobs/uploads/${from ? `?mount=${digest}&from=${from}` : ""}`, { method: "POST" });
  await started.body?.cancel();
  if (started.status === 201) return;
  const location = new URL(started.headers.get("location")!, base);
  location.searchParams.set("digest", digest);
  await (await call(location.href, { method: "PUT", headers: { "content-type": "application/octet-stream" }, body: bytes })).body?.cancel();
}

/** `oras push --artifact-type CARD_TYPE`: its manifest byte for byte, checked against the digest the registry stored. */
async function pushCard(base: string, repository: string, tag: string, card: { title: string; bytes: Uint8Array }, created: string, configFrom?: string) {
  const layer = await sha256(card.bytes);
  await upload(base, repository, EMPTY_CONFIG.digest, EMPTY_BLOB, configFrom);
  await upload(base, repository, layer, card.bytes);
  const manifest = new TextEncoder().encode(JSON.stringify({
    schemaVersion: 2,
    mediaType: MANIFEST_TYPE,
    artifactType: CARD_TYPE,
    config: EMPTY_CONFIG,
    layers: [{ mediaType: "application/json", digest: layer, size: card.bytes.byteLength, annotations: { "org.opencontainers.image.title": card.title } }],
    annotations: { "org.opencontainers.image.created": created },
  }));
  const stored = await call(`${base}/v2/${repository}/manifests/${tag}`, { method: "PUT", headers: { "content-type": MANIFEST_TYPE }, body: manifest });
  await stored.body?.cancel();
  const digest = await sha256(manifest);
  if (stored.headers.get("docker-content-digest") !== digest) throw new Error(`${repository}:${tag} was not stored as ${digest}`);
  return digest;
}

/** Every page of a list, following `Link: <next>; rel="next"`. */
async function pages(base: string, first: string): Promise<unknown[]> {
  const bodies = [];
  for (let next: string | undefined = first; next;) {
    const response = await call(base + next);
    bodies.push(await response.json());
    next = response.headers.get("link")?.match(/<([^>]+)>.*rel="?next/)?.[1];
  }
  return bodies;
}

/** A manifest, checked against the digest the registry announces. */
async function fetchManifest(base: string, repository: string, tag: string) {
  const response = await call(`${base}/v2/${repository}/manifests/${tag}`, { headers: { accept: MANIFEST_TYPE } });
  const bytes = new Uint8Array(await response.arrayBuffer());
  const digest = await sha256(bytes);
  if (response.headers.get("docker-content-digest") !== digest) throw new Error(`${repository}:${tag} is not the manifest the registry names`);
  return { bytes, digest };
}

/** `oras pull`: the titled layer into outDir, checked for size and digest. */
async function pullCard(base: string, repository: string, tag: string, outDir: string) {
  const { bytes: manifest } = await fetchManifest(base, repository, tag);
  const layer = JSON.parse(new TextDecoder().decode(manifest)).layers[0];
  const title: string = layer.annotations["org.opencontainers.image.title"];
  const bytes = new Uint8Array(await (await call(`${base}/v2/${repository}/blobs/${layer.digest}`)).arrayBuffer());
  if (bytes.byteLength !== layer.size || await sha256(bytes) !== layer.digest) throw new Error(`${repository}:${tag}: its card is not the blob ${layer.digest}`);
  await host.writeFile(outDir, title, bytes);
  return bytes;
}

const sameBytes = (a: Uint8Array, b: Uint8Array) => a.byteLength === b.byteLength && a.every((byte, i) => byte === b[i]);

async function walkthrough([registry, agentList, tag, toTag, cardsDir, outDir, only]: string[]) {
  const base = `http://${registry}`;
  const agents = agentList.split(",");
  const repository = (agent: string) => `agents/${agent}`;
  const cardFile = (agent: string) => `${cardsDir}/${agent}_agent_card.json`;

  // Agents side by side, as our steps take them, and printed in order.
  const printInOrder = async (lines: Promise<string>[]) => {
    for (const line of await Promise.all(lines)) console.log(line);
  };
  const eachAgent = (work: (agent: string) => Promise<string>) => printInOrder(agents.map(work));
  const steps: Record<string, () => Promise<void>> = {
    push: async () => {
      const created = new Date().toISOString().replace(/\.\d{3}Z$/, "Z");
      const push = async (agent: string) => {
        const card = { title: `${agent}_agent_card.json`, bytes: await host.readFile(cardFile(agent)) };
        const digest = await pushCard(base, repository(agent), tag, card, created, agent === agents[0] ? undefined : repository(agents[0]));
        return `Pushed ${registry}/${repository(agent)}:${tag} Digest: ${digest}`;
      };
      // The first card brings the empty config; the others mount it from there.
      await printInOrder([push(agents[0])]);
      await printInOrder(agents.slice(1).map(push));
    },
    list: async () => {
      for (const body of await pages(base, "/v2/_catalog?n=1000")) console.log(JSON.stringify(body));
      await eachAgent(async (agent) => (await pages(base, `/v2/${repository(agent)}/tags/list`)).map((body) => JSON.stringify(body)).join("\n"));
    },
    manifest: () =>
      eachAgent(async (agent) => {
        const { bytes, digest } = await fetchManifest(base, repository(agent), tag);
        return `${new TextDecoder().decode(bytes)} ${digest}`;
      }),
    pull: () =>
      eachAgent(async (agent) => {
        await pullCard(base, repository(agent), tag, outDir);
        return `Pulled ${registry}/${repository(agent)}:${tag}`;
      }),
    verify: () =>
      eachAgent(async (agent) => {
        const pulled = await pullCard(base, repository(agent), tag, outDir);
        if (!sameBytes(pulled, await host.readFile(cardFile(agent)))) throw new Error(`${repository(agent)}:${tag} differs from its original`);
        return `${agent} agent: Content verified`;
      }),
    copy: () =>
      eachAgent(async (agent) => {
        const { bytes, digest } = await fetchManifest(base, repository(agent), tag);
        const stored = await call(`${base}/v2/${repository(agent)}/manifests/${toTag}`, { method: "PUT", headers: { "content-type": MANIFEST_TYPE }, body: bytes });
        await stored.body?.cancel();
        if (stored.headers.get("docker-content-digest") !== digest) throw new Error(`${repository(agent)}: ${toTag} is not ${tag}`);
        return `${repository(agent)}: ${tag} and ${toTag} both resolve to ${digest}`;
      }),
  };
  if (only !== undefined && !Object.hasOwn(steps, only)) throw new Error(`no step ${only}; the steps are ${Object.keys(steps).join(", ")}`);
  for (const [name, step] of Object.entries(steps)) {
    if (only === undefined || name === only) await step();
  }
}

async function fleet([registry, cardsDir, namespace, created, concurrency, outDir]: string[]) {
  const base = `http://${registry}`;
  const limit = Number(concurrency);
  // Read before the clock starts: the fleet client makes its cards in memory.
  const cards = new Map<string, { title: string; bytes: Uint8Array }>();
  for (const title of (await host.readDir(cardsDir)).sort()) {
    cards.set(`${namespace}/${title.replace(/_agent_card\.json$/, "")}`, { title, bytes: await host.readFile(`${cardsDir}/${title}`) });
  }
  const [first, ...others] = [...cards.keys()];
  const seconds = async (work: () => Promise<unknown>) => {
    const started = performance.now();
    await work();
    return (performance.now() - started) / 1000;
  };

  const push_s = await seconds(async () => {
    // The first card brings the empty config; every other card mounts it from there.
    await pushCard(base, first, "v1", cards.get(first)!, created);
    await mapLimit(others, limit, (repository) => pushCard(base, repository, "v1", cards.get(repository)!, created, first));
  });
  let listed: string[] = [];
  const list_s = await seconds(async () => {
    const bodies = await pages(base, "/v2/_catalog?n=1000") as { repositories: string[] }[];
    listed = bodies.flatMap((body) => body.repositories).filter((name) => name.startsWith(`${namespace}/`));
  });
  if (listed.length !== cards.size) throw new Error(`the catalog lists ${listed.length} repositories in ${namespace}/, not ${cards.size}`);
  const pull_verify_s = await seconds(() =>
    mapLimit(listed, limit, async (repository) => {
      const pulled = await pullCard(base, repository, "v1", `${outDir}/${repository}`);
      if (!sameBytes(pulled, cards.get(repository)!.bytes)) throw new Error(`${repository}:v1 differs from its original`);
    })
  );
  console.log(JSON.stringify({ push_s, list_s, pull_verify_s }));
}

const [mode, ...args] = host.args;
try {
  if (mode === "walkthrough" && (args.length === 6 || args.length === 7)) await walkthrough(args);
  else if (mode === "fleet" && args.length === 6) await fleet(args);
  else throw new Error("usage: floor.ts walkthrough REGISTRY AGENTS TAG TO_TAG CARDS_DIR OUT_DIR [STEP] | fleet REGISTRY CARDS_DIR NAMESPACE CREATED CONCURRENCY OUT_DIR");
} catch (error) {
  console.error(`floor: ${(error as Error).message}`);
  host.fail();
}
