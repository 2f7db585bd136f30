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
import path from "node:path";
import { freePort } from "../../lib/registry-server.ts";
import { DOC_PAGES, projectCopy, run, RUNTIME, type ShownCommand, shownCommands, withRegistry } from "../helpers.ts";

/** What is not run, and why: each is run by another test, or needs what this machine cannot give it. */
const NOT_RUN: [RegExp, string][] = [
  [/^(oras|\(cd \S+ && oras) /, "tests/integration/oras-cli.test.ts runs every oras line"],
  [/^make test\b/, "the test suite itself"],
  [/^make bench\b/, "minutes of benchmarks; tests/integration/fleet.test.ts runs make bench"],
  [/^make serve\b|^curl /, "the service runs until stopped; tests/integration/serve.test.ts runs it and these requests"],
  [/registry\.example/, "a registry on another machine"],
  [/^tmp\/tools\/bin\/notation /, "notation checks signatures made with this run's keys; tests/integration/notary.test.ts runs it on ours"],
  [/^make phase5\b/, "starts the three agents on ports 8001-8003 and leaves them running; tests/integration/agents.test.ts runs make phase5 on free ports"],
  [/^deno run /, "the sandboxed command make run prints as it starts an agent; tests/integration/agents.test.ts runs make run"],
  [/^message\/send to /, "what make ask prints as it sends a task, not a command; tests/integration/agents.test.ts runs make ask"],
];
/** Pages whose sessions need registries set up for them: TLS from a private CA, accounts, a token service. */
const PAGES_NOT_RUN = new Map([
  ["docs/real-registries.md", "tests/integration/real-registries.test.ts and mirror.test.ts run these against such registries"],
  ["docs/trust.md", "its session starts from an empty registry, where plan:v1 is the signed card; tests/integration/trust.test.ts and notary.test.ts run keygen, sign, publish, pull and verify that way"],
]);
/** What make says when it refuses a command line: the command as shown is wrong, whatever the section. */
const REFUSED = /unknown variable|unknown target|is empty: give it a value| ignores /;

/**
 * The commands with what the page shows them printing. A step run through make prints each command
 * it runs as `$ …` (mkdir, oras, diff, the agent it starts): from its `== Section ==` up to its time
 * `(0.10 s)` or make's `***` line, such lines are what it printed, failure and all, not commands
 * of the page. A line not run that follows a command in its block (an oras line) is part of what
 * that command printed too.
 */
function withPrinted(commands: ShownCommand[]): ShownCommand[] {
  const result: ShownCommand[] = [];
  const notRun = (shown: ShownCommand) => NOT_RUN.some(([pattern]) => pattern.test(shown.command));
  const next = (shown: ShownCommand, i: number) => commands[i + 1]?.line === shown.line + shown.output.length + 1 ? commands[i + 1] : undefined;
  const ended = (shown: ShownCommand) => shown.output.some((line) => /^\(\d+(\.\d+)? s\)$|^make: \*\*\* /.test(line));
  for (let i = 0; i < commands.length; i++) {
    let shown = commands[i];
    const step = /^make /.test(shown.command) && shown.output[0] === "" && /^== .* ==$/.test(shown.output[1] ?? "");
    // The lines a step printed, when its end is in the same block.
    let j = i;
    let merged = shown;
    while (step && !ended(merged) && next(commands[j], j)) {
      j++;
      merged = { ...merged, output: [...merged.output, `$ ${commands[j].command}`, ...commands[j].output] };
    }
    if (step && ended(merged)) {
      shown = merged;
      i = j;
    }
    while (!notRun(shown) && commands[i + 1] && notRun(commands[i + 1]) && next(commands[i], i)) {
      i++;
      shown = { ...shown, output: [...shown.output, `$ ${commands[i].command}`, ...commands[i].output] };
    }
    result.push(shown);
  }
  return result;
}

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

  /** What every command runs with, besides a user's environment (userEnv): the test registry as REGISTRY. */
  const environment = () => ({
    RUNTIME,
    REGISTRY: bench.registry.address.replace("127.0.0.1", "localhost"),
    npm_config_offline: "true",
  });

  /** A page's text for this run: its registry addresses replaced by the test's. */
  const here = (text: string) => text.replaceAll("localhost:5000", bench.registry.address.replace("127.0.0.1", "localhost")).replaceAll("localhost:5001", started);

  /** Where a page's commands run and what they export: a `cd` or `export` line holds for the lines after it, as in a shell. */
  interface Session {
    cwd: string;
    env: Record<string, string>;
  }

  async function runShown(shown: ShownCommand, session: Session) {
    const where = `${shown.page}:${shown.line}: ${shown.command}`;
    const cd = shown.command.match(/^cd (\S+)$/);
    if (cd) {
      session.cwd = path.resolve(session.cwd, cd[1]);
      ran.add(where);
      return;
    }
    const exported = shown.command.match(/^export (\w+)=(.*)$/);
    if (exported) {
      const value = await run("sh", ["-c", `printf %s ${exported[2]}`], { cwd: session.cwd, env: { ...environment(), ...session.env } });
      session.env[exported[1]] = value.stdout;
      ran.add(where);
      return;
    }
    // A here-document's lines are the page's output lines up to its delimiter.
    const delimiter = shown.command.match(/<<'?(\w+)'?$/)?.[1];
    const script = delimiter ? [shown.command, ...shown.output.slice(0, shown.output.indexOf(delimiter) + 1)].join("\n") : shown.command;
    const result = await run("sh", ["-c", here(script)], { cwd: session.cwd, env: { ...environment(), ...session.env } });
    const said = `${result.stdout}${result.stderr}`;
    const output = shown.output.join("\n");
    if (!REFUSED.test(output)) assert.doesNotMatch(said, REFUSED, `${where}\nrefused by make:\n${said}`);
    if (!shown.troubleshooting) {
      const fails = /^✗ |\*\*\* /m.test(output);
      assert.equal(result.code !== 0, fails, `${where}\n${fails ? "succeeded, but the page shows it failing" : `failed (exit ${result.code})`}:\n${said}`);
    }
    // A Troubleshooting failure that did not happen here (a state the page set up) quotes nothing make said.
    const quotes = shown.troubleshooting && result.code === 0 ? [] : output.match(/Makefile:\d+/g) ?? [];
    for (const quoted of quotes) assert.ok(said.includes(quoted), `${where}\nquotes ${quoted}, but make said:\n${said}`);
    ran.add(where);
  }

  for (const page of DOC_PAGES) {
    it(`${page}: each command runs as shown`, { timeout: 600_000 }, async () => {
      const skipped = PAGES_NOT_RUN.get(page);
      const session: Session = { cwd: project, env: {} };
      for (const shown of withPrinted(shownCommands(page))) {
        if (skipped || NOT_RUN.some(([pattern]) => pattern.test(shown.command))) continue;
        await runShown(shown, session);
      }
    });
  }

  it("runs the commands of every page but those it names, each for a reason", () => {
    const runnable = DOC_PAGES.filter((page) => !PAGES_NOT_RUN.has(page)).flatMap((page) => withPrinted(shownCommands(page)))
      .filter((shown) => !NOT_RUN.some(([pattern]) => pattern.test(shown.command)));
    assert.ok(runnable.length >= 40, `only ${runnable.length} commands run`);
    assert.equal(ran.size, runnable.length);
  });
});
