// What every oras command shares: its flags (parsed as oras's flag library does), its help, the
// registries it talks to, and how it prints.
import { UsageError } from "../errors.ts";
import { env } from "../env.ts";
import type { OnStatus, TransferStatus } from "../oci/artifacts.ts";
import { OciError } from "../oci/errors.ts";
import { type Descriptor, goEscape, layerTitle } from "../oci/manifest.ts";
import type { ClientSettings, Clients } from "../oci/client.ts";
import { carriesPassword, hostOf, parseReference, type Reference } from "../oci/reference.ts";
import type { Registry } from "../oci/registry.ts";

/** Where a command reads its files and writes its output. */
export interface OrasIO {
  cwd: string;
  /** Receives output text exactly as oras writes it to stdout. */
  out(text: string): void;
  /** Receives what oras writes to stderr besides errors (warnings); dropped when absent. */
  err?(text: string): void;
  /** Standard input, read whole: what --password-stdin reads. */
  stdin?(): Promise<string>;
  /** The run's registry clients, shared with whatever else the process does. */
  clients: Clients;
  /**
   * Files the caller has read and checked already, by absolute path: push and attach send these
   * bytes instead of reading the file again, so what was checked is what is sent.
   */
  files?: ReadonlyMap<string, Uint8Array>;
}

export interface Flag {
  type: "boolean" | "string";
  short?: string;
  /** A string flag that may be given more than once, collecting every value. */
  multiple?: boolean;
  /** The value's name in help, as oras shows it: `--output path`. */
  value?: string;
  help: string;
}
export type FlagSpec = Record<string, Flag>;
export type FlagValues = Record<string, string | boolean | string[] | undefined>;

/** One oras command: its usage line, help and flags, as `oras <command> --help` shows them. */
export interface Command {
  /** `push [flags] <name>[:<tag>…] <file>[:<type>] [...]`: the command's name, then its arguments. */
  use: string;
  summary: string;
  /** Pairs of what an example does and its command line. */
  examples: [string, string][];
  flags: FlagSpec;
  /** The --format types it prints, the default first: the flag is checked before `run` sees it. */
  formats?: readonly string[];
  /** Flags that cannot be given together, as oras refuses them. */
  exclusive?: [string, string][];
  /** Positionals: how many at least, and at most (Infinity for any number). */
  args: [number, number];
  /** What the arguments are, for the error when their number is wrong. */
  argsHelp: string;
  run(flags: FlagValues, args: string[], io: OrasIO): Promise<OrasResult | void>;
}

/** What a command did, for a caller in this process: the printed text is one rendering of it. */
export interface OrasResult {
  /** The manifest that push, pull, cp, tag, attach and resolve name, and that manifest fetch read. */
  digest?: string;
  /** What repo ls and repo tags list, in their order. */
  names?: string[];
  /** The files pull wrote, as absolute paths. */
  files?: string[];
  /** The manifest manifest fetch read, as stored. */
  content?: Uint8Array;
}

/**
 * The flags of oras's remote options that this client takes, for one side ("" or "from-"/"to-").
 * As in oras, only the unprefixed side reads a password from stdin, and has -u.
 */
export const remoteFlags = (prefix = "", side = ""): FlagSpec => ({
  [`${prefix}plain-http`]: { type: "boolean", help: `allow insecure connections to ${side}registry without SSL check` },
  [`${prefix}ca-file`]: { type: "string", help: `server certificate authority file for the remote ${side}registry` },
  [`${prefix}insecure`]: { type: "boolean", help: `allow connections to ${side}SSL registry without certs` },
  [`${prefix}username`]: { type: "string", ...(!prefix && { short: "u" }), help: `${side}registry username` },
  ...(!prefix && { "password-stdin": { type: "boolean", help: "read password from stdin" } as Flag }),
});

export const formatFlag = (types: readonly string[]): Flag => ({ type: "string", value: "string", help: `format output: ${types.join(", ")} (default "${types[0]}")` });

/** A command's flags as its help lists them and its argv is read: --format from its formats. */
export const flagsOf = (command: Command): FlagSpec => ({ ...command.flags, ...(command.formats && { format: formatFlag(command.formats) }) });

export const NO_TTY_FLAG: FlagSpec = {
  "no-tty": { type: "boolean", help: "[Preview] do not show progress output (this client never does)" },
};

/**
 * oras 1.3 flags this client does not implement: refused by name, never ignored. Each side's
 * prefixed twin (`--from-insecure`) is refused too. Short forms map to their long names.
 */
