// The Makefile as a user drives it: values that try to run code, a registry that never answers,
// registries per address, the tools `make test` installs, and the bundles Node runs.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { $ } from "zx";
import { readIndex } from "../../lib/discovery/catalog-index.ts";
import { collect, Registry } from "../../lib/oci/registry.ts";
import { DEFAULT_CONFIG_FILE, freePort, registryAnswers, startDistribution } from "../../lib/registry-server.ts";
import { optionsHelp } from "../../lib/step/options.ts";
import type { Step } from "../../lib/step/run.ts";
import { catalog, FIXTURE_CARDS, PROJECT_ROOT, projectCopy, type Run, RUNTIME, runScript, silentServer, userEnv, withRegistry } from "../helpers.ts";

/** Generous: a make that runs this long hangs, and the test fails instead of hanging too. */
const KILL_AFTER_MS = 120_000;

/** make exits 2 for any failed recipe; the recipe's own exit code is in its last line. */
const STEP_EXIT_2 = /^make(\[\d+\])?: \*\*\* \[Makefile:\d+: \S+\] Error 2$/m;

/**
 * `make ARGS` in the project (or `cwd`), as a user types it, with `input` on its standard input;
 * killed (and reported) if it outlives KILL_AFTER_MS.
 */
async function make(args: string[], env: Record<string, string> = {}, { input, cwd = PROJECT_ROOT }: { input?: string; cwd?: string } = {}): Promise<Run & { killed: boolean }> {
  const output = await $({
    cwd,
    env: { ...userEnv(), NO_COLOR: "1", RUNTIME, ...env },
    nothrow: true,
    quiet: true,
    // Without input, a step that asks (PAUSE=1, make reset) finds the end of its input at once.
    ...(input === undefined ? { stdio: ["ignore", "pipe", "pipe"] } : { input }),
    timeout: KILL_AFTER_MS,
    timeoutSignal: "SIGKILL",
  })`make --no-print-directory ${args}`;
  return { code: output.exitCode ?? -1, stdout: output.stdout, stderr: output.stderr, killed: output.signal !== null };
}

const work = mkdtempSync(path.join(os.tmpdir(), "make-test-"));
after(() => rmSync(work, { recursive: true, force: true }));

/**
 * A PATH where apt-get only logs its arguments and `id -u` says `uid`; with `docker`, a docker
 * whose `info` exits with that code; with `hide`, this PATH's other commands but those.
 */
function fakeSystem(uid: number, { docker, hide }: { docker?: number; hide?: string[] } = {}): { path: string; log: string } {
  const bin = mkdtempSync(path.join(work, "bin-"));
  const log = path.join(bin, "apt-get.log");
  const own = new Map([["apt-get", `#!/bin/sh\necho "$*" >> "${log}"\n`], ["id", `#!/bin/sh\necho ${uid}\n`]]);
  if (docker !== undefined) own.set("docker", `#!/bin/sh\n[ "$1" = info ] && exit ${docker}\necho "docker $1: not here" >&2\nexit 1\n`);
  for (const [name, script] of own) writeFileSync(path.join(bin, name), script, { mode: 0o755 });
  if (!hide) return { path: `${bin}${path.delimiter}${process.env.PATH}`, log };
  const linked = new Set([...own.keys(), ...hide]);
  for (const dir of (process.env.PATH ?? "").split(path.delimiter).filter(existsSync)) {
    for (const name of readdirSync(dir)) {
      if (linked.has(name)) continue; // the first directory on PATH wins, as in a shell
      linked.add(name);
      symlinkSync(path.join(dir, name), path.join(bin, name));
    }
  }
  return { path: bin, log };
}

