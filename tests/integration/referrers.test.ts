// Referrers on a real Distribution 2.8 registry, which has no referrers API: the referrers tag
// schema index that attach keeps (read back by skopeo), concurrent attaches that must all land,
// and the verified status `verify` records. A real registry with the referrers API is in
// referrers-api.test.ts; a small fake here answers in pages and NAME_UNKNOWN, which that one never does.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import http from "node:http";
import type net from "node:net";
import path from "node:path";
import { pushArtifact } from "../../lib/oci/artifacts.ts";
import { Clients } from "../../lib/oci/client.ts";
import { sha256Digest } from "../../lib/oci/digest.ts";
import { type Descriptor, encodeIndex, MEDIA_TYPE } from "../../lib/oci/manifest.ts";
import { addReferrer, attachArtifact, listReferrers, referrersTag } from "../../lib/oci/referrers.ts";
import { Registry, type Repository } from "../../lib/oci/registry.ts";
import { runOras } from "../../lib/oras/main.ts";
import { signDocument } from "../../lib/trust/signatures.ts";
import { readSigningKey } from "../../lib/trust/keys.ts";
import { readTrustStore } from "../../lib/trust/store.ts";
import { VERIFICATION_TYPE, verificationOf } from "../../lib/verification.ts";
import { fixtureCard, PROJECT_ROOT, runScript, skopeo, startFaultProxy, trustedKey, withRegistry } from "../helpers.ts";

const encode = (text: string) => new TextEncoder().encode(text);
const CREATED = { "org.opencontainers.image.created": "2025-06-05T04:26:57Z" };

