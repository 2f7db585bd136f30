// scripts/oras.ts against the real oras 1.3.6 (built by `make go-tools`): every `$ oras …` line
// of README.md and docs/ run by both, each in a world of its own (registries, CA files, Docker
// config) in the same state, and the usage errors and refusals of oras-cli.test.ts. Same exit
// code, same --format json text, same output lines, except the differences docs/oras.md lists in
// its one table ("Checked against the real oras"), each with its reason.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { type RegistryProcess, startTestRegistry } from "../../lib/registry-server.ts";
import { type DocsWorld, PAGES, prepare, runBuiltin, type ShownCommand, shownCommands, startDocsWorld } from "../docs-commands.ts";
import { PROJECT_ROOT, type Run } from "../helpers.ts";
import { crane, needsTools, realOras } from "../reference-tools.ts";

/** A difference docs/oras.md allows: what oras prints and what this client prints instead, `…` standing for any text. */
interface Allowed {
  what: string;
  oras: RegExp;
  ours: RegExp;
}

/** The rows of docs/oras.md's table of deliberate differences. */
function allowedDifferences(): Allowed[] {
  const page = readFileSync(path.join(PROJECT_ROOT, "docs/oras.md"), "utf8");
  const section = page.slice(page.indexOf("## Checked against the real oras"));
  const pattern = (cell: string) => {
    const text = cell.trim().replace(/^`|`$/g, "");
    return new RegExp(`^${text.split("…").map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join(".*")}$`, "s");
  };
  return section.split("\n").filter((line) => /^\| [^-|]/.test(line)).slice(1).map((line) => {
    const [what, oras, ours] = line.split(" | ").map((cell) => cell.replace(/^\| /, ""));
    return { what, oras: pattern(oras), ours: pattern(ours) };
  });
}

/** A lines' blob status lines, which both clients print in the order their concurrent transfers finish. */
const STATUS = /^(Uploading|Uploaded |Exists   |Mounted|Copying|Copied |Downloading|Downloaded |Skipped ) /;

/** A push or attach that does not pin the creation time: its manifest's digest is a matter of the second it ran. */
const pushesNow = (command: ShownCommand) => /^(push|attach) /.test(command.args) && !command.args.includes("org.opencontainers.image.created=");

/**
 * The two runs of one command made comparable: each world's addresses and paths back to the
 * page's, times of now to <now>, and the digests of manifests that each client pushed with a
 * creation time of now (`fresh`, kept across commands, in order) numbered alike. Every other
 * digest must be the same in both.
 */
function comparable(runs: [Run, Run], worlds: [DocsWorld, DocsWorld], command: ShownCommand, fresh: [string[], string[]]): [Run, Run] {
  const texts = runs.map(({ stdout, stderr }, i) => {
    const back = (text: string) =>
      worlds[i].substitutions(command.page).reduce((result, [shown, here]) => result.replaceAll(here, shown), text).replaceAll(worlds[i].work, "<work>")
        .replace(/\b\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\b/g, (time) => Math.abs(Date.parse(time) - Date.now()) < 86_400_000 ? "<now>" : time);
    return [back(stdout), back(stderr)];
  });
  if (pushesNow(command)) {
    const digests = texts.map(([stdout, stderr]) => [...new Set(`${stdout}${stderr}`.match(/sha256:[a-f0-9]{64}/g))]);
    digests.forEach((own, i) => fresh[i].push(...own.filter((digest) => !digests[1 - i].includes(digest) && !fresh[i].includes(digest))));
  }
  return runs.map((run, i) => {
    const [stdout, stderr] = texts[i].map((text) =>
      fresh[i].reduce((result, digest, n) => result.replaceAll(digest, `sha256:<new ${n + 1}>`).replaceAll(digest.slice(7, 19), `<new ${n + 1}>`), text)
    );
    return { code: run.code, stdout, stderr };
  }) as [Run, Run];
}

