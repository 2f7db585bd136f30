// `oras` for the step scripts: a step writes the command as a person would type it,
//
//   await oras`push --artifact-type ${CARD_TYPE} ${ref} ${file}:application/json`
//
// and that one line is what is printed (`$ oras push …`), and what runs: the real oras CLI when
// it is on PATH, else the built-in implementation of exactly that argv (lib/oras/). The built-in
// hands back what it did; only the real CLI's printed text is read for it.
import { CliError } from "../errors.ts";
import { env } from "../env.ts";
import { findOnPath } from "../executables.ts";
import type { Clients } from "../oci/client.ts";
import type { OrasResult } from "../oras/command.ts";
import { runOras } from "../oras/main.ts";
import { agentReference } from "./options.ts";
import { type Output, shellLine } from "./output.ts";
import type { StepContext } from "./run.ts";

/** What a command did: from the built-in's own result, or read from what the real CLI printed. */
export interface OrasOutput {
  /** The manifest digest push, pull, cp, tag, attach and resolve name. */
  digest: string;
  /** What repo ls and repo tags list. */
  names: string[];
  /** The manifest manifest fetch read. */
  content: Uint8Array;
}

/** The oras CLI on PATH, unless ORAS_BACKEND=builtin; undefined means the built-in client runs. */
export function orasCli(): string | undefined {
  const backend = env.orasBackend;
  const found = backend === "builtin" ? undefined : findOnPath("oras");
  if (backend === "oras" && !found) {
    throw new CliError("ORAS_BACKEND=oras, but the oras CLI is not on PATH", 2, ORAS_INSTALL_HINT);
  }
  return found;
}

export const ORAS_INSTALL_HINT =
  "Install oras 1.2 or later (https://oras.land/docs/installation; e.g. `brew install oras`,\n" +
  "or `go install oras.land/oras/cmd/oras@latest` and add $(go env GOPATH)/bin to PATH),\n" +
  "or use the built-in client, which writes the same artifacts: ORAS_BACKEND=builtin.";

export const BUILTIN_NOTE = "(oras is not on PATH: the built-in OCI client runs each command below, with the same results)";

/**
 * A tagged template as argv, the way zx reads one: literal text splits at white space, a value
 * joins the text it touches (`${file}:application/json` is one argument), an array is one
 * argument per item (an empty one is none).
 */
function argv(strings: TemplateStringsArray, values: unknown[]): string[] {
  const args: string[] = [];
  let current: string | undefined;
  const flush = () => {
    if (current !== undefined) args.push(current);
    current = undefined;
  };
  strings.forEach((literal, i) => {
    for (const char of literal) {
      if (/\s/.test(char)) flush();
      else current = (current ?? "") + char;
    }
    if (i === values.length) return;
    const value = values[i];
    if (Array.isArray(value)) {
      flush();
      args.push(...value.map(String));
    } else {
      current = (current ?? "") + String(value);
    }
  });
  flush();
  return args;
}

/** What the real CLI did, read from what it printed: the `Digest:` line (or resolve's bare one), one name a line, or a manifest. */
function fromText(stdout: string): OrasResult {
  return {
    digest: stdout.match(/^(?:Digest: )?(sha256:[a-f0-9]{64})$/m)?.[1],
    names: stdout.split("\n").filter(Boolean),
    content: new TextEncoder().encode(stdout),
  };
}

/** An `oras` tagged template: one that runs the command, or one that only says it (shownOras). */
export type OrasTag<T> = (strings: TemplateStringsArray, ...values: unknown[]) => T;
type Oras = OrasTag<Promise<OrasOutput>>;

/** The line printed for an oras command: `oras …`, or `(cd DIR && oras …)` where it runs in DIR. */
const printedLine = (args: string[], cwd?: string) => {
  const line = shellLine(["oras", ...args]);
  return cwd ? `(cd ${shellLine([cwd])} && ${line})` : line;
};

/** The oras command as it will be printed and run, without running it: what presenter mode shows first. */
export const shownOras = (cwd?: string): OrasTag<string> => (strings, ...values) => printedLine(argv(strings, values), cwd);

/** What a command is handed besides its argv. */
interface Given {
  /** What it reads on standard input (a --password-stdin password), never printed. */
  stdin?: string;
  /** Files read and checked already, by absolute path (OrasIO.files); the oras CLI reads them itself. */
  files?: ReadonlyMap<string, Uint8Array>;
}

/**
 * The oras commands of one step, printed to `out`, the built-in ones over the step's `clients`.
 * `orasIn(dir)` runs in a directory, printed as `(cd DIR && oras …)`: push names files relative to it.
 */
export function orasFor(out: Output, clients: Clients) {
  /** Said once, before the first command, unless the walkthrough said it already. */
  let noteDue = !env.walkthroughStarted;

  async function run(args: string[], cwd: string | undefined, { stdin, files }: Given): Promise<OrasOutput> {
    const cli = orasCli();
    const credential = cli && !args.includes("--password-stdin") ? env.registryCredential : undefined;
    if (credential) {
      throw new CliError(
        `${credential.source} are read by the built-in client only; the oras CLI on PATH takes credentials from its login`,
        2,
        "Store them where oras finds them with `make login` (then unset both), or use the built-in client: ORAS_BACKEND=builtin.",
      );
    }
    if (!cli && noteDue) out.note(BUILTIN_NOTE);
    noteDue = false;
    out.command(printedLine(args, cwd));
    let stdout = "";
    let result: OrasResult;
    if (cli) {
      // Loaded only here: every step would otherwise pay zx's start-up, though only this runs a program.
      const { $ } = await import("zx");
      const ran = await $({ cwd, quiet: true, nothrow: true, input: stdin })`${cli} ${args}`;
      if (ran.exitCode !== 0) throw new CliError(ran.stderr.trim() || `oras exited with ${ran.exitCode}`, 1);
      stdout = ran.stdout;
      out.text(stdout);
      result = fromText(stdout);
    } else {
      result = await runOras(args, {
        cwd: cwd ?? process.cwd(),
        stdin: stdin === undefined ? undefined : () => Promise.resolve(stdin),
        out: (text) => {
          stdout += text;
          out.text(text);
        },
        err: (text) => out.warn(text.trimEnd()),
        clients,
        files,
      });
    }
    if (stdout && !stdout.endsWith("\n")) out.text("\n");
    return {
      names: result.names ?? [],
      content: result.content ?? new Uint8Array(),
      get digest() {
        if (!result.digest) throw new CliError(`oras ${args[0]} printed no digest:\n${stdout}`, 1);
        return result.digest;
      },
    };
  }

  const orasIn = (cwd?: string, given: Given = {}): Oras => (strings, ...values) => run(argv(strings, values), cwd, given);
  return { oras: orasIn(), orasIn };
}

/** One card's pull into OUT_DIR/, as pull and verify run it and presenter mode says it first. */
export const pullCard = <T>(oras: OrasTag<T>, { options, remote }: Pick<StepContext, "options" | "remote">, agent: string) =>
  oras`pull ${remote} ${agentReference(options, agent)} -o ${options.outDir.endsWith("/") ? options.outDir : `${options.outDir}/`}`;