describe("referrers on a registry without the referrers API", () => {
  const bench = withRegistry();
  const registry = () => new Registry(bench.registry.address);
  const raw = (ref: string) => skopeo(["inspect", "--raw", "--tls-verify=false", `docker://${bench.registry.address}/${ref}`]);
  /** A new subject manifest in `repository`, pushed under `tag`. */
  const subject = async (repository: string, tag: string, content = tag) =>
    (await pushArtifact(registry().repository(repository), tag, [{ title: "card.json", mediaType: "application/json", bytes: encode(content) }], { annotations: CREATED })).descriptor;

  it("keeps an image index at sha256-<hex>, in oras-go's bytes, that skopeo reads", async () => {
    const { digest } = await subject("schema", "v1");
    const repository = registry().repository("schema");
    assert.deepEqual(await listReferrers(repository, digest), [], "no index yet: no referrers");
    const attached = await attachArtifact(repository, "v1", [{ title: "sig.json", mediaType: "application/json", bytes: encode("{}") }], {
      artifactType: "application/vnd.example.sig",
      annotations: { ...CREATED, note: "x" },
    });
    const stored = await raw(`schema:${referrersTag(digest)}`);
    assert.equal(stored, JSON.stringify({
      schemaVersion: 2,
      mediaType: MEDIA_TYPE.ociIndex,
      manifests: [{
        mediaType: MEDIA_TYPE.ociManifest,
        digest: attached.descriptor.digest,
        size: attached.descriptor.size,
        annotations: { note: "x", "org.opencontainers.image.created": CREATED["org.opencontainers.image.created"] },
        artifactType: "application/vnd.example.sig",
      }],
    }));
    const referrer = JSON.parse(await raw(`schema@${attached.descriptor.digest}`));
    assert.deepEqual(referrer.subject, { mediaType: MEDIA_TYPE.ociManifest, digest, size: (await raw("schema:v1")).length });
    assert.deepEqual((await listReferrers(repository, digest, "application/vnd.example.sig")).map((d) => d.digest), [attached.descriptor.digest]);
    assert.deepEqual(await listReferrers(repository, digest, "application/vnd.example.other"), []);
  });

  it("does not list one referrer twice when it is attached again", async () => {
    const { digest } = await subject("again", "v1");
    const repository = registry().repository("again");
    const layers = [{ title: "a.json", mediaType: "application/json", bytes: encode("{}") }];
    const options = { artifactType: "application/vnd.example.a", annotations: CREATED };
    const first = await attachArtifact(repository, "v1", layers, options);
    const second = await attachArtifact(repository, digest, layers, options);
    assert.equal(second.descriptor.digest, first.descriptor.digest);
    assert.equal((await listReferrers(repository, digest)).length, 1);
  });

  it("keeps every one of 10 attaches made at once by separate clients", async () => {
    const { digest } = await subject("crowd", "v1");
    // Each client reaches the registry through its own proxy, so none shares a host, a
    // connection or a queue with another: they race as separate machines would.
    const proxies = await Promise.all(Array.from({ length: 10 }, () => startFaultProxy(bench.registry.address)));
    try {
      const attached = await Promise.all(proxies.map((proxy, i) =>
        attachArtifact(new Registry(proxy.address).repository("crowd"), "v1", [{ title: `r${i}.json`, mediaType: "application/json", bytes: encode(`{"i":${i}}`) }], {
          artifactType: "application/vnd.example.crowd",
        })
      ));
      const listed = (await listReferrers(registry().repository("crowd"), digest)).map((d) => d.digest).sort();
      assert.deepEqual(listed, attached.map((a) => a.descriptor.digest).sort());
      const index = JSON.parse(await raw(`crowd:${referrersTag(digest)}`));
      assert.equal(index.manifests.length, 10);
    } finally {
      await Promise.all(proxies.map((proxy) => proxy.stop()));
    }
  });

  it("writes back an entry that another writer's stale index dropped", async () => {
    const subjectDescriptor = await subject("race", "v1");
    const { digest } = subjectDescriptor;
    const tagPath = new RegExp(`/manifests/${referrersTag(digest)}$`);
    // Two referrers pushed, but not yet in the index: the registry only takes an index of manifests it has.
    const entries: Record<string, Descriptor> = {};
    for (const name of ["slow", "fast"]) {
      const { descriptor } = await pushArtifact(registry().repository("race"), undefined, [{ title: `${name}.json`, bytes: encode(name) }], {
        artifactType: "application/vnd.example.race",
        subject: subjectDescriptor,
      });
      entries[name] = { ...descriptor, artifactType: "application/vnd.example.race" };
    }
    const entry = (name: string) => entries[name];
    const [slow, fast] = [await startFaultProxy(bench.registry.address), await startFaultProxy(bench.registry.address)];
    try {
      // The slow writer has read the empty index and is about to write [slow]; it is held there.
      const slowWrite = slow.hold("PUT", tagPath);
      const slowDone = addReferrer(new Registry(slow.address).repository("race"), digest, entry("slow"));
      const releaseSlow = await slowWrite;
      // The fast writer reads the empty index too, writes [fast], and is held before it checks that write.
      const fastWrite = fast.hold("PUT", tagPath);
      const fastDone = addReferrer(new Registry(fast.address).repository("race"), digest, entry("fast"));
      const releaseFastWrite = await fastWrite;
      const fastCheck = fast.hold("GET", tagPath);
      releaseFastWrite();
      const releaseFastCheck = await fastCheck;
      // Now the stale [slow] lands over [fast]; the fast writer's check must notice and repair it.
      releaseSlow();
      await slowDone;
      assert.deepEqual((await listReferrers(registry().repository("race"), digest)).map((d) => d.digest), [entry("slow").digest]);
      releaseFastCheck();
      await fastDone;
      assert.deepEqual((await listReferrers(registry().repository("race"), digest)).map((d) => d.digest).sort(), [entry("slow").digest, entry("fast").digest].sort());
    } finally {
      await Promise.all([slow.stop(), fast.stop()]);
    }
  });
});