describe("make with values that try to run code", () => {
  const bench = withRegistry();
  const marker = path.join(work, "pwned");
  const payloads = [`\`touch ${marker}\``, `$(touch ${marker})`, `$(shell touch ${marker})`];
  /** Nothing answers here: a step that got past the value would fail for another reason. */
  let closedPort: string;

  before(async () => {
    closedPort = `127.0.0.1:${await freePort()}`;
    const pushed = await runScript("push", [], bench.env);
    assert.equal(pushed.code, 0, pushed.stderr);
  });

  /** Runs make, then checks the value was refused as the text it is, and ran nothing. */
  async function refused(args: string[], payload: string, message: string, env: Record<string, string> = {}) {
    rmSync(marker, { force: true });
    const result = await make(args, env);
    assert.equal(existsSync(marker), false, `${args.join(" ")} ran the value`);
    assert.equal(result.code, 2, `${args.join(" ")}:\n${result.stdout}\n${result.stderr}`);
    assert.match(result.stderr, STEP_EXIT_2, "the step itself did not exit 2");
    assert.ok(result.stderr.includes(payload), `the value did not arrive as typed:\n${result.stderr}`);
    assert.ok(result.stderr.includes(message), `${args.join(" ")} failed for another reason:\n${result.stderr}`);
  }

  for (const payload of payloads) {
    describe(payload.replace(marker, "MARKER"), () => {
      it("REGISTRY", () => refused(["list", `REGISTRY=${payload}`], payload, "invalid registry"));
      it("AGENTS", () => refused(["list", `REGISTRY=${closedPort}`, `AGENTS=${payload}`], payload, "invalid agent name"));
      it("TAG", () => refused(["pull", `REGISTRY=${closedPort}`, `TAG=${payload}`], payload, "invalid tag"));
      it("CARDS_DIR", () => refused(["push", `REGISTRY=${closedPort}`, `CARDS_DIR=${payload}`], payload, "not found in"));
      it("OUT_DIR", () => {
        const file = path.join(work, "a-file");
        writeFileSync(file, "");
        return refused(
          ["pull", `REGISTRY=${bench.registry.address}`, `OUT_DIR=${file}/${payload}`],
          payload,
          "a file stands where a directory should be",
        );
      });
      it("REGISTRY from the environment", () => refused(["list"], payload, "invalid registry", { REGISTRY: payload }));
      it("RUNTIME", async () => {
        rmSync(marker, { force: true });
        const result = await make(["list", `RUNTIME=${payload}`]);
        assert.equal(existsSync(marker), false);
        assert.equal(result.code, 2);
        assert.ok(result.stderr.includes(`RUNTIME must be node or deno, not "${payload}"`), result.stderr);
      });
      it("help shows the values as they are", async () => {
        rmSync(marker, { force: true });
        const result = await make(["help", `REGISTRY=${payload}`, `OUT_DIR=${payload}`]);
        assert.equal(existsSync(marker), false);
        assert.equal(result.code, 0, result.stderr);
        assert.ok(result.stdout.includes(`REGISTRY=${payload} `), result.stdout);
        assert.ok(result.stdout.includes(`OUT_DIR=${payload} `), result.stdout);
      });
    });
  }
});

describe("make against a registry that accepts connections and never answers", () => {
  it("ends within the time limit, set-up included, with exit 2", async () => {
    const silent = await silentServer();
    try {
      const result = await make(["list", `REGISTRY=${silent.address}`, "REGISTRY_TIMEOUT=1"]);
      assert.equal(result.killed, false, `make list still ran after ${KILL_AFTER_MS / 1000} s`);
      assert.equal(result.code, 2, result.stderr);
      assert.match(result.stderr, STEP_EXIT_2);
      assert.match(result.stderr, /did not answer GET \/v2\/_catalog within 1 s/);
      // Named as silent here, not sent to registry-status, which would send it to make registry.
      assert.match(result.stderr, new RegExp(`Something at ${silent.address} accepts connections but is silent`));
      assert.match(result.stderr, /Stop what holds 127\.0\.0\.1:\d+, or use another address/);
      assert.doesNotMatch(result.stderr, /registry-status/);
      const status = await make(["registry-status", `REGISTRY=${silent.address}`]);
      assert.equal(status.code, 2);
      assert.match(status.stdout, new RegExp(`✗ something at ${silent.address} accepts connections but does not answer as a registry`));
      assert.match(status.stderr, /Stop what holds/);
    } finally {
      await silent.close();
    }
  });
});

describe("make's hints carry the settings given", () => {
  it("no registry at REGISTRY: start one there, with that REGISTRY", async () => {
    const address = `127.0.0.1:${await freePort()}`;
    for (const target of ["push", "registry-status"]) {
      const result = await make([target, `REGISTRY=${address}`]);
      assert.equal(result.code, 2, result.stderr);
      assert.ok(result.stderr.includes(`Start one with \`make registry REGISTRY=${address}\``), `make ${target}:\n${result.stderr}`);
    }
  });

  it("a host name that does not resolve is named as such, with no registry to start", async () => {
    const result = await make(["list", "REGISTRY=no-such-host.invalid:5000"]);
    assert.equal(result.code, 2, result.stderr);
    assert.match(result.stderr, /the host name no-such-host\.invalid does not resolve/);
    assert.match(result.stderr, /Check the host name in REGISTRY=no-such-host\.invalid:5000/);
    assert.doesNotMatch(result.stderr, /make registry/);
  });
});