const UNSUPPORTED = [
  "cert-file", "key-file", "password", "identity-token",
  "identity-token-stdin", "registry-config", "header", "resolve", "oci-layout", "oci-layout-path", "debug", "verbose",
  "platform", "artifact-platform", "concurrency", "template", "config", "export-manifest", "annotation-file",
  "include-subject", "keep-old-files", "allow-path-traversal", "distribution-spec", "recursive", "image-spec",
  "media-type", "force",
];
const UNSUPPORTED_SHORT: Record<string, string> = { p: "password", H: "header", d: "debug", v: "verbose", r: "recursive", f: "force" };

function unknownFlag(command: string, name: string, shown: string): UsageError {
  if (UNSUPPORTED.some((known) => name === known || name === `from-${known}` || name === `to-${known}`)) {
    return new UsageError(
      `${shown} is an oras flag this client does not support`,
      `Drop it, or use the oras CLI (1.2 or later) for it. Run "oras ${command} -h" for the flags this client takes.`,
    );
  }
  return new UsageError(`unknown flag: ${shown}`);
}

/** strconv.ParseBool's spellings, which oras's `--flag=value` takes for a boolean. */
function parseBool(text: string, shown: string): boolean {
  if (["1", "t", "T", "TRUE", "true", "True"].includes(text)) return true;
  if (["0", "f", "F", "FALSE", "false", "False"].includes(text)) return false;
  throw new UsageError(`invalid argument ${JSON.stringify(text)} for "${shown}" flag: strconv.ParseBool: parsing ${JSON.stringify(text)}: invalid syntax`);
}

/**
 * Reads argv the way oras's flag library (pflag) does: flags anywhere among the arguments,
 * `--name value`, `--name=value`, `-o value`, `-ovalue`, boolean shorts grouped (`-lh`), and
 * `--` ending the flags.
 */
export function parseFlags(command: string, argv: string[], spec: FlagSpec): { flags: FlagValues; args: string[] } {
  const flags: FlagValues = {};
  const args: string[] = [];
  const byShort = new Map(Object.entries(spec).flatMap(([name, flag]) => (flag.short ? [[flag.short, name]] : [])));
  const set = (name: string, value: string | boolean) => {
    const flag = spec[name];
    if (flag.multiple) flags[name] = [...((flags[name] as string[] | undefined) ?? []), value as string];
    else flags[name] = value;
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "--") {
      args.push(...argv.slice(i + 1));
      break;
    }
    if (arg.startsWith("--")) {
      const [name, inline] = arg.includes("=") ? [arg.slice(2, arg.indexOf("=")), arg.slice(arg.indexOf("=") + 1)] : [arg.slice(2), undefined];
      const flag = spec[name];
      if (!flag) throw unknownFlag(command, name, `--${name}`);
      if (flag.type === "boolean") set(name, inline === undefined ? true : parseBool(inline, `--${name}`));
      else if (inline !== undefined) set(name, inline);
      else if (i + 1 < argv.length) set(name, argv[++i]);
      else throw new UsageError(`flag needs an argument: --${name}`);
    } else if (arg.startsWith("-") && arg.length > 1) {
      for (let j = 1; j < arg.length; j++) {
        const short = arg[j];
        const name = byShort.get(short);
        if (!name) {
          const long = UNSUPPORTED_SHORT[short];
          throw long ? unknownFlag(command, long, `-${short} (--${long})`) : new UsageError(`unknown shorthand flag: '${short}' in ${arg}`);
        }
        if (spec[name].type === "boolean") {
          set(name, true);
          continue;
        }
        const rest = arg.slice(j + 1);
        if (rest) set(name, rest.startsWith("=") ? rest.slice(1) : rest);
        else if (i + 1 < argv.length) set(name, argv[++i]);
        else throw new UsageError(`flag needs an argument: '${short}' in ${arg}`);
        break;
      }
    } else {
      args.push(arg);
    }
  }
  return { flags, args };
}

/** `repo ls`, `push`: the words before the flags in the usage line. */
const commandName = (command: Command) => command.use.split(" [")[0];

/** `oras <command> --help`: what it does, examples, usage and flags, laid out as cobra does. */
export function helpText(command: Command): string {
  const examples = command.examples.map(([what, line]) => `Example - ${what}:\n  ${line}\n`).join("\n");
  const name = commandName(command);
  const rows = Object.entries({ ...flagsOf(command), help: { type: "boolean", short: "h", help: `help for ${name.split(" ").at(-1)}` } as Flag })
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([name, flag]) => {
      const value = flag.type === "string" ? ` ${flag.value ?? (flag.multiple ? "stringArray" : "string")}` : "";
      return [`  ${flag.short ? `-${flag.short}, ` : "    "}--${name}${value}`, flag.help];
    });
  const width = Math.max(...rows.map(([left]) => left.length));
  return [
    `${command.summary}\n`,
    examples,
    "Usage:",
    `  oras ${command.use}\n`,
    "Flags:",
    ...rows.map(([left, text]) => `${left.padEnd(width)}   ${text}`),
    "",
  ].join("\n");
}

