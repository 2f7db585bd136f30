// The command layer of every step script: options, help, timing, presenter pauses, and what a
// failure means for the person running it (exit code and advice, lib/step/advice.ts). A step's
// body gets its options, its client, its oras and its output channel as arguments, so it runs
// the same in its own process and inside a test.
import { rmSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { createInterface } from "node:readline/promises";
import { pathToFileURL } from "node:url";
import { env } from "../env.ts";
import { CliError, exitCodeOf, UsageError } from "../errors.ts";
import { removeHalfWritten } from "../oci/artifacts.ts";
import { Clients } from "../oci/client.ts";
import { OciError } from "../oci/errors.ts";
import { parseReference } from "../oci/reference.ts";
import { collect, type Registry } from "../oci/registry.ts";
import { insecureWarning } from "../oras/command.ts";
import { advice } from "./advice.ts";
import {
  type CommandFlags,
  type CommandFlagValues,
  type OptionDefaults,
  type OptionName,
  optionsHelp,
  parseFlags,
  parseOptions,
  remoteFlags,
  type StepOptions,
} from "./options.ts";
import { orasFor } from "./oras.ts";
import { createOutput, type Output, type Sink } from "./output.ts";

/** A step script: what `--help` says of it, and its body; `runStep` runs it, in its own process or a test's. */
export interface Step {
  /** The script's file name without `.ts`: `make <name>` runs it. */
  name: string;
  /** The spec section it reproduces, printed as its banner. */
  section: string;
  /** The oras command(s) it runs, as the spec writes them. */
  runs: string;
  /** The options it takes; every step also takes --json, --plain-http and --help. */
  options: readonly OptionName[];
  /** Flags of this command alone (discover's --skill, say), each with its environment twin. */
  flags?: CommandFlags;
  /** Its own defaults of options, where they differ from every step's; --help says them. */
  defaults?: OptionDefaults;
  example: string;
  usage?: string;
  /**
   * The commands this run will run, with its settings, for presenter mode (PAUSE=1) to show
   * before it runs them: built by the functions the body runs them with, said by shownOras.
   */
  preview?(context: StepContext): string[] | Promise<string[]>;
  /** The step's work; an exit code where it ends in one without an error (a status, a summary with gaps). */
  body(context: StepContext): Promise<number | void>;
}

export interface StepContext {
  options: StepOptions;
  /** `--plain-http` where oras needs it for this registry, else nothing. */
  remote: string[];
  flags: CommandFlagValues;
  positionals: string[];
  /** Where everything the step prints goes. */
  out: Output;
  /** The client of REGISTRY, made when first used. */
  readonly client: Registry;
  /** Every client of the run (a mirror's two sides), shared with the built-in oras commands. */
  clients: Clients;
  /** The step's oras commands (lib/step/oras.ts), printed to `out`. */
  oras: ReturnType<typeof orasFor>["oras"];
  orasIn: ReturnType<typeof orasFor>["orasIn"];
}

/** What a step reads and writes: the process's own, or a test's. */
export interface StepIO {
  argv: string[];
  stdout: Sink;
  stderr: Sink;
  /** false: no colour; unset: none under NO_COLOR, else where the terminal has it. */
  color?: boolean;
}

function helpText(step: Step): string {
  return [
    `${step.section}`,
    "",
    `Runs: ${step.runs}`,
    "",
    `Usage: make ${step.name}   or   node_modules/.bin/deno run -A scripts/${step.name}.ts ${step.usage ?? ""}[options]`,
    "",
    "Options:",
    ...optionsHelp(step.options, step.flags, step.defaults),
    "",
    `Example: ${step.example}`,
    "",
    "Environment: ORAS_BACKEND=auto|oras|builtin (default auto: the oras CLI when on PATH, else the built-in client),",
    "NO_COLOR=1 for plain output, REGISTRY_TIMEOUT=seconds per request (default 10), PAUSE=1 to wait for Enter first.",
  ].join("\n");
}

/** One line of standard input; undefined at its end. */
async function readLine(): Promise<string | undefined> {
  const prompt = createInterface({ input: process.stdin });
  try {
    return await new Promise((resolve) => {
      prompt.once("line", resolve);
      prompt.once("close", () => resolve(undefined));
    });
  } finally {
    prompt.close();
  }
}

/** Presenter mode: the step shows what it will run, then waits for Enter (or the end of input). */
async function pause(step: Step, context: StepContext) {
  const { out } = context;
  const commands = step.preview ? await step.preview(context) : undefined;
  if (commands === undefined) out.note(`next: ${step.runs}`);
  else if (commands.length === 0) out.note("next: nothing to run");
  else out.note("next, as it will run:");
  for (const command of commands ?? []) out.command(command);
  out.note("Press Enter to run it.");
  await readLine();
}

/**
 * Before a step removes what it said it would: goes ahead with YES=1, else asks on standard
 * input and goes ahead on y or yes. Any other answer, or none, is a usage error: nothing removed.
 */
export async function confirm(out: Output, question: string): Promise<void> {
  if (env.boolean("YES")) return;
  out.note(`${question} Answer y to go ahead (YES=1 answers for you):`);
  if (!/^y(es)?$/i.test((await readLine())?.trim() ?? "")) {
    throw new UsageError("not confirmed, so nothing was removed", "Answer y, or run it with YES=1.");
  }
}

/** What an interrupt must undo before the process exits: scratch directories, an agent started but not yet healthy. */
const undoOnInterrupt = new Set<() => void>();

/** Runs `work`; an interrupt meanwhile calls `undo` (synchronously) before the process exits. */
export async function undoneOnInterrupt<T>(undo: () => void, work: () => Promise<T>): Promise<T> {
  undoOnInterrupt.add(undo);
  try {
    return await work();
  } finally {
    undoOnInterrupt.delete(undo);
  }
}

/**
 * Runs `work` in a new temporary directory in `parent` (the system's by default), removed
 * afterwards whatever happens, interrupts included.
 */
export async function withScratchDir<T>(prefix: string, work: (dir: string) => Promise<T>, parent = os.tmpdir()): Promise<T> {
  const dir = await mkdtemp(path.join(parent, prefix));
  return await undoneOnInterrupt(() => rmSync(dir, { recursive: true, force: true }), async () => {
    try {
      return await work(dir);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
}

/**
 * Ctrl-C (SIGINT) or SIGTERM: what this process was writing is removed, one line says so, and the
 * exit code is the shell's for that signal (130, 143).
 */
function exitCleanlyOnInterrupt(out: Output) {
  for (const [signal, code] of [["SIGINT", 130], ["SIGTERM", 143]] as const) {
    process.once(signal, () => {
      for (const undo of undoOnInterrupt) undo();
      const removed = removeHalfWritten();
      out.error(`interrupted by ${signal}${removed ? `; removed ${removed} half-written file${removed === 1 ? "" : "s"}` : ""}`);
      process.exit(code);
    });
  }
}

/**
 * Runs one step: options, banner, the step itself, its time. Failures become a message, a hint
 * and the exit code of their kind, never a stack trace for a problem the user can fix. Returns
 * the exit code.
 */
export async function runStep(step: Step, io: StepIO): Promise<number> {
  const color = io.color ?? !env.noColor;
  let out = createOutput({ stdout: io.stdout, stderr: io.stderr, color });
  let options: StepOptions | undefined;
  let clients: Clients | undefined;
  try {
    const parsed = parseOptions(io.argv, step.options, step.flags, step.defaults);
    if (parsed.help) {
      io.stdout.write(helpText(step) + "\n");
      return 0;
    }
    options = parsed.options;
    // A bad ORAS_BACKEND or PAUSE is a usage error before the step prints anything.
    env.orasBackend;
    const pausing = env.pause;
    if (options.json) out = createOutput({ stdout: io.stdout, stderr: io.stderr, color, json: true });
    out.banner(step.section);
    const run = clients = new Clients(env.registryTimeoutMs);
    const { registry, remote } = options;
    let client: Registry | undefined;
    const context: StepContext = {
      options,
      remote: remoteFlags(options),
      flags: parsed.flags,
      positionals: parsed.positionals,
      out,
      clients: run,
      get client() {
        return client ??= run.for(registry, remote, () => remote.insecure && out.warn(insecureWarning(registry)));
      },
      ...orasFor(out, run),
    };
    if (pausing) await pause(step, context);
    const started = performance.now();
    const code = await step.body(context);
    out.note(`(${((performance.now() - started) / 1000).toFixed(2)} s)`);
    return code ?? 0;
  } catch (error) {
    return await reportFailure(error, out, options, clients);
  }
}

/** A step script started by itself (not imported by a test): under Deno import.meta.main, under Node its file is argv[1]. */
export function isMain(meta: ImportMeta): boolean {
  const main = (meta as { main?: boolean }).main;
  return main ?? (process.argv[1] !== undefined && meta.url === pathToFileURL(path.resolve(process.argv[1])).href);
}

/** Runs a step script as its own process: its arguments and streams, interrupts, the exit code. */
export async function main(step: Step) {
  const out = createOutput({ stdout: process.stdout, stderr: process.stderr, color: !env.noColor });
  exitCleanlyOnInterrupt(out);
  // A reader that stops early (`make list | head -1`) is not a failure of the step.
  process.stdout.on("error", (error: NodeJS.ErrnoException) => {
    if (error.code === "EPIPE") process.exit(0);
    throw error;
  });
  process.exitCode = await runStep(step, { argv: process.argv.slice(2), stdout: process.stdout, stderr: process.stderr });
}

/**
 * Runs a script that is not a step (the walkthrough, the validators' build) as its own process,
 * with the steps' conventions: --help (HELP=1) says what it does and does nothing else, --json
 * (JSON=1) where it has a result, any other flag or argument is refused, failures are reported.
 */
export async function mainScript(help: string, work: (out: Output, json: boolean) => Promise<number | void>, { json: hasJson = false } = {}) {
  const color = !env.noColor;
  let out = createOutput({ stdout: process.stdout, stderr: process.stderr, color });
  try {
    const { values, positionals } = parseFlags(process.argv.slice(2), {
      help: { type: "boolean", short: "h" },
      ...(hasJson && { json: { type: "boolean" as const } }),
    });
    if (positionals.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])}`, "Run with --help to see the options.");
    if (values.help || env.boolean("HELP")) {
      process.stdout.write(help + "\n");
      return;
    }
    const json = hasJson && (Boolean(values.json) || env.boolean("JSON"));
    if (json) out = createOutput({ stdout: process.stdout, stderr: process.stderr, color, json });
    process.exitCode = (await work(out, json)) ?? 0;
  } catch (error) {
    process.exitCode = await reportFailure(error, out);
  }
}

/** A missing artifact's repository and the tags it does have, so the fix is obvious; undefined when that cannot be told. */
async function whatExists(subject: string, options: StepOptions, clients: Clients): Promise<{ repository: string; tags: string[] } | undefined> {
  let repository;
  try {
    const ref = parseReference(subject);
    repository = clients.for(ref.registry, options.remote).repository(ref.repository);
  } catch {
    return undefined;
  }
  const tags = await collect(repository.tags()).catch(() => []);
  return { repository: repository.reference(), tags };
}

/** What to do about `error` (lib/step/advice.ts), told what does exist where something was missing. */
export async function hintFor(error: OciError | CliError, options?: StepOptions, clients?: Clients): Promise<string | undefined> {
  const subject = error instanceof OciError && error.kind === "not-found" ? error.details.subject : undefined;
  const missing = subject && options && clients ? await whatExists(subject, options, clients) : undefined;
  return advice(error, { registry: options?.registry, remote: options?.remote, missing });
}

/** Says what failed and what to do about it; returns the exit code of its kind. */
export async function reportFailure(error: unknown, out: Output, options?: StepOptions, clients?: Clients): Promise<1 | 2> {
  if (error instanceof OciError || error instanceof CliError) {
    out.error(error.message);
    const hint = await hintFor(error, options, clients);
    if (hint) out.hint(hint);
  } else {
    out.error(`unexpected failure: ${(error as Error)?.stack ?? error}`);
  }
  return exitCodeOf(error);
}
