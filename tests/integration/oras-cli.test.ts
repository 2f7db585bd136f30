// The oras command without oras against a real registry: its output lines, --format json fields
// and errors as oras 1.3's, and what it wrote read back by skopeo, an OCI client that shares no
// code with ours. Commands run in this process through runOras, as scripts/oras.ts runs them
// (a process each would cost seconds on a busy machine); the script itself, the package bin and
// `make oras` run as processes at the end.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { Clients } from "../../lib/oci/client.ts";
import { sha256Digest } from "../../lib/oci/digest.ts";
import { MEDIA_TYPE } from "../../lib/oci/manifest.ts";
import { UsageError } from "../../lib/errors.ts";
import { runOras } from "../../lib/oras/main.ts";
import { commandName, type DocsWorld, PAGES, prepare, runBuiltin, shownCommands, startDocsWorld } from "../docs-commands.ts";
import { PROJECT_ROOT, run, type Run, runScript, shownCommands as docCommands, skopeo, withRegistry } from "../helpers.ts";

// Manifests oras itself pushed (REFERENCE §1): the same files and created times must give these digests.
const GOLDEN = [
  { content: "v1.3.8 linux/arm64 image\n", title: "arm64", created: "2025-06-05T04:26:57Z", digest: "sha256:6aa11331ce0c766d6333b60dac98d584d98eea45fa93bbfc9b5bdb915ce3a43f" },
  { content: "v1.3.8 linux/amd64 image\n", title: "amd64", created: "2025-06-05T04:26:28Z", digest: "sha256:ab01d6e284e843d51fb5e753904a540f507a62361a5fd7e434e4f27b285ca5c9" },
];
const EMPTY = "44136fa355b3 application/vnd.oci.empty.v1+json";
const short = (digest: string) => digest.slice(7, 19);
const lines = (text: string) => text.split("\n").slice(0, -1);

/** One oras command, as scripts/oras.ts runs it: stdout, stderr, and exit 1 with oras's error text on failure. */
const oras = (args: string[], cwd = PROJECT_ROOT): Promise<Run> => runBuiltin(args, { cwd });

