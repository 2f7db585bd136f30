// Phase 5 with real parts: a real registry, the packages `make packages` publishes signed with a
// key `make keygen` made, agents started by `make run` under Deno's sandbox, and the official A2A
// SDK's client talking to them, each answer checked against its card's output_schema. Then what
// can go wrong: a package whose card is unsigned, signed by a key not trusted, or changed since it
// was signed, a sandbox that stops a package reaching beyond its own, an agent killed outright, two
// runs at once, a package whose digest fails, an upgrade that never becomes healthy, Ctrl-C in the
// middle of a pull, a port or an agent that is not ours. Every agent is run on a free port:
// 8001-8003 may be taken here.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { createServer } from "node:http";
import path from "node:path";
import { agentClient, dataMessage, outcome } from "../../lib/agents/client.ts";
import { NEEDS_ANNOTATION, PACKAGE_LAYERS, PACKAGE_TYPE, packageClaim, packageRepository, RUNS_TESTS } from "../../lib/agents/package.ts";
import { commandLine, liveCard, portTaken, terminate } from "../../lib/agents/process.ts";
import { type AgentState, AgentRuns } from "../../lib/agents/runs.ts";
import { skillValidators } from "../../lib/agents/skills.ts";
import { projectDeno } from "../../lib/executables.ts";
import { fetchImageManifest, pushArtifact } from "../../lib/oci/artifacts.ts";
import { sha256Digest } from "../../lib/oci/digest.ts";
import { type Descriptor, TITLE_ANNOTATION } from "../../lib/oci/manifest.ts";
import { Registry } from "../../lib/oci/registry.ts";
import { freePort } from "../../lib/registry-server.ts";
import { readSigningKey } from "../../lib/trust/keys.ts";
import { signCard } from "../../lib/trust/signatures.ts";
import { blobDataPath, cardsDir, fixtureCard, run, type Run, RUNTIME, runScript, skopeo, startFaultProxy, startScript, withRegistry } from "../helpers.ts";

/** The pids of the agent processes whose command line names `dir`. */
const agentsIn = (dir: string) =>
  execFileSync("ps", ["-eo", "pid=,args="], { encoding: "utf8" }).split("\n")
    .filter((line) => line.includes(dir) && line.includes("agent.js"))
    .map((line) => Number(line.trim().split(/\s+/)[0]));

/** message/send's (and message/stream's) parameters as A2A 0.3 writes them on the wire. */
const paramsV03 = (data: unknown) => ({ message: { kind: "message", role: "user", messageId: "m1", parts: [{ kind: "data", data }] } });

