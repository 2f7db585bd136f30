// Every command README.md and docs/ show in a code block runs as shown, on a fresh copy of the
// project (no tmp/, no dist/): `make …` lines and the lines of ```bash blocks, in page order,
// README.md first, through a shell, with a test registry for localhost:5000 and another
// address, where make registry starts one, for localhost:5001. tests/integration/oras-cli.test.ts
// runs the `$ oras …` lines. Outside Troubleshooting a command succeeds unless the page shows it
// failing (a ✗ line, or make's ***); inside, where failures are shown on purpose, make must not
// refuse its variables or target (unless the page shows it refusing them). Every Makefile line number a page quotes is the one make says.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import os from "node:os";
import { freePort } from "../../lib/registry-server.ts";
import { DOC_PAGES, projectCopy, run, RUNTIME, type ShownCommand, shownCommands, withRegistry } from "../helpers.ts";

/** What is not run, and why: each is run by another test, or needs what this machine cannot give it. */
const NOT_RUN: [RegExp, string][] = [
  [/^(oras|\(cd \S+ && oras) /, "tests/integration/oras-cli.test.ts runs every oras line"],
  [/^make test\b/, "the test suite itself"],
  [/^make bench\b/, "minutes of benchmarks; tests/integration/fleet.test.ts runs make bench"],
  [/^make serve\b|^curl /, "the service runs until stopped; tests/integration/serve.test.ts runs it and these requests"],
  [/registry\.example/, "a registry on another machine"],
];
/** Pages whose sessions need registries set up for them: TLS from a private CA, accounts, a token service. */
const PAGES_NOT_RUN = new Map([["docs/real-registries.md", "tests/integration/real-registries.test.ts and mirror.test.ts run these against such registries"]]);
/** What make says when it refuses a command line: the command as shown is wrong, whatever the section. */
const REFUSED = /unknown variable|unknown target|is empty: give it a value| ignores /;

describe("the commands README.md and docs/ show", () => {
  const bench = withRegistry();
  let project: string;
  let started: string;
  const ran = new Set<string>();

  before(async () => {
    project = projectCopy(os.tmpdir());
    started = `localhost:${await freePort()}`;
  });
  after(async () => {
    // make clean stops the registry make registry started for localhost:5001.
    await run("make", ["--no-print-directory", "clean"], { cwd: project, env: environment() });
    rmSync(project, { recursive: true, force: true });
  });

  /** What every command runs with, besides this process's environment: nothing of a make or test run above, the test registry as REGISTRY. */
  const environment = () => ({
    ...{ MAKEFLAGS: "", MFLAGS: "", MAKELEVEL: "", NODE_TEST_CONTEXT: "" },
    RUNTIME,
    REGISTRY: bench.registry.address.replace("127.0.0.1", "localhost"),
    npm_config_offline: "true",
  });

  /** A page's text for this run: its registry addresses replaced by the test's. */
  const here = (text: string) => text.replaceAll("localhost:5000", bench.registry.address.replace("127.0.0.1", "localhost")).replaceAll("localhost:5001", started);

  async function runShown(shown: ShownCommand) {
    const where = `${shown.page}:${shown.line}: ${shown.command}`;
    const result = await run("sh", ["-c", here(shown.command)], { cwd: project, env: environment() });
    const said = `${result.stdout}${result.stderr}`;
    const output = shown.output.join("\n");
    if (!REFUSED.test(output)) assert.doesNotMatch(said, REFUSED, `${where}\nrefused by make:\n${said}`);
    if (!shown.troubleshooting) {
      const fails = /^✗ |\*\*\* /m.test(output);
      assert.equal(result.code !== 0, fails, `${where}\n${fails ? "succeeded, but the page shows it failing" : `failed (exit ${result.code})`}:\n${said}`);
    }
    for (const quoted of output.match(/Makefile:\d+/g) ?? []) assert.ok(said.includes(quoted), `${where}\nquotes ${quoted}, but make said:\n${said}`);
    ran.add(where);
  }

  for (const page of DOC_PAGES) {
    it(`${page}: each command runs as shown`, { timeout: 600_000 }, async () => {
      const skipped = PAGES_NOT_RUN.get(page);
      for (const shown of shownCommands(page)) {
        if (skipped || NOT_RUN.some(([pattern]) => pattern.test(shown.command))) continue;
        await runShown(shown);
      }
    });
  }

  it("runs the commands of every page but those it names, each for a reason", () => {
    const runnable = DOC_PAGES.filter((page) => !PAGES_NOT_RUN.has(page)).flatMap(shownCommands).filter((shown) => !NOT_RUN.some(([pattern]) => pattern.test(shown.command)));
    assert.ok(runnable.length >= 40, `only ${runnable.length} commands run`);
    assert.equal(ran.size, runnable.length);
  });
});
