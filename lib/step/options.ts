import path from "node:path";
import { parseArgs } from "node:util";
import { env, remoteVariable, type Side } from "../env.ts";
import { UsageError } from "../errors.ts";
import type { ClientSettings } from "../oci/client.ts";
import { CREATED_ANNOTATION, createdTimestamp } from "../oci/manifest.ts";
import { isValidRegistry, PATH_COMPONENT_PATTERN, TAG_PATTERN, usesPlainHttp } from "../oci/reference.ts";
import { orasPlainHttp } from "../oras/command.ts";
import { type Policy, POLICIES } from "../trust/signatures.ts";

export interface StepOptions {
  registry: string;
  agents: string[];
  tag: string;
  toTag: string;
  cardsDir: string;
  outDir: string;
  json: boolean;
  /** VERIFY: which signed cards the step accepts, checked against the keys of TRUST_STORE (docs/trust.md). */
  verify: Policy;
  trustStore: string;
  /** How to reach REGISTRY, exactly as the oras commands of the step are told (remoteFlags). */
  remote: ClientSettings & { plainHttp: boolean };
  /** Who logs in (make login). */
  username?: string;
  /** A mirror's source and target, with their own transports and credentials. */
  from?: string;
  to?: string;
  fromRemote?: ClientSettings;
  toRemote?: ClientSettings;
}

/** Every valued option, its environment twin (what the Makefile passes) and its default. */
const OPTIONS = {
  registry: { env: "REGISTRY", default: "localhost:5000", help: "registry host[:port]" },
  agents: { env: "AGENTS", default: "plan,build,test", help: "comma-separated agent names" },
  tag: { env: "TAG", default: "v1", help: "tag to push, pull and verify" },
  "to-tag": { env: "TO_TAG", default: "v2", help: "tag that copy writes" },
  cards: { env: "CARDS_DIR", default: "fixtures/agent_cards", help: "directory of <agent>_agent_card.json files" },
  out: { env: "OUT_DIR", default: "tmp/registry-verify", help: "directory pulled cards are written to" },
  username: { env: "REGISTRY_USERNAME", default: "", help: "the user name to log in as" },
  from: { env: "FROM", default: "", help: "the registry a mirror copies from, host[:port]" },
  to: { env: "TO", default: "", help: "the registry a mirror copies to, host[:port]" },
  verify: { env: "VERIFY", default: "if-present", help: "off, if-present (refuse a card a signature proves changed) or require (only cards signed by a trusted key)" },
  trust: { env: "TRUST_STORE", default: "keys/trust.json", help: "the trust store: the public keys trusted, each for a scope" },
} as const;

export type OptionName = keyof typeof OPTIONS;

/** A step's own defaults, where they differ from every step's (make run's VERIFY=require). */
export type OptionDefaults = Partial<Record<OptionName, string>>;

/** The registry every step talks to unless told otherwise. */
export const DEFAULT_REGISTRY = OPTIONS.registry.default;

/** A flag that only one command takes, beyond the shared options; `env` names its environment twin. */
export interface CommandFlag {
  type: "string" | "boolean";
  help: string;
  env?: string;
}
export type CommandFlags = Record<string, CommandFlag>;
export type CommandFlagValues = Record<string, string | boolean | undefined>;

/** The default of option `name` for a step with `defaults`. */
const defaultOf = (name: OptionName, defaults: OptionDefaults): string => defaults[name] ?? OPTIONS[name].default;

export function optionsHelp(names: readonly OptionName[], flags: CommandFlags = {}, defaults: OptionDefaults = {}): string[] {
  return [
    ...names.map((name) => {
      const option = OPTIONS[name];
      const fallback = defaultOf(name, defaults);
      return `  --${(name + " VALUE").padEnd(16)} ${option.help} (env ${option.env}, ${fallback ? `default ${fallback}` : "required"})`;
    }),
    ...Object.entries(flags).map(([name, flag]) =>
      `  --${(flag.type === "string" ? `${name} VALUE` : name).padEnd(16)} ${flag.help}${flag.env ? ` (env ${flag.env}${flag.type === "boolean" ? "=1" : ""})` : ""}`
    ),
    "  --plain-http       plain HTTP to a registry on another machine (env PLAIN_HTTP=1; loopback uses it unless TLS is asked for)",
    "  --ca-file PATH     trust this PEM CA for the registry's TLS certificate (env REGISTRY_CA_FILE)",
    "  --insecure         TLS without verifying the certificate: for test registries only (env REGISTRY_INSECURE=1)",
    "  Credentials: REGISTRY_USERNAME and REGISTRY_PASSWORD, else the Docker config (make login stores them there).",
    "  --json             print the result as JSON on stdout, people's output on stderr (env JSON=1)",
    "  --help             show this help and do nothing else (env HELP=1)",
  ];
}