/**
 * discover's tree lists a referrer's annotations in Go's map order, which is random from run to
 * run: the lines under each `[annotations]` are compared as a set, sorted, their branches alike.
 */
function annotationsAsSets(lines: string[]): string[] {
  const result: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    result.push(lines[i]);
    if (!lines[i].endsWith("[annotations]")) continue;
    const depth = lines[i].indexOf("[annotations]");
    const children: string[] = [];
    while (i + 1 < lines.length && /[├└]── /.test(lines[i + 1].slice(depth, depth + 8))) children.push(lines[++i].replace(/[├└]── /, "─── "));
    result.push(...children.sort());
  }
  return result;
}

/** What differs between oras's run and ours, beyond what docs/oras.md allows; empty when nothing does. */
function differences(oras: Run, ours: Run, allowed: Allowed[]): string[] {
  const found: string[] = [];
  if (oras.code !== ours.code) found.push(`exit code: oras ${oras.code}, ours ${ours.code}`);
  const ordered = (text: string) => {
    const lines = annotationsAsSets(text.split("\n"));
    return [...lines.filter((line) => !STATUS.test(line)), ...lines.filter((line) => STATUS.test(line)).sort()].join("\n");
  };
  const [theirs, mine] = [oras, ours].map(({ stdout, stderr }) => ({ stdout: ordered(stdout), stderr: ordered(stderr) }));
  if (theirs.stdout === mine.stdout && theirs.stderr === mine.stderr) return found;
  const flat = ({ stdout, stderr }: { stdout: string; stderr: string }) => `${stdout}\n${stderr}`.trim().replace(/\s*\n\s*/g, " ");
  if (!allowed.some((row) => row.oras.test(flat(theirs)) && row.ours.test(flat(mine)))) {
    found.push(`--- oras\n${theirs.stdout}\n[stderr]\n${theirs.stderr}\n--- ours\n${mine.stdout}\n[stderr]\n${mine.stderr}`);
  }
  return found;
}

describe("the real oras and scripts/oras.ts run every oras command README.md and docs/ show", needsTools("oras"), () => {
  let worlds: [DocsWorld, DocsWorld];
  const allowed = allowedDifferences();
  const fresh: [string[], string[]] = [[], []];
  const saved = process.env.DOCKER_CONFIG;

  before(async () => {
    worlds = await Promise.all([startDocsWorld(), startDocsWorld()]) as [DocsWorld, DocsWorld];
    // The built-in runs in this process: its `oras login` writes where DOCKER_CONFIG says.
    process.env.DOCKER_CONFIG = worlds[1].dockerConfig;
  });
  after(async () => {
    if (saved === undefined) delete process.env.DOCKER_CONFIG;
    else process.env.DOCKER_CONFIG = saved;
    await Promise.all(worlds?.map((world) => world.stop()) ?? []);
  });

  it("docs/oras.md's table of differences is there, and each row says why", () => {
    assert.ok(allowed.length > 0);
    for (const row of allowed) assert.ok(row.what.length > 0);
  });

  for (const page of PAGES) {
    it(`${page}: the same exit codes, JSON and lines, in page order`, async () => {
      const problems: string[] = [];
      for (const command of shownCommands(page)) {
        const [theirs, ours] = [prepare(command, worlds[0]), prepare(command, worlds[1])];
        // A push stamped with the time of now: both start at the turn of a second, so both land in
        // that second (one manifest, one digest) and never in the second of the push before.
        if (pushesNow(command)) await sleep(1000 - (Date.now() % 1000) + 5);
        const runs: [Run, Run] = [
          await realOras(theirs.args, { cwd: theirs.cwd, input: theirs.input, dockerConfig: worlds[0].dockerConfig }),
          await runBuiltin(ours.args, ours),
        ];
        const found = differences(...comparable(runs, worlds, command, fresh), allowed);
        if (found.length > 0) problems.push(`${page}:${command.line}: ${command.text}\n${found.join("\n")}`);
      }
      assert.deepEqual(problems, []);
    });
  }
});