describe("scripts/oras.ts against a real registry", () => {
  const bench = withRegistry();
  /** `localhost:PORT`: oras talks plain HTTP to localhost without being told, so the README's commands work as written. */
  const host = () => bench.registry.address.replace("127.0.0.1", "localhost");
  const raw = (ref: string) => skopeo(["inspect", "--raw", "--tls-verify=false", `docker://${ref}`]);
  const workDir = (name: string) => {
    const dir = path.join(bench.work, name);
    mkdirSync(dir, { recursive: true });
    return dir;
  };

  it("pushes oras's golden vectors to oras's digests, printing oras's lines, and skopeo reads those bytes", async () => {
    const dir = workDir("golden");
    for (const [i, vector] of GOLDEN.entries()) {
      writeFileSync(path.join(dir, vector.title), vector.content);
      const ref = `${host()}/golden:${vector.title}`;
      const result = await oras(["push", "--annotation", `org.opencontainers.image.created=${vector.created}`, ref, vector.title], dir);
      assert.equal(result.code, 0, result.stderr);
      const out = lines(result.stdout);
      const layer = short(sha256Digest(vector.content));
      // Blobs go up concurrently, so their lines come in any order; the first push sends the empty config too.
      const config = i === 0 ? [`Uploading ${EMPTY}`, `Uploaded  ${EMPTY}`] : [`Exists    ${EMPTY}`];
      assert.deepEqual(out.slice(1, -3).sort(), [
        ...config,
        `Uploading ${layer} ${vector.title}`,
        `Uploaded  ${layer} ${vector.title}`,
        `Uploading ${short(vector.digest)} ${MEDIA_TYPE.ociManifest}`,
        `Uploaded  ${short(vector.digest)} ${MEDIA_TYPE.ociManifest}`,
      ].sort());
      assert.equal(out[0], `Preparing ${vector.title}`);
      assert.deepEqual(out.slice(-3), [`Pushed [registry] ${ref}`, "ArtifactType: application/vnd.unknown.artifact.v1", `Digest: ${vector.digest}`]);
      const stored = await raw(ref);
      assert.equal(sha256Digest(stored), vector.digest);
      const fetched = await oras(["manifest", "fetch", ref]);
      assert.equal(fetched.stdout, stored, "manifest fetch prints the stored bytes, compact, without a newline");
    }
  });

  it("pushes the same manifest again without sending anything, as oras does", async () => {
    const vector = GOLDEN[0];
    const ref = `${host()}/golden:again`;
    const result = await oras(["push", "--annotation", `org.opencontainers.image.created=${vector.created}`, ref, vector.title], path.join(bench.work, "golden"));
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(lines(result.stdout), [`Preparing ${vector.title}`, `Pushed [registry] ${ref}`, "ArtifactType: application/vnd.unknown.artifact.v1", `Digest: ${vector.digest}`]);
  });

  it("pushes under several tags, and --format json carries oras's fields, escaped as Go escapes them", async () => {
    const dir = workDir("multi");
    writeFileSync(path.join(dir, "card.json"), '{"name":"x"}');
    const text = await oras(["push", "--artifact-type", "application/vnd.example+json", `${host()}/multi:a,b,c`, "card.json:application/json"], dir);
    assert.equal(text.code, 0, text.stderr);
    assert.deepEqual(lines(text.stdout).filter((line) => !/^(Preparing|Uploading|Uploaded|Exists) /.test(line)).slice(0, 4), [
      `Pushed [registry] ${host()}/multi:a`,
      "Tagged b",
      "Tagged c",
      "ArtifactType: application/vnd.example+json",
    ]);
    const digest = text.stdout.match(/^Digest: (sha256:[a-f0-9]{64})$/m)![1];
    const tags = JSON.parse(await skopeo(["list-tags", "--tls-verify=false", `docker://${host()}/multi`])).Tags;
    assert.deepEqual([...tags].sort(), ["a", "b", "c"]);
    for (const tag of ["a", "b", "c"]) assert.equal(sha256Digest(await raw(`${host()}/multi:${tag}`)), digest);

    const json = await oras(["push", "--format", "json", "-a", "note=<a&b>", `${host()}/multi:d,e`, "card.json"], dir);
    assert.equal(json.code, 0, json.stderr);
    assert.match(json.stdout, /"note": "\\u003ca\\u0026b\\u003e"/);
    assert.ok(json.stdout.endsWith("}\n") && json.stdout.startsWith('{\n  "reference"'), "two-space indented, one trailing newline");
    const pushed = JSON.parse(json.stdout);
    assert.deepEqual(Object.keys(pushed), ["reference", "mediaType", "digest", "size", "annotations", "artifactType", "referenceAsTags"]);
    const stored = await raw(`${host()}/multi:d`);
    assert.equal(pushed.reference, `${host()}/multi@${sha256Digest(stored)}`);
    assert.equal(pushed.digest, sha256Digest(stored));
    assert.equal(pushed.size, Buffer.byteLength(stored));
    assert.equal(pushed.mediaType, MEDIA_TYPE.ociManifest);
    assert.deepEqual(pushed.annotations, JSON.parse(stored).annotations);
    assert.equal(pushed.annotations.note, "<a&b>");
    assert.equal(pushed.artifactType, "application/vnd.unknown.artifact.v1");
    assert.deepEqual(pushed.referenceAsTags, [`${host()}/multi:d`, `${host()}/multi:e`]);

    const untagged = await oras(["push", "--format", "json", `${host()}/multi`, "card.json"], dir);
    assert.equal(untagged.code, 0, untagged.stderr);
    assert.equal(JSON.parse(untagged.stdout).referenceAsTags, null, "oras's empty list of tags is Go's null");
  });

  it("pulls as oras prints it, and --format json names each file", async () => {
    const vector = GOLDEN[0];
    const ref = `${host()}/golden:${vector.title}`;
    const dir = workDir("pulled");
    const text = await oras(["pull", ref, "-o", "out"], dir);
    assert.equal(text.code, 0, text.stderr);
    const manifest = `${short(vector.digest)} ${MEDIA_TYPE.ociManifest}`;
    const layer = `${short(sha256Digest(vector.content))} ${vector.title}`;
    assert.deepEqual(lines(text.stdout), [
      `Downloading ${manifest}`,
      `Processing  ${manifest}`,
      `Downloading ${layer}`,
      `Downloaded  ${layer}`,
      `Downloaded  ${manifest}`,
      `Pulled [registry] ${ref}`,
      `Digest: ${vector.digest}`,
    ]);
    assert.equal(readFileSync(path.join(dir, "out", vector.title), "utf8"), vector.content);

    const json = await oras(["pull", "--format", "json", ref, "-o", "json-out"], dir);
    assert.equal(json.code, 0, json.stderr);
    assert.deepEqual(JSON.parse(json.stdout), {
      reference: `${host()}/golden@${vector.digest}`,
      files: [{
        path: path.join(dir, "json-out", vector.title),
        reference: `${host()}/golden@${sha256Digest(vector.content)}`,
        mediaType: MEDIA_TYPE.defaultLayer,
        digest: sha256Digest(vector.content),
        size: vector.content.length,
        annotations: { "org.opencontainers.image.title": vector.title },
      }],
    });
  });

  it("lists repositories and tags, in text and JSON, under a namespace, without digest tags when asked", async () => {
    const repos = await oras(["repo", "ls", host()]);
    assert.equal(repos.code, 0, repos.stderr);
    assert.ok(["golden", "multi"].every((name) => lines(repos.stdout).includes(name)), repos.stdout);
    const json = JSON.parse((await oras(["repo", "ls", host(), "--format", "json"])).stdout);
    assert.equal(json.registry, host());
    assert.deepEqual(json.repositories, lines(repos.stdout));

    const dir = workDir("ns");
    writeFileSync(path.join(dir, "a.txt"), "a");
    assert.equal((await oras(["push", `${host()}/team/one:v1`, "a.txt"], dir)).code, 0);
    const namespaced = await oras(["repo", "ls", `${host()}/team`]);
    assert.deepEqual(lines(namespaced.stdout), ["one"], "oras shows names under a namespace without it");

    const tags = await oras(["repo", "tags", `${host()}/golden`]);
    assert.deepEqual(lines(tags.stdout).sort(), ["again", "amd64", "arm64"]);
    assert.deepEqual(JSON.parse((await oras(["repo", "tags", "--format", "json", `${host()}/golden`])).stdout).tags, lines(tags.stdout));
    const same = await oras(["repo", "tags", `${host()}/golden:arm64`]);
    assert.deepEqual(lines(same.stdout).sort(), ["again", "arm64"], "a tag given: the tags of the same manifest");
    assert.match(same.stderr, /\[Experimental\] querying tags associated to sha256:/);
  });

  it("fetches the manifest as stored, --pretty as Go indents it, --descriptor and --format json", async () => {
    const ref = `${host()}/golden:amd64`;
    const stored = await raw(ref);
    const pretty = await oras(["manifest", "fetch", "--pretty", ref]);
    assert.equal(pretty.stdout, JSON.stringify(JSON.parse(stored), null, 2) + "\n");
    const descriptor = await oras(["manifest", "fetch", "--descriptor", ref]);
    assert.equal(descriptor.stdout, `{"mediaType":"${MEDIA_TYPE.ociManifest}","digest":"${GOLDEN[1].digest}","size":584}`);
    const json = JSON.parse((await oras(["manifest", "fetch", "--format", "json", ref])).stdout);
    assert.deepEqual(Object.keys(json), ["reference", "mediaType", "digest", "size", "content"]);
    assert.equal(json.reference, `${host()}/golden@${GOLDEN[1].digest}`);
    assert.deepEqual(json.content, JSON.parse(stored));
    assert.deepEqual(Object.keys(json.content), Object.keys(JSON.parse(stored)).sort(), "content is a Go map: keys sorted");
    const dir = workDir("fetched");
    const toFile = await oras(["manifest", "fetch", ref, "-o", "m.json"], dir);
    assert.equal(toFile.stdout, "");
    assert.equal(readFileSync(path.join(dir, "m.json"), "utf8"), stored);
  });

  it("resolves a tag to its digest, and with -l to the full reference", async () => {
    const ref = `${host()}/golden:arm64`;
    assert.equal((await oras(["resolve", ref])).stdout, `${GOLDEN[0].digest}\n`);
    assert.equal((await oras(["resolve", "-l", ref])).stdout, `${host()}/golden@${GOLDEN[0].digest}\n`);
  });

  it("copies within a repository silently, across repositories by mounting, with extra tags", async () => {
    const from = `${host()}/golden:arm64`;
    const within = await oras(["cp", from, `${host()}/golden:copy`]);
    assert.equal(within.code, 0, within.stderr);
    assert.deepEqual(lines(within.stdout), [`Copied [registry] ${from} => [registry] ${host()}/golden:copy`, `Digest: ${GOLDEN[0].digest}`]);
    const across = await oras(["cp", from, `${host()}/mirror/golden:v1,v2`]);
    assert.equal(across.code, 0, across.stderr);
    const out = lines(across.stdout);
    assert.deepEqual(out.slice(0, 2).sort(), [`Mounted ${EMPTY}`, `Mounted ${short(sha256Digest(GOLDEN[0].content))} arm64`].sort());
    assert.deepEqual(out.slice(2), [
      `Copying ${short(GOLDEN[0].digest)} ${MEDIA_TYPE.ociManifest}`,
      `Copied  ${short(GOLDEN[0].digest)} ${MEDIA_TYPE.ociManifest}`,
      `Copied [registry] ${from} => [registry] ${host()}/mirror/golden:v1`,
      "Tagged v2",
      `Digest: ${GOLDEN[0].digest}`,
    ]);
    for (const tag of ["v1", "v2"]) assert.equal(sha256Digest(await raw(`${host()}/mirror/golden:${tag}`)), GOLDEN[0].digest);
    const dir = path.join(bench.work, "skopeo-copy");
    await skopeo(["copy", "--src-tls-verify=false", `docker://${host()}/mirror/golden:v2`, `dir:${dir}`]);
    assert.equal(readFileSync(path.join(dir, sha256Digest(GOLDEN[0].content).slice(7)), "utf8"), GOLDEN[0].content);
  });

  it("tags a manifest under new tags, printing Tagging and Tagged as oras does", async () => {
    const result = await oras(["tag", `${host()}/golden:amd64`, "stable", "latest"]);
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(lines(result.stdout), [`Tagging [registry] ${host()}/golden@${GOLDEN[1].digest}`, "Tagged stable", "Tagged latest"]);
    for (const tag of ["stable", "latest"]) assert.equal(sha256Digest(await raw(`${host()}/golden:${tag}`)), GOLDEN[1].digest);
  });

  it("attaches a referrer that skopeo reads with its subject, and discovers it as a tree and as JSON", async () => {
    const subject = `${host()}/golden:amd64`;
    const dir = workDir("attach");
    writeFileSync(path.join(dir, "review.json"), '{"ok":true}');
    const attached = await oras(["attach", "--artifact-type", "application/vnd.example.review+json", "-a", "reviewer=alice", subject, "review.json:application/json"], dir);
    assert.equal(attached.code, 0, attached.stderr);
    const out = lines(attached.stdout);
    const digest = out.at(-1)!.replace("Digest: ", "");
    assert.equal(out[0], "Preparing review.json");
    assert.equal(out.at(-2), `Attached to [registry] ${host()}/golden@${GOLDEN[1].digest}`);
    const manifest = JSON.parse(await raw(`${host()}/golden@${digest}`));
    assert.deepEqual(manifest.subject, { mediaType: MEDIA_TYPE.ociManifest, digest: GOLDEN[1].digest, size: 584 });
    assert.equal(manifest.artifactType, "application/vnd.example.review+json");
    const index = JSON.parse(await raw(`${host()}/golden:${GOLDEN[1].digest.replace(":", "-")}`));
    assert.equal(index.mediaType, MEDIA_TYPE.ociIndex);
    assert.deepEqual(index.manifests.map((entry: { digest: string }) => entry.digest), [digest]);

    const second = await oras(["attach", "--format", "json", "--artifact-type", "application/vnd.example.note", subject, "-a", "text=hi"]);
    assert.equal(second.code, 0, second.stderr);
    const note = JSON.parse(second.stdout);
    assert.deepEqual(Object.keys(note), ["reference", "mediaType", "digest", "size", "annotations", "artifactType"]);
    assert.equal(note.artifactType, "application/vnd.example.note");
    assert.deepEqual(JSON.parse(await raw(`${host()}/golden@${note.digest}`)).layers, [{ mediaType: MEDIA_TYPE.empty, digest: sha256Digest("{}"), size: 2, data: "e30=" }]);

    const tree = await oras(["discover", subject]);
    assert.equal(tree.code, 0, tree.stderr);
    const createdOf = async (d: string) => JSON.parse(await raw(`${host()}/golden@${d}`)).annotations["org.opencontainers.image.created"];
    const [reviewCreated, noteCreated] = [await createdOf(digest), await createdOf(note.digest)];
    assert.equal(tree.stdout, [
      `${host()}/golden@${GOLDEN[1].digest}`,
      "├── application/vnd.example.review+json",
      `│   └── ${digest}`,
      "│       └── [annotations]",
      `│           ├── org.opencontainers.image.created: "${reviewCreated}"`,
      "│           └── reviewer: alice",
      "└── application/vnd.example.note",
      `    └── ${note.digest}`,
      "        └── [annotations]",
      `            ├── org.opencontainers.image.created: "${noteCreated}"`,
      "            └── text: hi",
      "",
    ].join("\n"));

    const json = JSON.parse((await oras(["discover", "--format", "json", "--artifact-type", "application/vnd.example.note", subject])).stdout);
    assert.deepEqual(json, {
      reference: `${host()}/golden@${GOLDEN[1].digest}`,
      mediaType: MEDIA_TYPE.ociManifest,
      digest: GOLDEN[1].digest,
      size: 584,
      referrers: [{ ...note, referrers: [] }],
    });
  });

  it("fails as oras fails: `Error: …` or `Error response from registry: …` on stderr, exit 1, nothing on stdout", async () => {
    const cases: [string[], RegExp][] = [
      [["pull", `${host()}/golden:v9`], /^Error response from registry: localhost:\d+\/golden:v9: not found\n$/],
      [["pull", `${host()}/golden`], /^Error: "localhost:\d+\/golden": no tag or digest specified\nUsage: oras pull \[flags\]/],
      [["push", "--colour", `${host()}/x:v1`, "a"], /^Error: unknown flag: --colour\n/],
      [["push", "--oci-layout", `${host()}/x:v1`, "a"], /^Error: --oci-layout is an oras flag this client does not support\n/],
      [["cp", "-r", `${host()}/golden:amd64`, `${host()}/y:v1`], /^Error: -r \(--recursive\) is an oras flag this client does not support\n/],
      [["discover", "--format", "table", `${host()}/golden:amd64`], /^Error: --format table is an oras format this client does not support\n/],
      [["repo", "tags", "--format", "yaml", `${host()}/golden`], /^Error: invalid format type: "yaml"\nsupported types: text, json\n$/],
      [["manifest", "fetch", "--pretty", "--format", "text", `${host()}/golden:amd64`], /^Error: --format, --pretty cannot be used at the same time\n$/],
      [["resolve"], /^Error: "oras resolve" requires exactly 1 argument but got 0\nUsage: oras resolve/],
      [["attach", `${host()}/golden:amd64`, "a"], /^Error: required flag\(s\) "artifact-type" not set\n/],
      [["push", `${host()}/x:v1`, "/etc/hostname"], /^Error: absolute file paths are insecure and not recommended/],
      [["frobnicate"], /^Error: unknown command "frobnicate" for "oras"\n/],
      [["push", "-a", "novalue", `${host()}/x:v1`], /^Error: annotation value doesn't match the required format\n/],
    ];
    for (const [args, expected] of cases) {
      const result = await oras(args);
      assert.equal(result.code, 1, `${args.join(" ")}: ${result.stderr}`);
      assert.match(result.stderr, expected, args.join(" "));
      assert.equal(result.stdout, "", args.join(" "));
    }
    assert.ok(!(await oras(["repo", "ls", host()])).stdout.includes("x\n"), "nothing was pushed by the refused commands");
  });

  it("prints help for the tool and for each command, with a literal example, and exits 0", async () => {
    const tool = await oras(["--help"]);
    assert.equal(tool.code, 0);
    for (const command of ["push", "pull", "attach", "discover", "resolve", "cp", "tag", "repo ls", "repo tags", "manifest fetch"]) {
      assert.match(tool.stdout, new RegExp(`^  ${command} `, "m"));
      const help = await oras([...command.split(" "), "--help"]);
      assert.equal(help.code, 0, command);
      assert.match(help.stdout, new RegExp(`^Example - .*:\\n  oras ${command} `, "m"), command);
      assert.match(help.stdout, new RegExp(`^Usage:\\n  oras ${command} \\[flags\\]`, "m"), command);
      assert.match(help.stdout, /^ {2}-h, --help {2,}help for /m, command);
    }
  });

  it("runs as its own process: output on stdout, oras's error text on stderr, exit 0 or 1", async () => {
    const resolved = await runScript("oras", ["resolve", `${host()}/golden:arm64`]);
    assert.deepEqual(resolved, { code: 0, stdout: `${GOLDEN[0].digest}\n`, stderr: "" });
    const missing = await runScript("oras", ["resolve", `${host()}/golden:v9`]);
    assert.deepEqual(missing, { code: 1, stdout: "", stderr: `Error response from registry: failed to resolve digest: ${host()}/golden:v9: not found\n` });
    const usage = await runScript("oras", ["resolve", "--colour"]);
    assert.equal(usage.code, 1, "oras exits 1 for usage errors too");
    assert.match(usage.stderr, /^Error: unknown flag: --colour\n/);
  });

  it("runs as `make oras ARGS=…`, taking ARGS as text: no shell and no make code in it ever runs", async () => {
    const marker = path.join(bench.work, "pwned");
    const make = (args: string) => run("make", ["-s", "--no-print-directory", "-o", "node_modules/.package-lock.json", "oras", `ARGS=${args}`, "RUNTIME=deno"]);
    const listed = await make(`repo tags '${host()}/golden'`);
    assert.equal(listed.code, 0, listed.stderr);
    assert.deepEqual(lines(listed.stdout).sort(), ["again", "amd64", "arm64", "copy", GOLDEN[1].digest.replace(":", "-"), "latest", "stable"].sort());
    for (const hostile of [`repo ls $(touch ${marker})`, `repo ls \`touch ${marker}\``, `resolve; touch ${marker}`, `$(shell touch ${marker})`]) {
      const result = await make(hostile);
      assert.equal(result.code, 2, `make passes on oras's exit 1 as its own 2: ${hostile}\n${result.stderr}`);
      assert.match(result.stderr, /^Error: /m, hostile);
      assert.equal(existsSync(marker), false, hostile);
    }
    const quoted = await make(`manifest fetch --descriptor "${host()}/golden:amd64"`);
    assert.equal(quoted.stdout, `{"mediaType":"${MEDIA_TYPE.ociManifest}","digest":"${GOLDEN[1].digest}","size":584}`);
  });
});

describe("the package bin", () => {
  it("is scripts/oras.ts, which runs by itself where npm puts deno on PATH", async () => {
    const pkg = JSON.parse(readFileSync(path.join(PROJECT_ROOT, "package.json"), "utf8"));
    assert.equal(pkg.bin["oras-lite"], "scripts/oras.ts");
    const PATH = `${path.join(PROJECT_ROOT, "node_modules/.bin")}${path.delimiter}${process.env.PATH}`;
    const result = await run(path.join(PROJECT_ROOT, pkg.bin["oras-lite"]), ["resolve", "--help"], { env: { PATH } });
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^Usage:\n {2}oras resolve \[flags\]/m);
  });
});