/** node:util's parseArgs, strict: an unknown flag is a usage error, said in this project's words. */
export function parseFlags(argv: string[], options: Record<string, { type: "string" | "boolean"; short?: string }>) {
  try {
    const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options });
    return { values: values as Record<string, string | boolean | undefined>, positionals };
  } catch (error) {
    // Node's own wording goes on about `--` and positionals, which never apply here.
    const unknown = (error as Error).message.match(/^Unknown option '([^']+)'/)?.[1];
    throw new UsageError(unknown ? `unknown option ${unknown}` : (error as Error).message, "Run with --help to see the options.");
  }
}

function checked(value: string, pattern: RegExp, what: string, rule: string, hint: string): string {
  if (!pattern.test(value)) throw new UsageError(`invalid ${what} ${JSON.stringify(value)}: ${rule}`, hint);
  return value;
}

/**
 * Reads a step's flags, then environment, then defaults (the step's own `defaults` first), and
 * validates every value against the OCI grammar before anything is sent, so nothing odd ever
 * reaches a request or a shell. Only the options the step declares are taken; any other flag is refused.
 */
export function parseOptions(
  argv: string[],
  names: readonly OptionName[],
  commandFlags: CommandFlags = {},
  defaults: OptionDefaults = {},
): { help: true } | { help: false; options: StepOptions; flags: CommandFlagValues; positionals: string[] } {
  const parsed = parseFlags(argv, {
    ...Object.fromEntries(names.map((name) => [name, { type: "string" as const }])),
    ...Object.fromEntries(Object.entries(commandFlags).map(([name, flag]) => [name, { type: flag.type }])),
    json: { type: "boolean" },
    "plain-http": { type: "boolean" },
    "ca-file": { type: "string" },
    insecure: { type: "boolean" },
    help: { type: "boolean", short: "h" },
  });
  const { values } = parsed;
  // Help is asked before anything is checked: it never depends on the other settings.
  if (values.help || env.boolean("HELP")) return { help: true };
  const pick = (name: OptionName) =>
    (names.includes(name) ? (values[name] as string | undefined) : undefined) ?? (env.option(OPTIONS[name].env) ?? defaultOf(name, defaults));

  const registry = registryOption(pick("registry"), "--registry (env REGISTRY)");
  const verify = pick("verify") as Policy;
  if (!POLICIES.includes(verify)) {
    throw new UsageError(`invalid VERIFY ${JSON.stringify(verify)}: it is off, if-present or require`, `Set --verify (env VERIFY) to one of them; ${defaultOf("verify", defaults)} is the default here.`);
  }
  const agents = pick("agents").split(",").map((agent) => agent.trim());
  for (const agent of agents) {
    checked(
      agent,
      PATH_COMPONENT_PATTERN,
      "agent name",
      "use lowercase letters and digits, separated by '.', '_' or '-'",
      "Set --agents (env AGENTS) to comma-separated names, e.g. plan,build,test.",
    );
  }
  if (new Set(agents).size !== agents.length) throw new UsageError(`agent names repeat in ${JSON.stringify(pick("agents"))}`);
  const tag = (name: "tag" | "to-tag") =>
    checked(
      pick(name),
      TAG_PATTERN,
      "tag",
      "tags match [A-Za-z0-9_][A-Za-z0-9._-]{0,127}",
      `Set --${name} (env ${OPTIONS[name].env}) to a tag such as ${OPTIONS[name].default}.`,
    );
  // Logging in takes the user name as an option and the password by itself: no credential to use here.
  const logsIn = names.includes("username");
  const remote = remoteSettings(registry, "", {
    plainHttp: Boolean(values["plain-http"]) || undefined,
    caFile: values["ca-file"] as string | undefined,
    insecure: Boolean(values.insecure) || undefined,
  }, !logsIn);
  return {
    options: {
      registry,
      agents,
      tag: tag("tag"),
      toTag: tag("to-tag"),
      cardsDir: pick("cards"),
      outDir: pick("out"),
      json: Boolean(values.json ?? env.boolean("JSON")),
      verify,
      trustStore: pick("trust"),
      remote,
      ...(logsIn && { username: pick("username") || undefined }),
      ...(names.includes("from") && mirrorSides(pick("from"), pick("to"))),
    },
    flags: Object.fromEntries(Object.entries(commandFlags).map(([name, { type, env: twin }]) => {
      const fromEnv = twin === undefined ? undefined : type === "boolean" ? env.boolean(twin) : env.option(twin);
      return [name, values[name] ?? fromEnv];
    })),
    help: false,
    positionals: parsed.positionals,
  };
}

/**
 * A registry value, checked. One written user:password@host is refused without repeating it:
 * the message would carry the password into terminals and logs.
 */
function registryOption(registry: string, where: string): string {
  if (registry.includes("@")) {
    throw new UsageError(
      `the registry given with ${where} holds credentials (user:password@host); refused, and not shown here`,
      "Give only host[:port]; put the credentials in REGISTRY_USERNAME and REGISTRY_PASSWORD, or store them with `make login`.",
    );
  }
  if (!isValidRegistry(registry)) {
    throw new UsageError(
      `invalid registry ${JSON.stringify(registry)}: expected host[:port], e.g. localhost:5000`,
      `Set ${where} to the registry's address only, without http:// or a path.`,
    );
  }
  return registry;
}