describe("the real oras and scripts/oras.ts on golden vectors and refused command lines", needsTools("oras", "crane"), () => {
  let registry: RegistryProcess;
  let work: string;
  const allowed = allowedDifferences();
  before(async () => {
    registry = await startTestRegistry();
    work = mkdtempSync(path.join(os.tmpdir(), "pallet-refusals-"));
  });
  after(async () => {
    await registry?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  it("REFERENCE.md's golden vectors: oras and this client push them to the same digests, which crane reads back", async () => {
    const golden = [
      { content: "v1.3.8 linux/arm64 image\n", title: "arm64", created: "2025-06-05T04:26:57Z", digest: "sha256:6aa11331ce0c766d6333b60dac98d584d98eea45fa93bbfc9b5bdb915ce3a43f" },
      { content: "v1.3.8 linux/amd64 image\n", title: "amd64", created: "2025-06-05T04:26:28Z", digest: "sha256:ab01d6e284e843d51fb5e753904a540f507a62361a5fd7e434e4f27b285ca5c9" },
    ];
    for (const vector of golden) {
      writeFileSync(path.join(work, vector.title), vector.content);
      for (const [who, push] of [["oras", realOras], ["ours", runBuiltin]] as const) {
        const ref = `${registry.address}/golden-${who}:${vector.title}`;
        const pushed = await push(["push", "--plain-http", "--annotation", `org.opencontainers.image.created=${vector.created}`, ref, vector.title], { cwd: work, dockerConfig: work });
        assert.equal(pushed.code, 0, pushed.stderr);
        assert.equal((await crane(["digest", "--insecure", ref])).trim(), vector.digest, who);
      }
    }
  });

  it("usage errors, missing references and files, unsupported flags and formats", async () => {
    const host = registry.address.replace("127.0.0.1", "localhost");
    const missing = `${host}/nothing@sha256:${"1".repeat(64)}`;
    const cases = [
      ["pull", `${host}/golden:v9`], ["pull", `${host}/golden`], ["pull", "-o"], ["cp", `${host}/a`, `${host}/b:c`], ["resolve"], ["resolve", `${host}/nothing:v1`],
      ["manifest", "fetch", missing], ["manifest", "fetch", "--pretty", "--format", "text", `${host}/golden:amd64`], ["repo", "tags", `${host}/ghost`],
      ["repo", "tags", "--format", "yaml", `${host}/golden`], ["repo", "ls", `${host}/a:b`], ["push", "--colour", `${host}/x:v1`, "a"],
      ["push", "--plain-http=maybe", `${host}/x:v1`], ["push", `${host}/x:v1`, "/etc/hostname"], ["push", `${host}/x:v1`, "missing.txt"],
      ["push", "-a", "novalue", `${host}/x:v1`], ["push", `${host}/x:v1,bad@tag`, "a"], ["cp", `${host}/g:a`, `${host}/h:b,bad@tag`],
      ["push", "--annotation", "org.opencontainers.image.created=yesterday", `${host}/x:v1`], ["attach", `${host}/golden:amd64`, "a"],
      ["attach", "--artifact-type", "t", `${host}/g:a`], ["discover", "--depth", "0", `${host}/g:a`], ["tag", `${host}/g:a`], ["tag", "list"],
      ["frobnicate"], ["login", host], ["push", "--oci-layout", `${host}/x:v1`, "a"], ["cp", "-r", `${host}/g:a`, `${host}/h:b`],
    ];
    const problems: string[] = [];
    for (const args of cases) {
      const [oras, ours] = [await realOras(args, { cwd: work, dockerConfig: work }), await runBuiltin(args, { cwd: work })];
      const found = differences(oras, ours, allowed);
      if (found.length > 0) problems.push(`oras ${args.join(" ")}\n${found.join("\n")}`);
    }
    assert.deepEqual(problems, []);
  });
});
