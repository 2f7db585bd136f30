// The real oras 1.3.6 and this project's steps on the same registries, both ways: oras pulls,
// discovers and copies with referrers (`oras cp -r`) what our steps pushed and verified; our pull,
// verify, discover, versions and mirror read what oras pushed and attached; a login written by
// `oras login` serves our steps, and one written by `make login` serves oras.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { type RegistryProcess, startTestRegistry } from "../../lib/registry-server.ts";
import { VERIFICATION_TYPE } from "../../lib/verification.ts";
import { runBuiltin } from "../docs-commands.ts";
import { AGENTS, FIXTURE_CARDS, fixtureCard, type Run, runScript, trustedKey } from "../helpers.ts";
import { needsTools, realOras } from "../reference-tools.ts";
import { type SecureRegistry, startBasicAuthRegistry } from "../servers.ts";

const PASSWORD = "interop-Pa55-4d1e";
const VERIFIED = /^\| plan +\| v1 +\| 1\.0\.0 .*\| yes +\| unsigned +\|$/m;
const NOT_VERIFIED = /^\| plan +\| v1 +\| 1\.0\.0 .*\| no +\| unsigned +\|$/m;

describe("the real oras and this project's steps on the same registries", needsTools("oras"), () => {
  const registries: RegistryProcess[] = [];
  let work: string;
  /** A new registry, stopped after the tests. */
  const registry = async () => {
    const started = await startTestRegistry();
    registries.push(started);
    return started.address;
  };
  const dir = (name: string) => {
    const made = path.join(work, name);
    mkdirSync(made, { recursive: true });
    return made;
  };
  const oras = async (args: string[], cwd = work, input?: string) => {
    const result = await realOras(args, { cwd, input, dockerConfig: dir("oras-docker") });
    assert.equal(result.code, 0, `oras ${args.join(" ")}:\n${result.stdout}\n${result.stderr}`);
    return result.stdout;
  };
  const step = async (name: string, env: Record<string, string>, args: string[] = []): Promise<Run> => {
    const result = await runScript(name, args, { CARDS_DIR: FIXTURE_CARDS, OUT_DIR: dir(`out-${name}`), ORAS_BACKEND: "builtin", DISCOVERY_CACHE: "off", TRUST_STORE: path.join(work, "keys", "trust.json"), ...env });
    assert.equal(result.code, 0, `${name}:\n${result.stdout}\n${result.stderr}`);
    return result;
  };

  before(() => {
    work = mkdtempSync(path.join(os.tmpdir(), "pallet-interop-"));
  });
  after(async () => {
    await Promise.all(registries.map((started) => started.stop()));
    rmSync(work, { recursive: true, force: true });
  });

  it("oras pulls, discovers and copies with its referrers (cp -r) what our push and verify left", async () => {
    const [ours, copy] = [await registry(), await registry()];
    const { key } = await trustedKey(work, ours);
    await trustedKey(work, copy);
    await step("push", { REGISTRY: ours });
    await step("verify", { REGISTRY: ours }, ["--key", key]);
    for (const agent of AGENTS) {
      const into = dir(`oras-pulled-${agent}`);
      await oras(["pull", "--plain-http", `${ours}/agents/${agent}:v1`, "-o", into]);
      assert.deepEqual(readFileSync(path.join(into, `${agent}_agent_card.json`)), fixtureCard(agent));
      const found = JSON.parse(await oras(["discover", "--plain-http", "--format", "json", `${ours}/agents/${agent}:v1`]));
      assert.deepEqual(found.referrers.map((referrer: { artifactType: string }) => referrer.artifactType), [VERIFICATION_TYPE]);
      await oras(["cp", "-r", "--from-plain-http", "--to-plain-http", `${ours}/agents/${agent}:v1`, `${copy}/agents/${agent}:v1`]);
    }
    // What oras copied, records included, our steps read as verified cards.
    assert.match((await step("versions", { REGISTRY: copy, AGENTS: "plan" })).stdout, VERIFIED);
    assert.match((await step("verify", { REGISTRY: copy })).stdout, /=== All agents verified successfully ===/);
  });

  it("our pull, verify, discover, versions and mirror read what oras pushed and attached", async () => {
    const [theirs, mirrored] = [await registry(), await registry()];
    for (const agent of AGENTS) {
      const file = `${agent}_agent_card.json`;
      const ref = `${theirs}/agents/${agent}:v1`;
      await oras(["push", "--plain-http", "--artifact-type", "application/a2a-agent-card+json", ref, `${file}:application/json`], FIXTURE_CARDS);
      const digest = (await oras(["resolve", "--plain-http", ref])).trim();
      // A record in verify's format, attached by oras itself.
      const records = dir(`records-${agent}`);
      writeFileSync(path.join(records, "verification.json"), JSON.stringify({ subject: { reference: ref, digest }, checks: [], result: "passed" }));
      await oras(["attach", "--plain-http", "--artifact-type", VERIFICATION_TYPE, `${theirs}/agents/${agent}@${digest}`, "verification.json:application/json"], records);
    }
    const pulled = await step("pull", { REGISTRY: theirs });
    for (const agent of AGENTS) assert.deepEqual(readFileSync(path.join(dir("out-pull"), `${agent}_agent_card.json`)), fixtureCard(agent), pulled.stdout);
    assert.match((await step("versions", { REGISTRY: theirs, AGENTS: "plan" })).stdout, NOT_VERIFIED, "a hand-written record, unsigned and listing no checks, counts for nothing");
    const tree = await runBuiltin(["discover", "--plain-http", `${theirs}/agents/plan:v1`], { cwd: work });
    assert.match(tree.stdout, new RegExp(`└── ${VERIFICATION_TYPE.replaceAll(".", "\\.").replaceAll("+", "\\+")}\\n`), tree.stdout);
    const { key } = await trustedKey(work, theirs);
    await trustedKey(work, mirrored);
    assert.match((await step("verify", { REGISTRY: theirs }, ["--key", key])).stdout, /=== All agents verified successfully ===/);
    assert.match((await step("versions", { REGISTRY: theirs, AGENTS: "plan" })).stdout, VERIFIED, "verify's signed record counts");
    await step("mirror", { FROM: theirs, TO: mirrored, AGENTS: AGENTS.join(",") });
    assert.match((await step("versions", { REGISTRY: mirrored, AGENTS: "plan" })).stdout, VERIFIED);
  });

  describe("logins", () => {
    let secure: SecureRegistry;
    before(async () => {
      secure = await startBasicAuthRegistry({ alice: PASSWORD });
    });
    after(() => secure?.stop());

    it("our steps use what oras login stored, and oras uses what make login stored", async () => {
      const [byOras, byUs] = [dir("docker-by-oras"), dir("docker-by-us")];
      const login = await realOras(["login", "--ca-file", secure.caFile, "-u", "alice", "--password-stdin", secure.address], { cwd: work, input: PASSWORD, dockerConfig: byOras });
      assert.equal(login.code, 0, login.stderr);
      const env = { REGISTRY: secure.address, REGISTRY_CA_FILE: secure.caFile, AGENTS: "plan" };
      await step("push", { ...env, DOCKER_CONFIG: byOras });
      assert.match((await step("list", { ...env, DOCKER_CONFIG: byOras })).stdout, /^agents\/plan$/m);

      await step("login", { ...env, DOCKER_CONFIG: byUs, REGISTRY_USERNAME: "alice", REGISTRY_PASSWORD: PASSWORD });
      const listed = await realOras(["repo", "tags", "--ca-file", secure.caFile, `${secure.address}/agents/plan`], { cwd: work, dockerConfig: byUs });
      assert.deepEqual({ code: listed.code, stdout: listed.stdout }, { code: 0, stdout: "v1\n" }, listed.stderr);
      const anonymous = await realOras(["repo", "tags", "--ca-file", secure.caFile, `${secure.address}/agents/plan`], { cwd: work, dockerConfig: dir("docker-empty") });
      assert.equal(anonymous.code, 1, "without a login oras is refused: the login above was what let it in");
    });
  });
});