describe("make registry, per address", () => {
  const addresses: string[] = [];
  const stateDir = (address: string) => path.join(PROJECT_ROOT, "tmp/registry", address.replace(":", "_"));
  before(async () => {
    for (let i = 0; i < 2; i++) addresses.push(`127.0.0.1:${await freePort()}`);
  });
  after(async () => {
    for (const address of addresses) {
      await make(["registry-stop", `REGISTRY=${address}`]);
      rmSync(stateDir(address), { recursive: true, force: true });
    }
  });

  it("two at once at a fresh address both succeed: one starts the registry, the other uses it", async () => {
    const [first] = addresses;
    const results = await Promise.all([make(["registry", `REGISTRY=${first}`]), make(["registry", `REGISTRY=${first}`])]);
    for (const result of results) assert.equal(result.code, 0, result.stdout + result.stderr);
    // The one that started it first says the command it ran.
    const [starter, user] = results.map((result) => result.stdout).sort((a, b) => Number(a.includes("already running")) - Number(b.includes("already running")));
    assert.match(user, new RegExp(`already running: docker-registry \\(pid \\d+\\), started earlier by us`));
    assert.match(starter, new RegExp(`\\$ REGISTRY_HTTP_ADDR='"${first}"' .* docker-registry serve fixtures/registry/config\\.yml > \\S+ 2>&1 &\n`));
    assert.match(starter, new RegExp(`started docker-registry \\(pid \\d+\\) at ${first}; log tmp/registry/127\\.0\\.0\\.1_\\d+/registry\\.log`));
    assert.ok(existsSync(path.join(stateDir(first), "registry.pid")));
  });

  it("a second address starts while the first runs, and registry-stop stops only the one named", async () => {
    const [first, second] = addresses;
    const started = await make(["registry", `REGISTRY=${second}`]);
    assert.equal(started.code, 0, started.stdout + started.stderr);
    assert.equal(await registryAnswers(first), true);
    assert.equal(await registryAnswers(second), true);

    const stopped = await make(["registry-stop", `REGISTRY=${first}`]);
    assert.equal(stopped.code, 0, stopped.stderr);
    assert.match(stopped.stdout, /stopped docker-registry \(pid \d+\)/);
    assert.equal(await registryAnswers(first), false);
    assert.equal(await registryAnswers(second), true);
    const status = await make(["registry-status", `REGISTRY=${second}`]);
    assert.match(status.stdout, /started by make registry/);
  });
});

describe("make registry on a machine with no registry binary", () => {
  const REGISTRY_BINARIES = ["docker-registry", "registry"];
  let address: string;
  before(async () => {
    address = `127.0.0.1:${await freePort()}`;
  });
  after(() => rmSync(path.join(PROJECT_ROOT, "tmp/registry", address.replace(":", "_")), { recursive: true, force: true }));

  it("installs docker-registry when a docker command is there but no engine answers", async () => {
    const machine = fakeSystem(0, { docker: 1, hide: REGISTRY_BINARIES });
    const result = await make(["registry", `REGISTRY=${address}`], { PATH: machine.path });
    assert.deepEqual(readFileSync(machine.log, "utf8").trim().split("\n"), ["update -qq", "install -y -qq docker-registry"]);
    // The logging apt-get installed nothing, so the step that follows says what to install.
    assert.equal(result.code, 2);
    assert.match(result.stderr, /no registry answers at .*, and there is no way here to start one/);
  });

  it("installs nothing when a Docker engine answers", async () => {
    const machine = fakeSystem(0, { docker: 0, hide: REGISTRY_BINARIES });
    const result = await make(["registry", `REGISTRY=${address}`], { PATH: machine.path });
    assert.equal(existsSync(machine.log), false, "apt-get was run");
    assert.match(result.stderr, /docker run failed: docker run: not here/);
  });
});

