// The command layer of every step script: options, help, timing, presenter pauses, and what a
// failure means for the person running it (exit code and advice). lib/oci/ says what went wrong;
// only this file says what to do about it.
import { rmSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { createInterface } from "node:readline/promises";
import { env } from "../env.ts";
import { CliError } from "../errors.ts";
import { removeHalfWritten } from "../oci/artifacts.ts";
import { OciError } from "../oci/errors.ts";
import { parseReference } from "../oci/reference.ts";
import { collect } from "../oci/registry.ts";
import { registryFor } from "../oras/command.ts";
import { type CommandFlags, type CommandFlagValues, type OptionName, optionsHelp, parseOptions, remoteFlags, type StepOptions } from "./options.ts";
import { reserveStdoutForJson, say } from "./output.ts";

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
  example: string;
  usage?: string;
}

export interface StepContext {
  options: StepOptions;
  /** `--plain-http` where oras needs it for this registry, else nothing. */
  remote: string[];
  flags: CommandFlagValues;
  positionals: string[];
}

function helpText(step: Step): string {
  return [
    `${step.section}`,
    "",
    `Runs: ${step.runs}`,
    "",
    `Usage: make ${step.name}   or   deno run -A scripts/${step.name}.ts ${step.usage ?? ""}[options]`,
    "",
    "Options:",
    ...optionsHelp(step.options, step.flags),
    "",
    `Example: ${step.example}`,
    "",
    "Environment: ORAS_BACKEND=auto|oras|builtin (default auto: the oras CLI when on PATH, else the built-in client),",
    "NO_COLOR=1 for plain output, REGISTRY_TIMEOUT=seconds per request (default 10), PAUSE=1 to wait for Enter first.",
  ].join("\n");
}

/** Presenter mode: the step is announced, then waits for Enter (or the end of input). */
async function pause(step: Step) {
  say.note(`next: ${step.runs}`);
  say.note("Press Enter to run it.");
  const prompt = createInterface({ input: process.stdin });
  await new Promise<void>((resolve) => {
    prompt.once("line", () => resolve());
    prompt.once("close", () => resolve());
  });
  prompt.close();
}

/** Directories a step works in for a moment: an interrupt removes them too. */
const scratchDirs = new Set<string>();