describe("Phase 5: agents run from a real registry", () => {
  const bench = withRegistry();
  let env: Record<string, string>;
  /** The key make packages signs with, which TRUST_STORE trusts for the test registry. */
  const key = () => path.join(bench.work, "keys/publisher.key.pem");
  const script = (name: string, args: string[] = [], extra: Record<string, string> = {}) => runScript(name, args, { ...env, ...extra }, bench.work);
  const succeeded = (result: Run, what: string) => assert.equal(result.code, 0, `${what} failed:\n${result.stdout}\n${result.stderr}`);
  const runs = () => new AgentRuns(env.AGENTS_DIR);
  const state = async (agent: string) => (await runs().state(agent)) as AgentState;
  /** make run of `agent` on a free port; its state afterwards. */
  const runAgent = async (agent: string, extra: Record<string, string> = {}) => {
    const result = await script("run", ["--json"], { AGENT: agent, PORT: String(await freePort()), ...extra });
    succeeded(result, `make run AGENT=${agent}`);
    return JSON.parse(result.stdout).agent as AgentState;
  };
  const stop = async (agent: string) => succeeded(await script("stop", [], { AGENT: agent }), `make stop AGENT=${agent}`);
  /** Each agent's card as make packages signed it, in its package. */
  const packaged = (agent: string) => readFileSync(path.join(bench.work, "tmp/packages", agent, PACKAGE_LAYERS.card.title));
  /** The plan card signed with the trusted key, as make packages signs it, for `module`. */
  const signedFor = async (module: Uint8Array) =>
    new TextEncoder().encode(JSON.stringify(await signCard(JSON.parse(fixtureCard("plan").toString()), await readSigningKey(key()), packageClaim(sha256Digest(module), [])), null, 2));
  /** A package of our own making for `agent`: `module` as its implementation, and the plan card, signed for it unless another `card` is given. */
  const pushPackage = async (agent: string, tag: string, module: string, card?: Uint8Array) => {
    const code = new TextEncoder().encode(module);
    return await pushArtifact(new Registry(bench.registry.address).repository(packageRepository(agent)), tag, [
      { ...PACKAGE_LAYERS.card, bytes: card ?? await signedFor(code) },
      { ...PACKAGE_LAYERS.module, bytes: code },
    ], { artifactType: PACKAGE_TYPE });
  };
  /** Nothing of `agent` runs or is recorded, its port is free, and no pull was left half done. */
  const nothingStarted = async (agent: string, port: number) => {
    assert.equal(await runs().state(agent), undefined);
    assert.equal(await portTaken(port), false);
    assert.deepEqual(agentsIn(runs().dir(agent)), []);
    assert.deepEqual(readdirSync(runs().dir(agent)).filter((name) => name.startsWith(".unpack-")), []);
  };
  const agentsJson = async (extra: Record<string, string> = {}) => {
    const result = await script("agents", ["--json"], extra);
    succeeded(result, "make agents");
    return JSON.parse(result.stdout).agents as { agent: string; tag?: string; digest?: string; pid?: number; health: string; drift?: string; permissions?: string[]; may?: string }[];
  };

  before(async () => {
    env = {
      ...bench.env,
      AGENTS_DIR: path.join(bench.work, "agents"),
      WORKSPACE: path.join(bench.work, "workspace"),
      HEALTH_TIMEOUT: "30",
      TRUST_STORE: path.join(bench.work, "keys/trust.json"),
    };
    succeeded(await script("push"), "make push");
    // An Ed25519 key, whose signatures are the same bytes each time: make packages TAG=v2 signs plan's card as v1's.
    succeeded(await script("keygen", [], { KEY: key(), ALG: "EdDSA" }), "make keygen");
    succeeded(await script("packages", [], { KEY: key() }), "make packages");
  });

  // Whatever a test left running is stopped, failed tests included.
  after(async () => {
    for (const pid of agentsIn(bench.work)) await terminate(pid);
  });

  it("publishes each package as skopeo, a client that shares no code with ours, reads it: the card as published and signed, then the module", async () => {
    for (const agent of ["plan", "build", "test"]) {
      const source = `docker://${bench.registry.address}/${packageRepository(agent)}:v1`;
      const manifest = JSON.parse(await skopeo(["inspect", "--raw", "--tls-verify=false", source]));
      assert.equal(manifest.artifactType, PACKAGE_TYPE);
      assert.deepEqual(manifest.layers.map((layer: Descriptor) => [layer.mediaType, layer.annotations?.[TITLE_ANNOTATION]]), [
        ["application/a2a-agent-card+json", "agent-card.json"],
        ["text/javascript", "agent.js"],
      ]);
      assert.equal(manifest.layers[0].digest, sha256Digest(packaged(agent)));
      const { signatures, ...signed } = JSON.parse(packaged(agent).toString());
      assert.equal(signatures.length, 1);
      assert.deepEqual(signed, JSON.parse(fixtureCard(agent).toString()), "the card as published, a signature added");
      assert.equal(JSON.parse(fixtureCard(agent).toString()).signatures, undefined, "the fixture is left as it is");
      assert.equal(manifest.annotations[NEEDS_ANNOTATION], agent === "test" ? RUNS_TESTS : undefined);
    }
  });

  it("runs each agent from the registry; the SDK's client gets answers that match each skill's output_schema", async () => {
    const started = { plan: await runAgent("plan"), build: await runAgent("build"), test: await runAgent("test") };
    for (const [agent, agentState] of Object.entries(started)) {
      assert.ok(Buffer.from((await liveCard(agentState.url))!).equals(packaged(agent)), `${agent} serves its card byte for byte`);
    }
    const ask = async (agent: keyof typeof started, input: unknown) => {
      const { client, card } = await agentClient(started[agent].url);
      const answer = outcome(await client.sendMessage(dataMessage(input)));
      if (answer.output) {
        const valid = skillValidators(card).output;
        assert.ok(valid(answer.output), `${agent}'s answer fails its output_schema: ${JSON.stringify(valid.errors)}`);
      }
      return { ...answer, client };
    };

    const plan = await ask("plan", { requirements: "List open todos, then close one by id", max_steps: 4 });
    assert.equal(plan.state, "completed");
    assert.deepEqual((plan.output!.steps as { title: string }[]).map((step) => step.title), ["Agree on the scope", "List open todos", "Close one by id", "Test and review"]);
    const streamed = [];
    for await (const event of plan.client.sendMessageStream(dataMessage({ requirements: "Add a login page" }))) streamed.push(event.payload?.$case);
    assert.deepEqual(streamed, ["task", "statusUpdate", "artifactUpdate", "statusUpdate"], "plan streams, as its card says");

    const build = await ask("build", { instructions: "Read the todos, then list the open ones", language: "typescript" });
    assert.equal(build.state, "completed");
    const project = path.join(env.WORKSPACE, "todos");
    for (const file of build.output!.files as { path: string; content: string }[]) {
      await mkdir(path.dirname(path.join(project, file.path)), { recursive: true });
      await writeFile(path.join(project, file.path), file.content);
    }
    const refused = await ask("build", { instructions: "" });
    assert.equal(refused.state, "rejected");
    assert.match(refused.says!, /input does not match the skill's input_schema: .*must have required property 'language'/);

    const tested = await ask("test", { project_path: "todos" });
    assert.equal(tested.state, "completed");
    assert.deepEqual({ ...tested.output, duration_ms: 0 }, { passed: 3, failed: 0, skipped: 0, failures: [], duration_ms: 0 });
    assert.equal((await ask("test", { project_path: "../.." })).state, "rejected", "a project outside the workspace");
    const rpc = await fetch(started.test.url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "message/stream", params: paramsV03({ project_path: "todos" }) }),
    });
    assert.match(JSON.stringify(await rpc.json()), /requires streaming capability/, "the test agent's card says streaming: false");

    const listed = await agentsJson();
    assert.deepEqual(listed.map((row) => [row.agent, row.tag, row.digest, row.pid, row.health]), Object.values(started).map((s) => [s.agent, "v1", s.digest, s.pid, "healthy"]));
    assert.deepEqual(listed[2].permissions, [
      `--allow-net=127.0.0.1:${started.test.port}`,
      `--allow-read=${runs().packageDir("test", started.test.digest)},${env.WORKSPACE}`,
      `--allow-run=${projectDeno()}`,
    ]);
    assert.match((await script("logs", [], { AGENT: "plan" })).stdout, /plan-agent 1\.0\.0 serves create_plan at http:\/\/127\.0\.0\.1:\d+\//);
    for (const agent of Object.keys(started)) await stop(agent);
    for (const agentState of Object.values(started)) assert.equal(commandLine(agentState.pid), undefined, `${agentState.agent} is stopped`);
    assert.deepEqual(await runs().known(), []);
  });

  it("starts only a package whose card a trusted key signed for its code, by default; refuses an unsigned, an untrusted, a changed and a repackaged one, starting nothing", async () => {
    const module = readFileSync(path.join(bench.work, "tmp/packages/plan/agent.js"), "utf8");
    // Signed by a key of its own, which a trust store of its own trusts, not the one make run reads.
    const strangerKey = path.join(bench.work, "stranger/publisher.key.pem");
    succeeded(await script("keygen", [], { KEY: strangerKey, TRUST_STORE: path.join(bench.work, "stranger/trust.json") }), "make keygen of a stranger's key");
    const strangers = cardsDir(bench.work);
    succeeded(await script("sign", [], { CARD: path.join(strangers, "plan_agent_card.json"), KEY: strangerKey }), "make sign with the stranger's key");
    // Signed by the trusted key, then changed and pushed again: its signature no longer matches.
    const changed = new TextEncoder().encode(packaged("plan").toString().replace("Creates structured", "Crafts structured"));
    assert.notDeepEqual(changed, new Uint8Array(packaged("plan")));
    await pushPackage("unsigned", "v1", module, fixtureCard("plan"));
    await pushPackage("stranger", "v1", module, readFileSync(path.join(strangers, "plan_agent_card.json")));
    await pushPackage("changed", "v1", module, changed);
    // The signed card, packaged with code of someone else's.
    await pushPackage("repackaged", "v1", "console.log('not plan');\n", packaged("plan"));
    const refusals: [string, RegExp][] = [
      ["unsigned", /: not signed; refusing to start it \(VERIFY=require\)\n.*make keygen makes a key once, make packages KEY=.*\n.*or VERIFY=if-present runs unsigned code knowingly/],
      ["stranger", /: its signature does not count: key \S+ is not in the trust store \S+trust\.json; refusing to start it \(VERIFY=require\)\n.*add it to \S+trust\.json/],
      ["changed", /: its signature does not count: does not match the card: it was changed after key \S+ signed it.*; refusing to start it \(VERIFY=require\)\n.*do not use it/],
      ["repackaged", /: its signature does not count: key \S+ signed it for other contents \(vnd\.pallet\.agent\.package \{"module":"sha256:[0-9a-f]{64}","needs":\[\]\}\), not .*; refusing to start it/],
    ];
    for (const [agent, said] of refusals) {
      const port = await freePort();
      const result = await script("run", [], { AGENT: agent, PORT: String(port) });
      assert.equal(result.code, 1, `${agent}:\n${result.stdout}\n${result.stderr}`);
      assert.match(result.stderr, said);
      await nothingStarted(agent, port);
    }
    // Unsigned code runs when asked knowingly (tests/unit/agents.test.ts has the rest of if-present).
    const knowingly = await script("run", [], { AGENT: "unsigned", PORT: String(await freePort()), VERIFY: "if-present" });
    succeeded(knowingly, "make run AGENT=unsigned VERIFY=if-present");
    assert.match(knowingly.stderr, /! unsigned v1's card: not signed; starting it unchecked \(VERIFY=if-present\)/);
    await stop("unsigned");
  });

  it("stops a package that reads outside its own directory, and one that listens on another port", async () => {
    await pushPackage("evil-read", "v1", 'import { readFileSync } from "node:fs";\nreadFileSync("/etc/passwd");\n');
    await pushPackage("evil-net", "v1", 'import net from "node:net";\nconst port = Number(process.argv[process.argv.indexOf("--port") + 1]);\nnet.createServer().listen(port + 1, "127.0.0.1");\n');
    for (const [agent, denied] of [["evil-read", /Requires read access to "\/etc\/passwd"/], ["evil-net", /Requires net access to "127\.0\.0\.1:\d+"/]] as const) {
      const port = await freePort();
      const result = await script("run", [], { AGENT: agent, PORT: String(port) });
      assert.equal(result.code, 1, result.stderr);
      assert.match(result.stderr, /did not become healthy: it exited with code 1/);
      assert.match(result.stderr, denied);
      assert.equal(await runs().state(agent), undefined);
      assert.equal(await portTaken(port + 1), false);
    }
  });

  it("shows an agent killed outright as dead, and RESTART=1 starts it again from the same digest, its signature checked again without the registry", async () => {
    const first = await runAgent("plan");
    process.kill(first.pid, "SIGKILL");
    while (commandLine(first.pid) !== undefined) await new Promise((resolve) => setTimeout(resolve, 20));
    assert.deepEqual((await agentsJson({ AGENTS: "plan" }))[0].health, "dead");
    const offline = { AGENTS: "plan", RESTART: "1", REGISTRY: `localhost:${await freePort()}` };
    const distrusted = await script("agents", [], { ...offline, TRUST_STORE: path.join(bench.work, "no-trust.json") });
    assert.equal(distrusted.code, 1, distrusted.stderr);
    assert.match(distrusted.stderr, /its signature does not count: key \S+ is not in the trust store \S+no-trust\.json; refusing to start it \(VERIFY=require\)/);
    assert.equal(commandLine((await state("plan")).pid), undefined, "still dead");
    const [again] = await agentsJson(offline);
    assert.equal(again.health, "healthy");
    assert.equal(again.digest, first.digest);
    assert.notEqual(again.pid, first.pid);
    await stop("plan");
  });

  it("starts one agent when two make run of it run at once", async () => {
    const port = String(await freePort());
    const [a, b] = await Promise.all([0, 1].map(() => script("run", [], { AGENT: "build", PORT: port })));
    succeeded(a, "the first make run");
    succeeded(b, "the second make run");
    assert.equal([a, b].filter((result) => /runs v1 \(sha256:[0-9a-f]{12}\) already/.test(result.stdout)).length, 1);
    const running = await state("build");
    assert.deepEqual(agentsIn(runs().packageDir("build", running.digest)), [running.pid]);
    await stop("build");
  });

  it("refuses a package whose digest fails, in the registry or in its run directory, and starts nothing", async () => {
    const { manifest } = await pushPackage("tampered", "v1", readFileSync(path.join(bench.work, "tmp/packages/plan/agent.js"), "utf8"));
    const good = await runAgent("tampered");
    await stop("tampered");
    writeFileSync(path.join(runs().packageDir("tampered", good.digest), "agent.js"), "console.log('changed');\n");
    const port = await freePort();
    let result = await script("run", [], { AGENT: "tampered", PORT: String(port) });
    assert.equal(result.code, 1);
    assert.match(result.stderr, /: agent\.js is not sha256:[0-9a-f]{64}; refusing to start it/);
    assert.equal(await portTaken(port), false);

    const other = await pushPackage("tampered", "v2", "console.log('v2');\n");
    const blob = blobDataPath(bench.registry.storageDir, other.manifest.layers[1].digest);
    writeFileSync(blob, "console.log('v3');\n");
    result = await script("run", [], { AGENT: "tampered", TAG: "v2", PORT: String(port) });
    assert.equal(result.code, 1);
    assert.match(result.stderr, /failed verification/);
    assert.equal(existsSync(runs().packageDir("tampered", other.descriptor.digest)), false, "nothing of it was unpacked");
    assert.deepEqual(readdirSync(runs().dir("tampered")).filter((name) => name.startsWith(".unpack-")), []);
    assert.equal(await runs().state("tampered"), undefined);
    assert.equal(await portTaken(port), false);
    assert.notEqual(manifest.layers[1].digest, other.manifest.layers[1].digest);
  });

  it("rolls an upgrade that never becomes healthy back, so the old version serves; upgrades and rolls back a good one", async () => {
    const v1 = await runAgent("plan");
    await pushPackage("plan", "never", "setInterval(() => {}, 1000);\n");
    const failed = await script("upgrade", [], { AGENT: "plan", TO: "never", HEALTH_TIMEOUT: "4" });
    assert.equal(failed.code, 1, failed.stderr);
    assert.match(failed.stdout, /plan never \(sha256:[0-9a-f]{12}\) did not become healthy: its card URL did not serve its card within 4 s/);
    assert.match(failed.stderr, /rolled back: v1 \(sha256:[0-9a-f]{12}\) serves again at http:\/\/localhost:\d+/);
    const back = await state("plan");
    assert.deepEqual([back.tag, back.digest, back.port], ["v1", v1.digest, v1.port]);
    assert.ok(Buffer.from((await liveCard(back.url))!).equals(packaged("plan")));

    succeeded(await script("packages", [], { AGENTS: "plan", TAG: "v2", SOURCE_DATE_EPOCH: "1767312000", KEY: key() }), "make packages TAG=v2");
    succeeded(await script("upgrade", [], { AGENT: "plan", TO: "v2" }), "make upgrade TO=v2");
    const v2 = await state("plan");
    assert.deepEqual([v2.tag, v2.previous], ["v2", { tag: "v1", digest: v1.digest, registry: bench.registry.address }]);
    assert.notEqual(v2.digest, v1.digest);
    succeeded(await script("rollback", [], { AGENT: "plan" }), "make rollback");
    assert.deepEqual([(await state("plan")).tag, (await state("plan")).digest], ["v1", v1.digest]);
    await stop("plan");
  });

  it("leaves no half-unpacked run directory when make run is interrupted during the pull", async () => {
    const proxy = await startFaultProxy(bench.registry.address);
    const agentsDir = path.join(bench.work, "interrupted");
    try {
      const { manifest } = await fetchImageManifest(new Registry(bench.registry.address).repository(packageRepository("test")), "v1");
      const held = proxy.hold("GET", new RegExp(`/blobs/${manifest.layers[1].digest}$`));
      const port = await freePort();
      const running = startScript("run", [], { ...env, REGISTRY: proxy.address, AGENTS_DIR: agentsDir, AGENT: "test", PORT: String(port) }, bench.work);
      await held;
      // Sent past the ChildProcess object: Deno's would report the signal, not the exit code the handler chose.
      process.kill(running.child.pid!, "SIGINT");
      const result = await running.done;
      assert.equal(result.code, 130, result.stderr);
      assert.match(result.stderr, /interrupted by SIGINT/);
      // Nothing unpacked, half or whole; only the lock of the interrupted run, which the next one takes over.
      assert.deepEqual(readdirSync(path.join(agentsDir, "test")), ["lock"]);
      assert.equal(await portTaken(port), false);
    } finally {
      await proxy.stop();
    }
  });

  it("refuses to stop, or take the port of, an agent it did not start, and shows its drift", async () => {
    const port = await freePort();
    const foreign = fixtureCard("plan").toString().replace("http://localhost:8001", `http://localhost:${port}`);
    const cards = cardsDir(bench.work, { "plan_agent_card.json": foreign });
    succeeded(await script("push", [], { AGENTS: "plan", TAG: "phase2", CARDS_DIR: cards }), "make push TAG=phase2");
    let served = foreign;
    const phase2 = createServer((_, response) => response.end(served));
    await new Promise<void>((resolve) => phase2.listen(port, "127.0.0.1", resolve));
    try {
      assert.deepEqual((await agentsJson({ AGENTS: "plan", TAG: "phase2" }))[0], { agent: "plan", url: `http://localhost:${port}`, health: "not started here" });
      served = foreign.replace("1.0.0", "1.0.1");
      assert.equal((await agentsJson({ AGENTS: "plan", TAG: "phase2" }))[0].drift, "live card differs from agents/plan:phase2");
      const stopped = await script("stop", [], { AGENT: "plan", TAG: "phase2" });
      assert.equal(stopped.code, 2);
      assert.match(stopped.stderr, new RegExp(`an agent answers at http://localhost:${port}, but make run did not start it; refusing to stop it`));
      const taken = await script("run", [], { AGENT: "plan", PORT: String(port) });
      assert.equal(taken.code, 2);
      assert.match(taken.stderr, new RegExp(`port ${port} is taken by an agent whose card differs from plan v1 \\(drift\\); not taking it over`));
    } finally {
      await new Promise((resolve) => phase2.close(resolve));
    }
  });
});