/** Parses argv for `command` and runs it, or prints its help for -h/--help. */
export async function runCommand(command: Command, argv: string[], io: OrasIO): Promise<OrasResult> {
  const name = commandName(command);
  const { flags, args } = parseFlags(name, argv, { ...flagsOf(command), help: { type: "boolean", short: "h", help: "" } });
  if (flags.help) {
    io.out(helpText(command));
    return {};
  }
  for (const pair of command.exclusive ?? []) {
    if (pair.every((flag) => flags[flag] !== undefined)) throw new UsageError(`--${pair.join(", --")} cannot be used at the same time`);
  }
  if (command.formats) flags.format = outputFormat(flags.format as string | undefined, command.formats);
  if (flags["password-stdin"]) flags.password = await readPassword(io);
  for (const arg of args) refuseUserinfo(arg);
  const [least, most] = command.args;
  if (args.length < least || args.length > most) throw argumentCountError(command, least, most, args.length);
  return (await command.run(flags, args, io)) ?? {};
}

/** oras's refusal of too few or too many arguments: `"oras tag" requires at least 2 arguments but got 1`. */
export function argumentCountError(command: Command, least: number, most: number, got: number): UsageError {
  const wanted = least === most ? `exactly ${least}` : most === Infinity ? `at least ${least}` : `${least} to ${most}`;
  const plural = least === 1 && most === 1 ? "argument" : "arguments";
  return usageError(
    command,
    `"oras ${commandName(command)}" requires ${wanted} ${plural} but got ${got}`,
    `Please specify ${wanted} ${plural} as ${command.argsHelp}. Run "oras ${commandName(command)} -h" for more options and examples`,
  );
}

/** A refusal oras prints with the command's usage line between the message and what to do. */
export const usageError = (command: Command, message: string, hint: string) => new UsageError(message, `Usage: oras ${command.use}\n${hint}`);

/** As oras reads --password-stdin: all of stdin, less one trailing line break. */
async function readPassword(io: OrasIO): Promise<string> {
  if (!io.stdin) throw new UsageError("--password-stdin, but there is no standard input to read");
  const password = (await io.stdin()).replace(/\r?\n$/, "");
  if (password === "") throw new UsageError("password required: standard input was empty");
  return password;
}

/**
 * oras's own plain-HTTP rule, which the built-in follows so that one command line behaves the
 * same with either: as the flag says; unsaid, plain HTTP to `localhost` only, not to 127.0.0.1 or ::1.
 */
export const orasPlainHttp = (host: string, flag?: boolean): boolean => flag ?? hostOf(host) === "localhost";

/**
 * The client settings of one side of a command. Credentials: --username with the password
 * --password-stdin read, else REGISTRY_USERNAME and REGISTRY_PASSWORD, else none given.
 */
export function remoteOptionsOf(host: string, flags: FlagValues, prefix = ""): ClientSettings {
  const username = flags[`${prefix}username`] as string | undefined;
  const password = prefix ? undefined : flags.password as string | undefined;
  if ((username === undefined) !== (password === undefined)) {
    throw new UsageError(
      username === undefined ? "--password-stdin needs --username" : `--${prefix}username needs ${prefix ? "a password, which only oras login reads" : "--password-stdin"}`,
      "Or log in once with `oras login -u USER --password-stdin HOST`: later commands find the credentials there.",
    );
  }
  return {
    plainHttp: orasPlainHttp(host, flags[`${prefix}plain-http`] as boolean | undefined),
    caFile: flags[`${prefix}ca-file`] as string | undefined,
    insecure: Boolean(flags[`${prefix}insecure`]),
    credential: username !== undefined ? { username, password, source: "--username and --password-stdin" } : env.registryCredential,
  };
}

/** The registry of `host` as one side's flags say to reach it, from the run's clients. */
export function registryOf(host: string, flags: FlagValues, io: OrasIO, prefix = ""): Registry {
  const settings = remoteOptionsOf(host, flags, prefix);
  return io.clients.for(host, settings, () => {
    if (settings.insecure) io.err?.(insecureWarning(host, prefix) + "\n");
  });
}

/** Said once per registry reached without checking its certificate. */
export function insecureWarning(host: string, prefix = ""): string {
  return `--${prefix}insecure: the TLS certificate of ${host} is not verified; anyone on the network path can read and change this traffic`;
}

