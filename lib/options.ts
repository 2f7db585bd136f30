import { parseArgs } from "node:util";
import { UsageError } from "./errors.ts";
import { isValidRegistry, parseReference, PATH_COMPONENT_PATTERN, type Reference, TAG_PATTERN } from "./oci/reference.ts";

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

/** Every option, its environment twin (what the Makefile passes) and its default. */
const OPTIONS = {
  registry: { env: "REGISTRY", default: "localhost:5000", help: "registry host[:port]" },
  agents: { env: "AGENTS", default: "plan,build,test", help: "comma-separated agent names" },
  tag: { env: "TAG", default: "v1", help: "tag to push, pull and verify" },
  "to-tag": { env: "TO_TAG", default: "v2", help: "tag that copy writes" },
  cards: { env: "CARDS_DIR", default: "fixtures/agent_cards", help: "directory of <agent>_agent_card.json files" },
  out: { env: "OUT_DIR", default: "tmp/registry-verify", help: "directory pulled cards are written to" },
} as const;

export function helpText(script: string, summary: string, usage = ""): string {
  const lines = Object.entries(OPTIONS).map(
    ([name, option]) => `  --${(name + " VALUE").padEnd(16)} ${option.help} (env ${option.env}, default ${option.default})`,
  );
  return [
    `${summary}`,
    "",
    `Usage: node --import tsx scripts/${script}.ts ${usage}[options]`,
    `       deno run -A scripts/${script}.ts ${usage}[options]`,
    "",
    "Options:",
    ...lines,
    "  --plain-http       use http:// for a non-loopback registry (env PLAIN_HTTP=1; loopback always uses it)",
    "  --json             print the result as JSON on stdout (people's output goes to stderr)",
    "  --help             show this help",
    "",
    "Environment: ORAS_BACKEND=auto|oras|builtin (default auto: the oras CLI when on PATH, else the built-in client),",
    "NO_COLOR=1 for plain output, REGISTRY_TIMEOUT=seconds per request (default 10).",
  ].join("\n");
}

function checked(value: string, pattern: RegExp, what: string, rule: string, hint: string): string {
  if (!pattern.test(value)) throw new UsageError(`invalid ${what} ${JSON.stringify(value)}: ${rule}`, hint);
  return value;
}

/**
 * Reads flags, then environment, then defaults, and validates every value against the OCI
 * grammar before anything is sent, so nothing odd ever reaches a request or a shell.
 */
export function parseOptions(
  argv: string[],
  env: Record<string, string | undefined> = process.env,
): { options: StepOptions; help: boolean; positionals: string[] } {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        ...Object.fromEntries(Object.keys(OPTIONS).map((name) => [name, { type: "string" as const }])),
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
  const pick = (name: keyof typeof OPTIONS) =>
    (values[name] as string | undefined) ?? (env[OPTIONS[name].env] || OPTIONS[name].default);

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
      plainHttp: Boolean(values["plain-http"]) || ["1", "true"].includes(env.PLAIN_HTTP ?? ""),
    },
    help: Boolean(values.help),
    positionals: parsed.positionals,
  };
}

/** Where the workshop keeps its cards: `REGISTRY/agents/<agent>:<tag>`. */
export const agentReference = (options: StepOptions, agent: string, tag = options.tag): Reference =>
  parseReference(`${options.registry}/agents/${agent}:${tag}`);