/** Runs `work` in a new temporary directory, removed afterwards whatever happens, interrupts included. */
export async function withScratchDir<T>(prefix: string, work: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(path.join(os.tmpdir(), prefix));
  scratchDirs.add(dir);
  try {
    return await work(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
    scratchDirs.delete(dir);
  }
}

/**
 * Ctrl-C (SIGINT) or SIGTERM: what this process was writing is removed, one line says so, and the
 * exit code is the shell's for that signal (130, 143).
 */
function exitCleanlyOnInterrupt() {
  for (const [signal, code] of [["SIGINT", 130], ["SIGTERM", 143]] as const) {
    process.once(signal, () => {
      for (const dir of scratchDirs) rmSync(dir, { recursive: true, force: true });
      const removed = removeHalfWritten();
      say.error(`interrupted by ${signal}${removed ? `; removed ${removed} half-written file${removed === 1 ? "" : "s"}` : ""}`);
      process.exit(code);
    });
  }
}

/**
 * Runs one step: options, banner, the step itself, its time. Failures become a message, a hint
 * and the exit code of their kind, never a stack trace for a problem the user can fix.
 */
export async function runStep(step: Step, body: (context: StepContext) => Promise<void>) {
  let options: StepOptions | undefined;
  exitCleanlyOnInterrupt();
  try {
    const parsed = parseOptions(process.argv.slice(2), step.options, step.flags);
    options = parsed.options;
    if (parsed.help) {
      console.log(helpText(step));
      return;
    }
    env.orasBackend; // a bad ORAS_BACKEND is a usage error before the step prints anything
    if (options.json) reserveStdoutForJson();
    say.banner(step.section);
    if (env.pause) await pause(step);
    const started = performance.now();
    await body({ options, remote: remoteFlags(options), flags: parsed.flags, positionals: parsed.positionals });
    say.note(`(${((performance.now() - started) / 1000).toFixed(2)} s)`);
  } catch (error) {
    await reportFailure(error, options);
  }
}

/** 1 for content that failed a check, 2 for usage and environment problems. */
function exitCodeOf(error: unknown): 1 | 2 {
  if (error instanceof CliError) return error.exitCode;
  if (error instanceof OciError) return ["not-found", "invalid-content", "too-large", "rejected"].includes(error.kind) ? 1 : 2;
  return 1;
}

/** A failure of the content itself (missing, changed, hostile): a verification reports it and goes on. */
export const isContentFailure = (error: unknown): error is OciError | CliError =>
  (error instanceof OciError || error instanceof CliError) && exitCodeOf(error) === 1;

const HOSTILE = "The artifact is hostile or broken; nothing was written.";
const START_OVER = "start over with `make clean registry push`.";

/** What a person can do about an OciError, in this project's words. */
export async function advice(error: OciError, options?: StepOptions): Promise<string | undefined> {
  const { status, attempts, reason, subject } = error.details;
  switch (error.kind) {
    case "unreachable":
      return "Start one with `make registry` (or point REGISTRY at a running one, e.g. REGISTRY=localhost:5000).";
    case "timeout":
      return "Something there accepts connections but does not answer like a registry: check it with `make registry-status`,\n" +
        "start a registry with `make registry` (or point REGISTRY at one), or allow more time with REGISTRY_TIMEOUT=seconds.";
    case "unavailable":
      return `It answered ${status} ${attempts} times in a row: check it with \`make registry-status\` and its log, then run again.`;
    case "unauthorized":
      return credentialAdvice(reason, subject ?? options?.registry ?? "REGISTRY");
    case "denied":
      return "The credentials were accepted, but do not allow this: ask the registry's administrator for pull and push\n" +
        "access to the repository, or log in as a user who has it (make login).";
    case "tls":
      return tlsAdvice(reason);
    case "unsupported":
      return reason === "no-catalog"
        ? "Name the agent repositories instead: make list AGENTS=plan,build,test (list then asks for those directly)."
        : undefined;
    case "not-a-registry":
      return "Point REGISTRY at an OCI registry's host:port (check what answers with `make doctor`), or start one with `make registry`.";
    case "too-large":
      return "No registry stores anything this big, so the answer is broken or hostile: check that REGISTRY is the registry you meant.";
    case "invalid-reference":
      return "A reference looks like localhost:5000/agents/plan:v1 (registry/repository:tag or @sha256:…).";
    case "file-system":
      return reason === "file-in-the-way"
        ? "Move the file away, or choose another directory with --out (OUT_DIR)."
        : reason === "not-writable"
        ? "Make the directory writable (chmod u+w) or choose another with --out (OUT_DIR)."
        : "Choose a directory you can write to with --out (OUT_DIR), e.g. OUT_DIR=tmp/registry-verify.";
    case "invalid-content":
      switch (reason) {
        case "path-traversal":
          return `${HOSTILE} Do not pull it with --allow-path-traversal.`;
        case "no-title":
          return "Push files with `oras push REF FILE`, which names each layer after its file.";
        case "digest-mismatch":
          return "The registry's storage is damaged or the artifact was tampered with; nothing was written.\n" +
            `A new push keeps the damaged blob the registry already holds: ${START_OVER}`;
        case "truncated":
          return "The registry stopped while sending it, or its storage is damaged: check `make registry-status`;\n" +
            `if it runs and this happens again, ${START_OVER}`;
        case "unexpected-media-type":
          return "Expected application/vnd.oci.image.manifest.v1+json, the form oras push writes; this reference holds something else.";
        default:
          return HOSTILE;
      }
    case "not-found":
      return subject && options ? await missingAdvice(subject, options) : undefined;
    default:
      return undefined;
  }
}

/** What to do when credentials are missing, wrong or refused; `registry` is the host they are for. */
function credentialAdvice(reason: string | undefined, registry: string): string {
  const login = `make login REGISTRY=${registry} REGISTRY_USERNAME=<user> (the password is read from stdin or REGISTRY_PASSWORD)`;
  switch (reason) {
    case "no-credentials":
    case "anonymous-refused":
      return `Log in once: ${login};\nor set REGISTRY_USERNAME and REGISTRY_PASSWORD for this run.`;
    case "rejected-credentials":
      return `Check the user name and password (or token), then log in again: ${login}.`;
    case "invalid-token":
      return "Run again: a new token is fetched each run. If it keeps failing, the token service and the registry disagree\n" +
        "(clocks, or the key the registry trusts): check them.";
    case "token-service":
      return `The token service refused or failed: check the credentials (${login}),\nand that the token service named in the error is up.`;
    case "docker-config":
      return "Fix that file (it must be JSON, as docker and oras write it) or point DOCKER_CONFIG at another directory.";
    case "credential-helper":
      return "Install the credential helper the Docker config names (docker-credential-<name> on PATH), or remove it from the config.";
    case "cleartext":
      return "Credentials only go over TLS to another machine: drop --plain-http (PLAIN_HTTP) and reach the registry over HTTPS.";
    case "cleartext-token-service":
      return "The registry sends clients to a token service over plain HTTP, where the password could be read on the way.\n" +
        "Ask the registry's operator for an https:// token realm.";
    default:
      return `The registry wants credentials: ${login}.`;
  }
}

/** What to do about a TLS failure, by its reason (lib/oci/transport.ts). */
function tlsAdvice(reason: string | undefined): string {
  switch (reason) {
    case "untrusted-certificate":
      return "Trust the CA that signed it: --ca-file ca.pem (env REGISTRY_CA_FILE=ca.pem). For a throwaway test registry only,\n" +
        "--insecure (REGISTRY_INSECURE=1) skips the check.";
    case "https-server":
      return "Reach it over TLS: give its CA with --ca-file (REGISTRY_CA_FILE), which also turns TLS on for loopback\n" +
        "addresses, and drop --plain-http (PLAIN_HTTP) if set.";
    case "plain-http-server":
      return "It speaks plain HTTP: add --plain-http (PLAIN_HTTP=1) and drop --ca-file/--insecure (REGISTRY_CA_FILE, REGISTRY_INSECURE).";
    case "name-mismatch":
      return "Use the host name the certificate was issued for in REGISTRY, or have the certificate reissued for this name.";
    case "expired":
      return "The registry's certificate must be renewed (or this machine's clock is wrong).";
    case "ca-file":
      return "Point --ca-file (REGISTRY_CA_FILE) at the PEM file of the CA that signed the registry's certificate.";
    default:
      return "Check the registry's TLS set-up with `make doctor`; --ca-file (REGISTRY_CA_FILE) trusts a private CA.";
  }
}

/** A missing artifact is named together with what does exist, so the fix is obvious. */
async function missingAdvice(subject: string, options: StepOptions): Promise<string | undefined> {
  let repository;
  try {
    const ref = parseReference(subject);
    repository = registryFor(ref.registry, options.remote).repository(ref.repository);
  } catch {
    return undefined;
  }
  const tags = await collect(repository.tags()).catch(() => undefined);
  const name = repository.reference();
  return tags === undefined || tags.length === 0
    ? `The repository ${name} does not exist. Push it first: make push (or check REGISTRY and AGENTS).`
    : `Tags in ${name}: ${tags.join(", ")}. Push the missing one first (make push TAG=…) or pick one of these.`;
}

export async function reportFailure(error: unknown, options?: StepOptions) {
  if (error instanceof OciError || error instanceof CliError) {
    say.error(error.message);
    const hint = error instanceof OciError ? await advice(error, options) : error.hint;
    if (hint) say.hint(hint);
  } else {
    say.error(`unexpected failure: ${(error as Error)?.stack ?? error}`);
  }
  process.exitCode = exitCodeOf(error);
}