describe("verified status in the registry", () => {
  const bench = withRegistry();
  const host = () => bench.registry.address;
  const plan = () => new Registry(host()).repository("agents/plan");
  /** Whether a record that counts (signed by the key trustedKey made) names this digest of `repository`. */
  const isVerified = async (repository: Repository, digest: string) =>
    (await verificationOf(repository, digest, await readTrustStore((await trustedKey(bench.work, host())).trust))).verified;

  it("attaches a passed verification record to each verified card's exact digest", async () => {
    const { key } = await trustedKey(bench.work, host());
    for (const step of ["push", "verify"]) {
      const result = await runScript(step, step === "verify" ? ["--key", key] : [], bench.env);
      assert.equal(result.code, 0, `${step}:\n${result.stdout}\n${result.stderr}`);
      if (step === "verify") assert.match(result.stdout, /\$ \(cd \S+ && oras attach --plain-http --artifact-type application\/vnd\.pallet\.verification\.v1\+json \S+\/agents\/plan@sha256:[a-f0-9]{64} verification\.json:application\/json\)/);
    }
    const { digest } = await plan().resolve("v1");
    assert.equal(await isVerified(plan(), digest), true);

    let tree = "";
    await runOras(["discover", "--plain-http", `${host()}/agents/plan:v1`], { cwd: PROJECT_ROOT, out: (text) => (tree += text), clients: new Clients(10_000) });
    const records = tree.match(/sha256:[a-f0-9]{64}/g)!.slice(1);
    assert.equal(records.length, 1, tree);
    assert.match(tree, new RegExp(`^${host()}/agents/plan@${digest}\\n└── ${VERIFICATION_TYPE.replaceAll(".", "\\.").replaceAll("+", "\\+")}\\n    └── sha256:`));

    const manifest = JSON.parse(await skopeo(["inspect", "--raw", "--tls-verify=false", `docker://${host()}/agents/plan@${records[0]}`]));
    assert.equal(manifest.subject.digest, digest);
    const dir = path.join(bench.work, "record");
    await skopeo(["copy", "--src-tls-verify=false", `docker://${host()}/agents/plan@${records[0]}`, `dir:${dir}`]);
    const record = JSON.parse(readFileSync(path.join(dir, manifest.layers[0].digest.slice(7)), "utf8"));
    assert.equal(record.result, "passed");
    assert.deepEqual(record.subject, { reference: `${host()}/agents/plan:v1`, digest });
    assert.deepEqual(record.tool, { name: "pallet-registry", version: JSON.parse(readFileSync(path.join(PROJECT_ROOT, "package.json"), "utf8")).version });
    assert.ok(record.checks.length >= 4 && record.checks.every((check: { ok: boolean }) => check.ok), JSON.stringify(record.checks));
    assert.ok(Math.abs(Date.parse(record.verifiedAt) - Date.now()) < 10 * 60_000, record.verifiedAt);
  });

  it("reuses the record when the same cards are verified again, so none piles up", async () => {
    const { digest } = await plan().resolve("v1");
    const before = await listReferrers(plan(), digest, VERIFICATION_TYPE);
    const result = await runScript("verify", [], bench.env);
    assert.equal(result.code, 0, `${result.stdout}\n${result.stderr}`);
    assert.match(result.stdout, new RegExp(`✓ plan agent: the verification record ${before[0].digest} already says so; reused, nothing attached`));
    assert.doesNotMatch(result.stdout, /oras attach/);
    assert.deepEqual(await listReferrers(plan(), digest, VERIFICATION_TYPE), before);
  });

  it("reads a record once however often the referrers index lists it", async () => {
    const { descriptor } = await pushArtifact(plan(), "v4", [{ title: "plan_agent_card.json", mediaType: "application/json", bytes: encode(fixtureCard("plan").toString().replace("plan", "planned")) }], {
      artifactType: "application/a2a-agent-card+json",
    });
    const record = encode(JSON.stringify({ subject: { reference: "x", digest: descriptor.digest }, result: "failed", checks: [] }));
    const { referrer } = await attachArtifact(plan(), "v4", [{ title: "verification.json", mediaType: "application/json", bytes: record }], { artifactType: VERIFICATION_TYPE });
    // A hostile or careless writer lists that one record 5,000 times.
    const index = encodeIndex({ schemaVersion: 2, mediaType: MEDIA_TYPE.ociIndex, manifests: Array(5000).fill(referrer) });
    await plan().pushManifest(referrersTag(descriptor.digest), index, MEDIA_TYPE.ociIndex);
    const proxy = await startFaultProxy(host());
    try {
      assert.equal(await isVerified(new Registry(proxy.address).repository("agents/plan"), descriptor.digest), false);
      assert.equal(proxy.count("GET", new RegExp(`/manifests/${referrer.digest}$`)), 1);
    } finally {
      await proxy.stop();
    }
  });

  it("counts a card verified only for the digest a passed record names", async () => {
    const changed = await pushArtifact(plan(), "v3", [{ title: "plan_agent_card.json", mediaType: "application/json", bytes: encode(fixtureCard("plan").toString().replace("plan", "plans")) }], {
      artifactType: "application/a2a-agent-card+json",
    });
    assert.equal(await isVerified(plan(), changed.descriptor.digest), false, "new content, new digest: not verified");

    const record = (result: string, digest: string) => encode(JSON.stringify({ subject: { reference: "x", digest }, result, checks: [] }));
    const attach = (bytes: Uint8Array) =>
      attachArtifact(plan(), "v3", [{ title: "verification.json", mediaType: "application/json", bytes }], { artifactType: VERIFICATION_TYPE });
    await attach(record("failed", changed.descriptor.digest));
    await attach(record("passed", (await plan().resolve("v1")).digest));
    await attach(encode("not json"));
    await attach(record("passed", changed.descriptor.digest));
    assert.equal(await isVerified(plan(), changed.descriptor.digest), false, "failed, about another digest, not JSON, or not signed: no proof");
    const signer = await readSigningKey((await trustedKey(bench.work, host())).key);
    const checks = [{ name: "byte-identical", ok: true, detail: "" }];
    const signed = async (checks: unknown[]) =>
      encode(JSON.stringify(await signDocument({ subject: { reference: "x", digest: changed.descriptor.digest }, result: "passed", checks }, signer)));
    await attach(await signed([]));
    assert.equal(await isVerified(plan(), changed.descriptor.digest), false, "signed, but no checks listed: no proof");
    await attach(await signed(checks));
    assert.equal(await isVerified(plan(), changed.descriptor.digest), true);
  });
});

