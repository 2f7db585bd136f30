import { parseArgs } from "node:util";
import { env } from "./env.ts";
import { UsageError } from "./errors.ts";
import { isLoopbackHost, isValidRegistry, PATH_COMPONENT_PATTERN, TAG_PATTERN } from "./oci/reference.ts";

export interface StepOptions {
  registry: string;
  agents: string[];
  tag: string;
  toTag: string;
  cardsDir: string;
  outDir: string;
  json: boolean;
  plainHttp: boolean;
}

/** Every valued option, its environment twin (what the Makefile passes) and its default. */
export const OPTIONS = {
  registry: { env: "REGISTRY", default: "localhost:5000", help: "registry host[:port]" },
  agents: { env: "AGENTS", default: "plan,build,test", help: "comma-separated agent names" },
  tag: { env: "TAG", default: "v1", help: "tag to push, pull and verify" },
  "to-tag": { env: "TO_TAG", default: "v2", help: "tag that copy writes" },
  cards: { env: "CARDS_DIR", default: "fixtures/agent_cards", help: "directory of <agent>_agent_card.json files" },
  out: { env: "OUT_DIR", default: "tmp/registry-verify", help: "directory pulled cards are written to" },
} as const;

export type OptionName = keyof typeof OPTIONS;

export function optionsHelp(names: readonly OptionName[]): string[] {
  return [
    ...names.map((name) => {
      const option = OPTIONS[name];
      return `  --${(name + " VALUE").padEnd(16)} ${option.help} (env ${option.env}, default ${option.default})`;
    }),
    "  --plain-http       plain HTTP to a registry on another machine (env PLAIN_HTTP=1; loopback always uses it)",
    "  --json             print the result as JSON on stdout (people's output goes to stderr)",
    "  --help             show this help",
  ];
}

function checked(value: string, pattern: RegExp, what: string, rule: string, hint: string): string {
  if (!pattern.test(value)) throw new UsageError(`invalid ${what} ${JSON.stringify(value)}: ${rule}`, hint);
  return value;
}

/**
 * Reads a step's flags, then environment, then defaults, and validates every value against the
 * OCI grammar before anything is sent, so nothing odd ever reaches a request or a shell. Only
 * the options the step declares are taken; any other flag is refused.
 */
export function parseOptions(argv: string[], names: readonly OptionName[]): { options: StepOptions; help: boolean; positionals: string[] } {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        ...Object.fromEntries(names.map((name) => [name, { type: "string" as const }])),
        json: { type: "boolean" },
        "plain-http": { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
    });
  } catch (error) {
    // Node's own wording goes on about `--` and positionals, which never apply here.
    const unknown = (error as Error).message.match(/^Unknown option '([^']+)'/)?.[1];
    throw new UsageError(unknown ? `unknown option ${unknown}` : (error as Error).message, "Run with --help to see the options.");
  }
  const values = parsed.values as Record<string, string | boolean | undefined>;
  const pick = (name: OptionName) =>
    (names.includes(name) ? (values[name] as string | undefined) : undefined) ?? (env.option(OPTIONS[name].env) ?? OPTIONS[name].default);

  const registry = pick("registry");
  if (!isValidRegistry(registry)) {
    throw new UsageError(
      `invalid registry ${JSON.stringify(registry)}: expected host[:port], e.g. localhost:5000`,
      "Set --registry (env REGISTRY) to the registry's address only, without http:// or a path.",
    );
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
  return {
    options: {
      registry,
      agents,
      tag: tag("tag"),
      toTag: tag("to-tag"),
      cardsDir: pick("cards"),
      outDir: pick("out"),
      json: Boolean(values.json),
      plainHttp: Boolean(values["plain-http"]) || env.plainHttp,
    },
    help: Boolean(values.help),
    positionals: parsed.positionals,
  };
}

/**
 * The transport flags an oras command needs for this registry: oras speaks plain HTTP unasked
 * only to `localhost`, so every other loopback address, and PLAIN_HTTP, need `--plain-http`.
 */
export function remoteFlags(options: StepOptions, prefix = ""): string[] {
  const host = options.registry.replace(/:\d+$/, "");
  const plain = host !== "localhost" && (options.plainHttp || isLoopbackHost(options.registry));
  return plain ? [`--${prefix}plain-http`] : [];
}

/** Where the workshop keeps its cards: `REGISTRY/agents/<agent>:<tag>`. */
export const agentReference = (options: StepOptions, agent: string, tag = options.tag) => `${options.registry}/agents/${agent}:${tag}`;

/** The repository part, `REGISTRY/agents/<agent>`, as `oras repo tags` takes it. */
export const agentRepository = (options: StepOptions, agent: string) => `${options.registry}/agents/${agent}`;

/** The artifact type every agent card is pushed with (REFERENCE §6: the AI Card working group's mapping). */
export const CARD_TYPE = "application/a2a-agent-card+json";