export interface Target extends Reference {
  /** The reference as typed, which oras repeats in its output. */
  raw: string;
  /** `registry/repository`, oras's "path" of a remote target. */
  path: string;
  /** The tag or digest, if any. */
  reference?: string;
}

export function parseTarget(raw: string): Target {
  const ref = parseReference(raw);
  return { ...ref, raw, path: `${ref.registry}/${ref.repository}`, reference: ref.digest ?? ref.tag };
}

/** A target that must name a tag or digest, as pull, fetch, resolve, tag, attach and discover need. */
export function requireReference(command: Command, target: Target): string {
  if (!target.reference) {
    throw usageError(
      command,
      `"${target.raw}": no tag or digest specified`,
      `Please specify a reference in the form of "<name>:<tag>" or "<name>@<digest>". Run "oras ${commandName(command)} -h" for more options and examples`,
    );
  }
  return target.reference;
}

export const repositoryOf = (target: Target, flags: FlagValues, io: OrasIO, prefix = "") =>
  registryOf(target.registry, flags, io, prefix).repository(target.repository);

/**
 * A registry written `user:password@host` (or `https://user:password@host`) would put a secret
 * in shell history and in every message that names it: refused without repeating it.
 */
function refuseUserinfo(text: string) {
  if (carriesPassword(text)) {
    throw new UsageError(
      "a registry written user:password@host was refused (not shown here, not used)",
      "Give the registry as host[:port] and log in with `oras login -u USER --password-stdin HOST`.",
    );
  }
}

export const REGISTRY_PREFIX = "Error response from registry:";

/** A registry's refusal with oras's words for what was being done: `…registry: failed to resolve digest: …`. */
export async function doing<T>(what: string, work: Promise<T>): Promise<T> {
  try {
    return await work;
  } catch (error) {
    if (!(error instanceof OciError && error.message.startsWith(REGISTRY_PREFIX))) throw error;
    throw new OciError(error.kind, error.message.replace(REGISTRY_PREFIX, `${REGISTRY_PREFIX} ${what}:`), error.details);
  }
}

/** oras's 12-hex-digit short digest. */
const shortDigest = (digest: string) => digest.replace(/^sha256:/, "").slice(0, 12);

/**
 * Prints transfer status the way oras 1.3 does without a terminal: `<prompt> <short digest>
 * <title>`, and for nodes without a title (config, manifests) their media type, since oras's
 * deprecated --verbose is on by default.
 */
export function statusLine(io: OrasIO, prompt: string, descriptor: Descriptor) {
  io.out(`${prompt} ${shortDigest(descriptor.digest)} ${layerTitle(descriptor) ?? descriptor.mediaType}\n`);
}

export function statusLines(io: OrasIO, prompts: Partial<Record<TransferStatus, string>>): OnStatus {
  return (status, descriptor) => {
    const prompt = prompts[status];
    if (prompt) statusLine(io, prompt, descriptor);
  };
}

/** `--format`, checked against the types the command offers (the first is the default). */
export function outputFormat(format: string | undefined, types: readonly string[]): string {
  const chosen = format ?? types[0];
  if (chosen === "go-template" || chosen.startsWith("go-template=") || chosen === "table") {
    throw new UsageError(`--format ${chosen} is an oras format this client does not support`, `Use one of: ${types.join(", ")}.`);
  }
  if (!types.includes(chosen)) throw new UsageError(`invalid format type: ${JSON.stringify(chosen)}`, `supported types: ${types.join(", ")}`);
  return chosen;
}

/** Sorts object keys at every level, as Go does when it encodes a map. */
export function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (typeof value !== "object" || value === null) return value;
  return Object.fromEntries(Object.keys(value).sort().map((key) => [key, sortKeys((value as Record<string, unknown>)[key])]));
}

/** Prints JSON as oras's --format json does: Go's encoder, two-space indent, a final newline. */
export const printJson = (io: Pick<OrasIO, "out">, value: unknown) => io.out(goEscape(JSON.stringify(value, null, 2)) + "\n");

/**
 * A descriptor as oras's JSON output models it: the digest reference first, then the
 * descriptor's own fields (without urls, data and platform); empty annotations are left out.
 */
export function describe(path: string, descriptor: Descriptor) {
  const annotations = descriptor.annotations && Object.keys(descriptor.annotations).length > 0 ? sortKeys(descriptor.annotations) : undefined;
  return {
    reference: `${path}@${descriptor.digest}`,
    mediaType: descriptor.mediaType,
    digest: descriptor.digest,
    size: descriptor.size,
    ...(annotations !== undefined && { annotations }),
    ...(descriptor.artifactType && { artifactType: descriptor.artifactType }),
  };
}