describe("oras --help", () => {
  it("suggests running it only as docs/oras.md shows, each of which runs on a fresh machine (the docs' command test runs them)", async () => {
    const help = await oras(["--help"]);
    const suggested = help.stdout.slice(help.stdout.indexOf("Run it as one of")).split("\n").slice(1).filter((line) => line.startsWith("  ")).map((line) => line.trim());
    assert.equal(suggested.length, 4, help.stdout);
    const shown = docCommands("docs/oras.md").map(({ command }) => command.trim());
    for (const command of suggested) assert.ok(shown.includes(command), `oras --help suggests ${command}, which docs/oras.md does not show`);
  });
});


describe("the oras commands README.md and docs/ show", () => {
  let world: DocsWorld;
  const saved = process.env.DOCKER_CONFIG;
  let readmeRan: Promise<void> | undefined;

  before(async () => {
    world = await startDocsWorld();
    // `oras login` on a page writes where DOCKER_CONFIG says, and later commands read it there.
    process.env.DOCKER_CONFIG = world.dockerConfig;
  });
  after(async () => {
    if (saved === undefined) delete process.env.DOCKER_CONFIG;
    else process.env.DOCKER_CONFIG = saved;
    await world?.stop();
  });

  /** Runs each of a page's commands as written, in order; outside Troubleshooting each must succeed, and none may be refused. */
  async function runPage(page: string): Promise<void> {
    for (const command of shownCommands(page)) {
      const where = `${page}:${command.line}: ${command.text}`;
      const { args, cwd, input } = prepare(command, world);
      let failure: unknown;
      await runOras(args, { cwd, out: () => {}, stdin: input === undefined ? undefined : () => Promise.resolve(input), clients: new Clients(10_000) })
        .catch((error) => (failure = error));
      assert.ok(!(failure instanceof UsageError), `${where}\nrefused: ${(failure as Error)?.message}`);
      if (!command.troubleshooting) assert.equal(failure, undefined, `${where}\nfailed: ${(failure as Error)?.message}`);
    }
  }
  /** README.md's commands, once: the other pages' commands use what its walkthrough pushed. */
  const runReadme = () => (readmeRan ??= runPage("README.md"));

  for (const page of PAGES) {
    it(`${page}: each runs as written against real registries, in page order: outside Troubleshooting they succeed, none is refused`, async () => {
      await runReadme();
      if (page !== "README.md") await runPage(page);
    });
  }

  it("every oras command the client runs is shown on some page, and the walkthrough's in README.md", () => {
    const shown = new Set(PAGES.flatMap((page) => shownCommands(page).map(({ args }) => commandName(args))));
    for (const name of ["push", "repo ls", "repo tags", "manifest fetch", "resolve", "pull", "cp", "tag", "attach", "discover", "login"]) {
      assert.ok(shown.has(name), `no page shows an oras ${name} to run`);
    }
    const walkthrough = new Set(shownCommands("README.md").filter(({ troubleshooting }) => !troubleshooting).map(({ args }) => commandName(args)));
    for (const name of ["push", "repo ls", "repo tags", "manifest fetch", "resolve", "pull", "attach", "cp"]) {
      assert.ok(walkthrough.has(name), `README.md's walkthrough shows no oras ${name} to run`);
    }
  });
});
