// `oras` for the step scripts: a step writes the command as a person would type it,
//
//   await oras`push --artifact-type ${CARD_TYPE} ${ref} ${file}:application/json`
//
// and that one line is what is printed (`$ oras push …`), and what runs: the real oras CLI when
// it is on PATH, else the built-in implementation of exactly that argv (lib/oras/).
import { CliError } from "../errors.ts";
import { env } from "../env.ts";
import { findOnPath } from "../executables.ts";
import { runOras } from "../oras/main.ts";
import { say, shellLine } from "./output.ts";

export interface OrasOutput {
  /** What the command wrote to stdout, as oras writes it. */
  stdout: string;
  /** The `Digest: sha256:…` line of push, pull and cp, or the line resolve prints. */
  digest: string;
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

/** Said once per process, before the first command, unless the walkthrough said it already. */
let noteDue = !env.walkthroughStarted;

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

async function run(args: string[], cwd: string | undefined, stdin?: string): Promise<OrasOutput> {
  const cli = orasCli();
  const credential = cli && !args.includes("--password-stdin") ? env.registryCredential : undefined;
  if (credential) {
    throw new CliError(
      `${credential.source} are read by the built-in client only; the oras CLI on PATH takes credentials from its login`,
      2,
      "Store them where oras finds them with `make login` (then unset both), or use the built-in client: ORAS_BACKEND=builtin.",
    );
  }
  if (!cli && noteDue) say.note(BUILTIN_NOTE);
  noteDue = false;
  const line = shellLine(["oras", ...args]);
  say.command(cwd ? `(cd ${shellLine([cwd])} && ${line})` : line);
  let stdout = "";
  if (cli) {
    // Loaded only here: every step would otherwise pay zx's start-up, though only this runs a program.
    const { $ } = await import("zx");
    const result = await $({ cwd, quiet: true, nothrow: true, input: stdin })`${cli} ${args}`;
    if (result.exitCode !== 0) throw new CliError(result.stderr.trim() || `oras exited with ${result.exitCode}`, 1);
    stdout = result.stdout;
    say.text(stdout);
  } else {
    await runOras(args, {
      cwd: cwd ?? process.cwd(),
      stdin: stdin === undefined ? undefined : () => Promise.resolve(stdin),
      out: (text) => {
        stdout += text;
        say.text(text);
      },
    });
  }
  if (stdout && !stdout.endsWith("\n")) say.text("\n");
  return {
    stdout,
    get digest() {
      const digest = stdout.match(/^(?:Digest: )?(sha256:[a-f0-9]{64})$/m)?.[1];
      if (!digest) throw new CliError(`oras ${args[0]} printed no digest:\n${stdout}`, 1);
      return digest;
    },
  };
}

type Oras = (strings: TemplateStringsArray, ...values: unknown[]) => Promise<OrasOutput>;

/**
 * `oras` run in a directory, printed as `(cd DIR && oras …)`: push names files relative to it.
 * `stdin` is what the command reads on standard input (a --password-stdin password), never printed.
 */
export const orasIn = (cwd?: string, stdin?: string): Oras => (strings, ...values) => run(argv(strings, values), cwd, stdin);

export const oras: Oras = orasIn();
