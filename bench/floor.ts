// The one-process floor of `make bench`: bench/baseline.sh's requests and checks made with
// nothing but fetch, in one process of the runtime under test. What our steps take beyond it
// is start-up paid once per step, requests beyond the minimum, and our own code.
//
//   floor.ts walkthrough REGISTRY AGENTS TAG TO_TAG CARDS_DIR OUT_DIR
//       the six steps in order (push list manifest pull verify copy), as the Makefile runs them
//   floor.ts fleet REGISTRY CARDS_DIR NAMESPACE CREATED CONCURRENCY OUT_DIR
//       every CARDS_DIR/<agent>_agent_card.json pushed to NAMESPACE/<agent>:v1 (created at
//       CREATED), listed, pulled and verified, CONCURRENCY cards at once; prints the seconds of
//       each phase as JSON
import { createHash } from "node:crypto";
import { mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { mapLimit } from "../lib/concurrency.ts";

const MANIFEST_TYPE = "application/vnd.oci.image.manifest.v1+json";
const CARD_TYPE = "application/a2a-agent-card+json";
const EMPTY_CONFIG = {
  mediaType: "application/vnd.oci.empty.v1+json",
  digest: "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a",
  size: 2,
  data: "e30=",
};
const EMPTY_BLOB = new TextEncoder().encode("{}");

const sha256 = (bytes: Uint8Array) => "sha256:" + createHash("sha256").update(bytes).digest("hex");

/** Like `curl -fsS`: any answer but 2xx (after redirects) is a failure. */
async function call(url: string, init: Omit<RequestInit, "body"> & { body?: Uint8Array } = {}): Promise<Response> {
  const response = await fetch(url, { ...init, body: init.body as BodyInit | undefined });
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
  const layer = sha256(card.bytes);
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
  const digest = sha256(manifest);
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
  const digest = sha256(bytes);
  if (response.headers.get("docker-content-digest") !== digest) throw new Error(`${repository}:${tag} is not the manifest the registry names`);
  return { bytes, digest };
}

/** `oras pull`: the titled layer into outDir, checked for size and digest. */
async function pullCard(base: string, repository: string, tag: string, outDir: string) {
  const { bytes: manifest } = await fetchManifest(base, repository, tag);
  const layer = JSON.parse(new TextDecoder().decode(manifest)).layers[0];
  const title: string = layer.annotations["org.opencontainers.image.title"];
  const bytes = new Uint8Array(await (await call(`${base}/v2/${repository}/blobs/${layer.digest}`)).arrayBuffer());
  if (bytes.byteLength !== layer.size || sha256(bytes) !== layer.digest) throw new Error(`${repository}:${tag}: its card is not the blob ${layer.digest}`);
  await mkdir(outDir, { recursive: true });
  await writeFile(path.join(outDir, title), bytes);
  return bytes;
}

const sameBytes = (a: Uint8Array, b: Uint8Array) => a.byteLength === b.byteLength && a.every((byte, i) => byte === b[i]);

async function walkthrough([registry, agentList, tag, toTag, cardsDir, outDir]: string[]) {
  const base = `http://${registry}`;
  const agents = agentList.split(",");
  const repository = (agent: string) => `agents/${agent}`;
  const cardFile = (agent: string) => path.join(cardsDir, `${agent}_agent_card.json`);

  const created = new Date().toISOString().replace(/\.\d{3}Z$/, "Z");
  for (const agent of agents) {
    const card = { title: `${agent}_agent_card.json`, bytes: await readFile(cardFile(agent)) };
    const digest = await pushCard(base, repository(agent), tag, card, created, agent === agents[0] ? undefined : repository(agents[0]));
    console.log(`Pushed ${registry}/${repository(agent)}:${tag} Digest: ${digest}`);
  }
  for (const list of ["/v2/_catalog?n=1000", ...agents.map((agent) => `/v2/${repository(agent)}/tags/list`)]) {
    for (const body of await pages(base, list)) console.log(JSON.stringify(body));
  }
  for (const agent of agents) {
    const { bytes, digest } = await fetchManifest(base, repository(agent), tag);
    console.log(new TextDecoder().decode(bytes), digest);
  }
  for (const agent of agents) {
    await pullCard(base, repository(agent), tag, outDir);
    console.log(`Pulled ${registry}/${repository(agent)}:${tag}`);
  }
  for (const agent of agents) {
    const pulled = await pullCard(base, repository(agent), tag, outDir);
    if (!sameBytes(pulled, await readFile(cardFile(agent)))) throw new Error(`${repository(agent)}:${tag} differs from its original`);
    console.log(`${agent} agent: Content verified`);
  }
  for (const agent of agents) {
    const { bytes, digest } = await fetchManifest(base, repository(agent), tag);
    const stored = await call(`${base}/v2/${repository(agent)}/manifests/${toTag}`, { method: "PUT", headers: { "content-type": MANIFEST_TYPE }, body: bytes });
    await stored.body?.cancel();
    if (stored.headers.get("docker-content-digest") !== digest) throw new Error(`${repository(agent)}: ${toTag} is not ${tag}`);
    console.log(`${repository(agent)}: ${tag} and ${toTag} both resolve to ${digest}`);
  }
}

async function fleet([registry, cardsDir, namespace, created, concurrency, outDir]: string[]) {
  const base = `http://${registry}`;
  const limit = Number(concurrency);
  // Read before the clock starts: the fleet client makes its cards in memory.
  const cards = new Map<string, { title: string; bytes: Uint8Array }>();
  for (const title of (await readdir(cardsDir)).sort()) {
    cards.set(`${namespace}/${title.replace(/_agent_card\.json$/, "")}`, { title, bytes: await readFile(path.join(cardsDir, title)) });
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
      const pulled = await pullCard(base, repository, "v1", path.join(outDir, repository));
      if (!sameBytes(pulled, cards.get(repository)!.bytes)) throw new Error(`${repository}:v1 differs from its original`);
    })
  );
  console.log(JSON.stringify({ push_s, list_s, pull_verify_s }));
}

const [mode, ...args] = process.argv.slice(2);
try {
  if (mode === "walkthrough" && args.length === 6) await walkthrough(args);
  else if (mode === "fleet" && args.length === 6) await fleet(args);
  else throw new Error("usage: floor.ts walkthrough REGISTRY AGENTS TAG TO_TAG CARDS_DIR OUT_DIR | fleet REGISTRY CARDS_DIR NAMESPACE CREATED CONCURRENCY OUT_DIR");
} catch (error) {
  console.error(`floor: ${(error as Error).message}`);
  process.exitCode = 1;
}