describe("make test-tools", () => {
  const tools = "TEST_TOOLS=sh:dash no-such-command-1:pkg-one no-such-command-2:pkg-two";

  it("installs as root, after one apt-get update, only the packages of missing commands", async () => {
    const system = fakeSystem(0);
    const result = await make(["test-tools", tools], { PATH: system.path });
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(readFileSync(system.log, "utf8").trim().split("\n"), ["update -qq", "install -y -qq pkg-one pkg-two"]);
  });

  it("installs nothing, and asks the network nothing, when every command is there", async () => {
    const system = fakeSystem(0);
    const result = await make(["test-tools", "TEST_TOOLS=sh:dash make:make"], { PATH: system.path });
    assert.equal(result.code, 0, result.stderr);
    assert.equal(existsSync(system.log), false);
  });

  it("says what to install, and fails with exit 2, when not root", async () => {
    const system = fakeSystem(1000);
    const result = await make(["test-tools", tools], { PATH: system.path });
    assert.equal(result.code, 2);
    assert.match(result.stderr, /Missing: pkg-one pkg-two\. Install with: sudo apt-get install pkg-one pkg-two/);
    assert.equal(existsSync(system.log), false);
  });
});

describe("RUNTIME=node runs bundles from dist/", () => {
  const bench = withRegistry();
  before(async () => {
    const pushed = await runScript("push", [], bench.env);
    assert.equal(pushed.code, 0, pushed.stderr);
  });

  it("that depend on every TypeScript and JavaScript source under lib/ and scripts/", async () => {
    const database = (await make(["-pq", "dist/.built", "RUNTIME=node"])).stdout;
    const prerequisites = database.split("\n").find((line) => line.startsWith("dist/.built:"))?.split(/\s+/).slice(1) ?? [];
    const sources = ["lib", "scripts"].flatMap((dir) =>
      (readdirSync(path.join(PROJECT_ROOT, dir), { recursive: true }) as string[])
        .filter((file) => /\.[jt]s$/.test(file))
        .map((file) => path.join(dir, file))
    );
    assert.ok(sources.length > 10);
    assert.deepEqual(sources.filter((source) => !prerequisites.includes(source)), []);
  });

  it("rebuilt before a step when a source is newer, and run instead of the TypeScript", async () => {
    const built = path.join(PROJECT_ROOT, "dist/.built");
    if (existsSync(built)) utimesSync(built, new Date(0), new Date(0));
    const startedAt = Date.now();
    const result = await make(["list", `REGISTRY=${bench.registry.address}`, "RUNTIME=node"]);
    assert.equal(result.code, 0, result.stdout + result.stderr);
    assert.match(result.stdout, /oras repo ls/);
    assert.ok(statSync(built).mtimeMs >= startedAt - 1000, "dist/ was not rebuilt");
    const recipe = await make(["-n", "list", "RUNTIME=node"]);
    assert.equal(recipe.stdout.trim().split("\n").at(-1), "node $V8_FLAGS dist/list.mjs");
  });
});