describe("referrers on a registry with the referrers API (a small fake)", () => {
  const SUBJECT = sha256Digest("subject");
  const entry = (name: string, artifactType: string) => ({ mediaType: MEDIA_TYPE.ociManifest, digest: sha256Digest(name), size: 1, artifactType });
  const index = (manifests: unknown[]) => JSON.stringify({ schemaVersion: 2, mediaType: MEDIA_TYPE.ociIndex, manifests });

  /** Answers /v2/ and the referrers API, in two pages; a repository named "ghost" does not exist. */
  async function fakeRegistry(): Promise<{ address: string; requests: string[]; close(): Promise<void> }> {
    const requests: string[] = [];
    const server = http.createServer((request, response) => {
      requests.push(`${request.method} ${request.url}`);
      const url = new URL(request.url!, "http://fake");
      const found = url.pathname.match(/^\/v2\/(.+)\/referrers\/(sha256:[a-f0-9]{64})$/);
      if (url.pathname === "/v2/") return response.end("{}");
      if (found?.[1] === "ghost") {
        response.writeHead(404, { "content-type": "application/json" });
        return response.end(JSON.stringify({ errors: [{ code: "NAME_UNKNOWN", message: "repository name not known to registry" }] }));
      }
      if (!found) {
        response.writeHead(404);
        return response.end();
      }
      const page = url.searchParams.get("page");
      const manifests = found[2] !== SUBJECT ? [] : page ? [entry("c", "type/b")] : [entry("a", "type/a"), entry("b", "type/b")];
      response.writeHead(200, {
        "content-type": MEDIA_TYPE.ociIndex,
        ...(found[2] === SUBJECT && !page && { link: `<${url.pathname}?page=2>; rel="next"` }),
      });
      response.end(index(manifests));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    return {
      address: `127.0.0.1:${(server.address() as net.AddressInfo).port}`,
      requests,
      close: () => new Promise((resolve) => server.close(() => resolve())),
    };
  }

  it("lists every page of the API's answer, filtered by artifact type, and never reads a referrers tag", async () => {
    const fake = await fakeRegistry();
    try {
      const repository = new Registry(fake.address).repository("agents/plan");
      assert.deepEqual((await listReferrers(repository, SUBJECT)).map((d) => d.digest), ["a", "b", "c"].map((name) => sha256Digest(name)));
      assert.deepEqual((await listReferrers(repository, SUBJECT, "type/b")).map((d) => d.digest), ["b", "c"].map((name) => sha256Digest(name)));
      assert.deepEqual(await listReferrers(repository, sha256Digest("other")), []);
      assert.ok(fake.requests.every((line) => !line.includes("/manifests/")), fake.requests.join("\n"));
    } finally {
      await fake.close();
    }
  });

  it("says so when the repository does not exist", async () => {
    const fake = await fakeRegistry();
    try {
      await assert.rejects(listReferrers(new Registry(fake.address).repository("ghost"), SUBJECT), { name: "OciError", kind: "not-found" });
    } finally {
      await fake.close();
    }
  });
});