/**
 * How to reach a side's registry: flags first, then that side's environment. Plain HTTP when
 * asked for; HTTPS when TLS is asked for (a CA file or --insecure); else the client's rule.
 */
function remoteSettings(
  registry: string,
  side: Side,
  flags: { plainHttp?: boolean; caFile?: string; insecure?: boolean } = {},
  withCredential = true,
): ClientSettings & { plainHttp: boolean } {
  const fromEnv = env.remote(side);
  const caFile = flags.caFile ?? fromEnv.caFile;
  const insecure = flags.insecure ?? fromEnv.insecure;
  const askedPlain = flags.plainHttp ?? fromEnv.plainHttp;
  const tls = caFile !== undefined || insecure;
  if (askedPlain && tls) {
    throw new UsageError(
      `plain HTTP (--plain-http, ${remoteVariable(side, "PLAIN_HTTP")}) and TLS settings (--ca-file, --insecure, ${remoteVariable(side, "CA_FILE")}, ${remoteVariable(side, "INSECURE")}) were both given for ${registry}`,
      "Keep the one the registry speaks: plain HTTP, or HTTPS with its CA.",
    );
  }
  const plainHttp = usesPlainHttp(registry, askedPlain ? true : tls ? false : undefined);
  return { plainHttp, caFile, insecure, credential: withCredential ? fromEnv.credential : undefined };
}

function mirrorSides(from: string, to: string) {
  if (!from || !to) {
    throw new UsageError(`a mirror needs both sides: ${!from ? "FROM" : "TO"} is not set`, "e.g. make mirror FROM=registry-a:5000 TO=registry-b:5000");
  }
  const sides = { from: registryOption(from, "--from (env FROM)"), to: registryOption(to, "--to (env TO)") };
  if (sides.from === sides.to) throw new UsageError(`FROM and TO are the same registry, ${from}`, "A mirror copies between two registries.");
  return { ...sides, fromRemote: remoteSettings(sides.from, "FROM"), toRemote: remoteSettings(sides.to, "TO") };
}

/**
 * The remote flags an oras command needs to reach this registry as `remote` says, for one side
 * ("" or "from-"/"to-"): --plain-http where oras would not speak it unasked (every loopback
 * address but localhost), --plain-http=false where it would. Never a secret.
 */
export function remoteFlags(options: StepOptions, prefix = "", remote = options.remote, registry = options.registry): string[] {
  const flags: string[] = [];
  const plainHttp = usesPlainHttp(registry, remote.plainHttp);
  if (plainHttp !== orasPlainHttp(registry)) flags.push(plainHttp ? `--${prefix}plain-http` : `--${prefix}plain-http=false`);
  if (remote.caFile !== undefined) flags.push(`--${prefix}ca-file`, remote.caFile);
  if (remote.insecure) flags.push(`--${prefix}insecure`);
  return flags;
}

/** The card file CARD (--card) names, and its agent: the file is named <agent>_agent_card.json. */
export function namedCard(flags: CommandFlagValues, verb: string, example: string): { file: string; agent: string } {
  const file = flags.card as string | undefined;
  if (!file) throw new UsageError(`no card to ${verb}`, `Name it with CARD (or --card), e.g. ${example}.`);
  const agent = path.basename(file).match(/^(.+)_agent_card\.json$/)?.[1];
  if (!agent || !PATH_COMPONENT_PATTERN.test(agent)) {
    throw new UsageError(
      `${file}: a card file is named <agent>_agent_card.json, with the agent in lowercase letters and digits`,
      "Rename it, e.g. plan_agent_card.json: the name says which agent it is, and pull writes it back under that name.",
    );
  }
  return { file, agent };
}

/** Where the workshop keeps its cards: `REGISTRY/agents/<agent>:<tag>`. */
export const agentReference = (options: StepOptions, agent: string, tag = options.tag) => `${options.registry}/agents/${agent}:${tag}`;

/** The repository part, `REGISTRY/agents/<agent>`, as `oras repo tags` takes it. */
export const agentRepository = (options: StepOptions, agent: string) => `${options.registry}/agents/${agent}`;

/** How many agents a step works on at once, as the fleet client keeps 8 cards in flight. */
export const AGENTS_AT_ONCE = 8;

/**
 * The created time push and publish stamp unless SOURCE_DATE_EPOCH says otherwise, step by step
 * as in `make walkthrough`, so that every participant gets the digests the README prints:
 * 2026-01-01T00:00:00Z.
 */
export const WORKSHOP_EPOCH = 1767225600;

/**
 * `--annotation org.opencontainers.image.created=…`, the way oras documents a reproducible push:
 * WORKSHOP_EPOCH, or SOURCE_DATE_EPOCH's time; nothing for SOURCE_DATE_EPOCH=now, so that oras
 * stamps the time of the push, as it does by itself.
 */
export function createdFlags(): string[] {
  const epoch = env.sourceDateEpoch ?? WORKSHOP_EPOCH;
  return epoch === "now" ? [] : ["--annotation", `${CREATED_ANNOTATION}=${createdTimestamp(new Date(epoch * 1000))}`];
}