describe("make refuses a setting instead of falling back to a default", () => {
  const bench = withRegistry();
  /** make with these arguments refused them: exit 2, this message, and not one step ran. */
  async function refused(args: string[], message: RegExp) {
    const result = await make(args, { REGISTRY: bench.registry.address });
    assert.equal(result.code, 2, `${args.join(" ")}:\n${result.stdout}\n${result.stderr}`);
    assert.match(result.stderr, message);
    assert.doesNotMatch(result.stdout, /==/, "a step ran");
  }

  it("an empty value, naming the variable", () => refused(["list", "REGISTRY="], /REGISTRY is empty: give it a value, or leave it out to use its default/));

  it("a variable no target reads, with the one it most likely misspells", async () => {
    await refused(["list", "REGISTY=localhost:5001"], /unknown variable REGISTY; did you mean REGISTRY\?/);
    await refused(["push", "AGENTSS=plan"], /unknown variable AGENTSS; did you mean AGENTS\?/);
    // AGENT is Phase 5's one agent: make push ignores it, and says which variable it most likely meant.
    await refused(["push", "AGENT=plan"], /make push ignores AGENT, which is for make run, stop, logs, upgrade, rollback, ask; did you mean AGENTS\? \(nothing was run\)/);
    await refused(["list", "registry=localhost:5001"], /unknown variable registry; did you mean REGISTRY\?/);
    assert.deepEqual(await catalog(bench.registry.address), [], "something was pushed");
  });

  it("a variable the target ignores, naming the targets that read it", async () => {
    await refused(["list", "TAG=v2"], /make list ignores TAG, which is for make push, manifest, pull, verify, copy, summary, untag, publish, diff, packages, run, agents, stop, ask \(nothing was run\)/);
    await refused(["copy", "TO=v3"], /make copy ignores TO, which is for make upgrade, mirror; did you mean TO_TAG\? \(nothing was run\)/);
  });

  it("a target that does not exist, with the one it most likely misspells", () => refused(["pushh"], /unknown target pushh; did you mean push\?/));

  it("a yes-or-no variable that is neither; yes, true and 1 all say yes", async () => {
    await refused(["list", "PAUSE=maybe"], /PAUSE must be yes or no \(1, true, yes, or 0, false, no\), not "maybe"/);
    for (const yes of ["1", "true", "yes", "YES"]) {
      const paused = await make(["registry-status", `PAUSE=${yes}`], { REGISTRY: bench.registry.address });
      assert.equal(paused.code, 0, paused.stderr);
      assert.match(paused.stdout, /Press Enter to run it\./, `PAUSE=${yes} did not pause`);
    }
    const unpaused = await make(["registry-status", "PAUSE=no"], { REGISTRY: bench.registry.address });
    assert.doesNotMatch(unpaused.stdout, /Press Enter/);
  });

  it("a value given to make walkthrough reaches the steps that read it, and no other step refuses it", async () => {
    const result = await make(["walkthrough", `REGISTRY=${bench.registry.address}`, "AGENTS=plan", "TO_TAG=v3", `OUT_DIR=${path.join(bench.work, "out")}`]);
    assert.equal(result.code, 0, `${result.stdout}\n${result.stderr}`);
    assert.match(result.stdout, /\| \S+\/agents\/plan \| v3 +\| sha256:[a-f0-9]{64} \| Copied from v1 \|/);
  });

  it("lets every step's own options through: the Makefile lists each variable a step reads", async () => {
    const database = (await make(["-pq", "help"])).stdout;
    const readBy = (target: string) => database.match(new RegExp(`^vars\\.${target} := (.*)$`, "m"))?.[1].split(" ") ?? [];
    // Only the step scripts: the others (oras, bench) do their work when imported.
    const steps = readdirSync(path.join(PROJECT_ROOT, "scripts")).filter((file) => readFileSync(path.join(PROJECT_ROOT, "scripts", file), "utf8").includes("export const step: Step"));
    assert.ok(steps.length > 15);
    for (const file of steps) {
      const { step } = await import(path.join(PROJECT_ROOT, "scripts", file)) as { step: Step };
      const own = optionsHelp(step.options, step.flags).slice(0, step.options.length + Object.keys(step.flags ?? {}).length);
      const variables = own.flatMap((line) => line.match(/\(env ([A-Z_]+)/)?.[1] ?? []);
      const targets = step.name === "registry" ? ["registry", "registry-status", "registry-stop", "reset"] : [step.name];
      for (const target of targets) {
        assert.deepEqual(variables.filter((name) => !readBy(target).includes(name)), [], `make ${target} refuses what scripts/${file} reads`);
      }
    }
  });
});

describe("make help", () => {
  it("has a line for every target and names every variable a target reads", async () => {
    const database = (await make(["-pq", "help"])).stdout;
    const list = (name: string) => database.match(new RegExp(`^${name} := (.*)$`, "m"))?.[1].split(" ").filter(Boolean) ?? [];
    const [targets, variables] = [list("TARGETS"), list("KNOWN")];
    for (const expected of ["walkthrough", "push", "summary", "PAUSE", "SOURCE_DATE_EPOCH", "NO_COLOR"]) {
      assert.ok([...targets, ...variables].includes(expected), `${expected} is not among the Makefile's targets and variables`);
    }
    const help = await make(["help"]);
    assert.equal(help.code, 0, help.stderr);
    const lines = help.stdout.split("\n");
    for (const target of targets) {
      assert.ok(lines.some((line) => new RegExp(`^ {2}(\\S+, )*${target}(,|\\s)`).test(line)), `make help has no line for ${target}`);
    }
    for (const variable of variables) assert.match(help.stdout, new RegExp(`\\b${variable}\\b`), `make help does not name ${variable}`);
  });
});

describe("undo: make untag, make reset, make clean", () => {
  const bench = withRegistry();
  const registryEnv = () => ({ REGISTRY: bench.registry.address, OUT_DIR: path.join(bench.work, "out"), DISCOVERY_CACHE: "off" });
  const tagsOf = async (agent: string) => (await collect(new Registry(bench.registry.address).repository(`agents/${agent}`).tags())).sort();

  before(async () => {
    for (const step of ["push", "verify", "copy"]) {
      const result = await runScript(step, [], registryEnv());
      assert.equal(result.code, 0, result.stderr);
    }
  });

  it("untag says what it removes and removes nothing unless told yes", async () => {
    const result = await make(["untag", "AGENTS=plan", "TAG=v2"], registryEnv());
    assert.equal(result.code, 2, result.stderr);
    assert.match(result.stdout, /This removes 1 tag from \S+:\n {2}\S+\/agents\/plan:v2 \(sha256:[a-f0-9]{64}\): v1 keeps that manifest/);
    assert.match(result.stderr, /not confirmed, so nothing was removed\n {2}Answer y, or run it with YES=1\./);
    assert.ok((await tagsOf("plan")).includes("v2"));
  });

  it("untag removes one tag, the other tags of its manifest stay, and the index drops it", async () => {
    const before = await new Registry(bench.registry.address).repository("agents/plan").digestOf("v1");
    const result = await make(["untag", "AGENTS=plan", "TAG=v2"], registryEnv(), { input: "y\n" });
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /✓ removed \S+\/agents\/plan:v2/);
    assert.match(result.stdout, /discovery index \S+ no longer lists plan:v2/);
    const tags = await tagsOf("plan");
    assert.ok(tags.includes("v1") && !tags.includes("v2"), tags.join(" "));
    assert.equal(await new Registry(bench.registry.address).repository("agents/plan").digestOf("v1"), before);
    const listed = (await readIndex(new Registry(bench.registry.address)))?.entries.map((entry) => `${entry.repository}:${entry.tag}`);
    assert.ok(listed?.includes("agents/plan:v1") && !listed.includes("agents/plan:v2"), listed?.join(" "));
  });

  it("untag of the last tag takes the manifest and its verification records; a tag one agent lacks removes nothing", async () => {
    const missing = await make(["untag", "AGENTS=build,plan", "TAG=v2", "YES=1"], registryEnv());
    assert.equal(missing.code, 2, missing.stderr);
    assert.match(missing.stderr, /\] Error 1$/m, "the step itself did not exit 1");
    assert.match(missing.stderr, /agents\/plan has no tag v2 \(it has v1, sha256-[a-f0-9]{64}\); nothing was removed/);
    assert.ok((await tagsOf("build")).includes("v2"));
    const last = await make(["untag", "AGENTS=plan", "TAG=v1", "YES=yes"], registryEnv());
    assert.equal(last.code, 0, last.stderr);
    assert.match(last.stdout, /agents\/plan:v1 \(sha256:[a-f0-9]{64}\): the manifest goes with it, and its verification records/);
    assert.deepEqual(await tagsOf("plan"), []);
  });

  it("untag on a registry that does not allow deleting says so, and removes nothing", async () => {
    const config = path.join(work, "no-delete.yml");
    writeFileSync(config, readFileSync(DEFAULT_CONFIG_FILE, "utf8").replace(/\n {2}delete:\n {4}enabled: true\n/, "\n"));
    assert.doesNotMatch(readFileSync(config, "utf8"), /delete:/);
    const keeper = await startDistribution({ port: await freePort(), storageDir: path.join(work, "keeper"), logFile: path.join(work, "keeper.log"), configFile: config });
    try {
      const env = { ...registryEnv(), REGISTRY: keeper.address };
      assert.equal((await runScript("push", ["--agents", "plan"], env)).code, 0);
      const result = await make(["untag", "AGENTS=plan", "TAG=v1", "YES=1"], env);
      assert.equal(result.code, 2, result.stderr);
      assert.match(result.stderr, new RegExp(`${keeper.address} does not allow deleting: DELETE \\S+/agents/plan:v1 answered 405 \\(UNSUPPORTED\\)`));
      assert.match(result.stderr, /Nothing was removed: this registry keeps what it stores\. Distribution deletes only with storage\.delete\.enabled: true/);
      assert.ok((await collect(new Registry(keeper.address).repository("agents/plan").tags())).includes("v1"));
    } finally {
      await keeper.stop();
    }
  });

  it("reset empties the registry make registry started, after saying what it holds and asking", async () => {
    const address = `127.0.0.1:${await freePort()}`;
    try {
      assert.equal((await make(["registry", `REGISTRY=${address}`])).code, 0);
      assert.equal((await runScript("push", [], { ...registryEnv(), REGISTRY: address })).code, 0);
      const asked = await make(["reset", `REGISTRY=${address}`]);
      assert.equal(asked.code, 2, asked.stderr);
      assert.match(asked.stdout, new RegExp(`This empties the registry at ${address}, the docker-registry \\(pid \\d+\\) make registry started, its data in tmp/registry/127\\.0\\.0\\.1_\\d+/data\\.`));
      assert.match(asked.stdout, /It removes 4 repositories and 4 tags:\n {2}agents: index\n {2}agents\/build: v1\n {2}agents\/plan: v1\n {2}agents\/test: v1\n/);
      assert.equal((await catalog(address)).length, 4, "a reset not confirmed removed something");
      const reset = await make(["reset", `REGISTRY=${address}`], {}, { input: "yes\n" });
      assert.equal(reset.code, 0, reset.stderr);
      assert.match(reset.stdout, new RegExp(`✓ emptied: started docker-registry \\(pid \\d+\\) at ${address}`));
      assert.deepEqual(await catalog(address), []);
    } finally {
      await make(["registry-stop", `REGISTRY=${address}`]);
      rmSync(path.join(PROJECT_ROOT, "tmp/registry", address.replace(":", "_")), { recursive: true, force: true });
    }
  });

  it("reset refuses a registry make registry did not start", async () => {
    const result = await make(["reset", "YES=1"], registryEnv());
    assert.equal(result.code, 2, result.stderr);
    assert.match(result.stderr, /a registry answers at \S+, but make registry did not start it; make reset empties only the registries it started/);
  });

  it("clean says what it stops and removes, and removes it", async () => {
    const project = projectCopy(work);
    const address = `127.0.0.1:${await freePort()}`;
    assert.equal((await make(["registry", `REGISTRY=${address}`], {}, { cwd: project })).code, 0);
    const result = await make(["clean"], {}, { cwd: project });
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, new RegExp(`✓ stopped docker-registry \\(pid \\d+\\), of tmp/registry/127\\.0\\.0\\.1_\\d+\\n`));
    assert.match(result.stdout, /Removing tmp\/ \(every registry's data and log, pulled cards, the discovery cache, bench results\) and dist\/ \(Node's bundles\)/);
    assert.doesNotMatch(result.stdout, /stays/);
    assert.equal(existsSync(path.join(project, "tmp")), false);
    assert.equal(await registryAnswers(address), false);
  });
});

