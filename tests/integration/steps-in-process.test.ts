// A step runs inside the test's own process: its body gets its options, client and output
// channel as arguments, so nothing but runStep's arguments decides what it reads and prints.
// (The subprocess tests elsewhere keep checking exit codes, signals and the process's streams.)
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { step as list } from "../../scripts/list.ts";
import { step as pull } from "../../scripts/pull.ts";
import { step as push } from "../../scripts/push.ts";
import { AGENTS, FIXTURE_CARDS, inProcess, withRegistry } from "../helpers.ts";

describe("steps run in the test's process", () => {
  const bench = withRegistry();
  const registry = () => ["--registry", bench.registry.address];

  it("push, list and pull print to the channel they are handed, and return their results as JSON", async () => {
    const pushed = await inProcess(push, [...registry(), "--cards", FIXTURE_CARDS, "--json"]);
    assert.equal(pushed.code, 0, pushed.stderr);
    // --json: the result alone on stdout, the commands and their output for people on stderr.
    const digests = JSON.parse(pushed.stdout).pushed.map((entry: { digest: string }) => entry.digest);
    assert.equal(digests.length, 3);
    for (const agent of AGENTS) assert.match(pushed.stderr, new RegExp(`\\$ \\(cd \\S+ && oras push --plain-http --artifact-type application/a2a-agent-card\\+json --annotation org\\.opencontainers\\.image\\.created=2026-01-01T00:00:00Z \\S+/agents/${agent}:v1 ${agent}_agent_card.json:application/json\\)`));

    const listed = await inProcess(list, registry());
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(listed.stdout, /^agents\/plan\nagents\/build\nagents\/test\n|agents\/build\nagents\/plan\nagents\/test\n/m);

    const out = `${bench.work}/in-process`;
    const pulled = await inProcess(pull, [...registry(), "--out", out, "--json"]);
    assert.equal(pulled.code, 0, pulled.stderr);
    assert.deepEqual(JSON.parse(pulled.stdout).pulled.map((entry: { digest: string }) => entry.digest), digests);
  });

  it("a failure is the returned exit code with its message and advice on the channel, never the process's", async () => {
    const missing = await inProcess(pull, [...registry(), "--tag", "v9", "--agents", "plan", "--out", `${bench.work}/missing`]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /✗ .*agents\/plan:v9.*\n {2}Tags in \S+\/agents\/plan: v1\. Push the missing one first/);
    assert.equal(process.exitCode ?? 0, 0);

    const refused = await inProcess(list, ["--registry", "http://nowhere"]);
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /invalid registry "http:\/\/nowhere": expected host\[:port\]/);
  });
});