describe("make phase5", () => {
  const bench = withRegistry();
  after(async () => {
    for (const pid of agentsIn(bench.work)) await terminate(pid);
  });

  it("runs Phase 5 end to end: a key, packages signed with it, the three agents run and asked in turn, an upgrade and a rollback", async () => {
    const ports = [await freePort(), await freePort(), await freePort()];
    const result = await run("make", ["--no-print-directory", "phase5"], {
      env: {
        ...bench.env,
        RUNTIME,
        PORTS: ports.join(","),
        AGENTS_DIR: path.join(bench.work, "agents"),
        WORKSPACE: path.join(bench.work, "workspace"),
        KEY: path.join(bench.work, "keys/publisher.key.pem"),
        TRUST_STORE: path.join(bench.work, "keys/trust.json"),
      },
    });
    assert.equal(result.code, 0, `${result.stdout}\n${result.stderr}`);
    for (const said of [
      `✓ ${path.join(bench.work, "keys/trust.json")} now trusts it for ${bench.registry.address}`,
      "✓ signed plan's card for that agent.js with",
      `✓ plan v1's card: signed by`,
      `✓ test v1 is healthy at http://localhost:${ports[2]}`,
      "✓ completed; the answer matches generate_code's output_schema",
      '"passed": 3,',
      "✓ plan upgraded from v1 to v2",
      "✓ plan rolled back from v2 to v1",
      "✓ Phase 5 done",
    ]) assert.ok(result.stdout.includes(said), `phase5 did not say ${said}:\n${result.stdout}`);
  });

  it("leaves no agent running after make clean's stop --all, which names each it stops", async () => {
    const running = agentsIn(bench.work);
    assert.equal(running.length, 3, "make phase5 left its three agents running");
    const result = await runScript("stop", ["--all"], { ...bench.env, AGENTS_DIR: path.join(bench.work, "agents") }, bench.work);
    assert.equal(result.code, 0, result.stderr);
    for (const agent of ["plan", "build", "test"]) assert.match(result.stdout, new RegExp(`✓ stopped ${agent} v1 \\(pid \\d+, http://localhost:\\d+\\)`));
    assert.deepEqual(agentsIn(bench.work), []);
    assert.deepEqual(await new AgentRuns(path.join(bench.work, "agents")).known(), []);
  });
});