describe("make test's output", () => {
  const tests = path.join(work, "suite");
  before(() => {
    mkdirSync(tests);
    writeFileSync(path.join(tests, "a.test.ts"), [
      'import { describe, it } from "node:test";',
      'import assert from "node:assert/strict";',
      'describe("a suite", () => {',
      ...Array.from({ length: 30 }, (_, i) => `  it("passes ${i}", () => assert.ok(true));`),
      '  it("fails on purpose", () => assert.equal("what it got", "what it wanted"));',
      "});",
    ].join("\n"));
  });

  for (const runtime of ["node", "deno"] as const) {
    it(`under ${runtime[0].toUpperCase()}${runtime.slice(1)}: a line of progress, the failure in full, and the counts last`, async () => {
      const result = await make([`test-${runtime}`, `TESTS=${path.join(tests, "a.test.ts")}`]);
      assert.equal(result.code, 2, result.stdout);
      const lines = result.stdout.trimEnd().split("\n");
      assert.ok(lines.length < 40, `${lines.length} lines:\n${result.stdout}`);
      assert.doesNotMatch(result.stdout, /^TAP version|^ok \d/m);
      assert.match(result.stdout, /fails on purpose/);
      assert.match(result.stdout, /what it got/);
      assert.match(lines.at(-1)!, runtime === "node" ? /^30 passed, 1 failed, 0 skipped \([\d.]+ s\)$/ : /^FAILED \| 0 passed \(30 steps\) \| 1 failed \(1 step\)/);
    });
  }
});
