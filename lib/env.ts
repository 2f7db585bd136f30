// Every environment variable the project reads, read here and nowhere else. Each is checked
// when first used, so a bad value is a usage error of the step that needs it.
import { UsageError } from "./errors.ts";
import type { Credential } from "./oci/credentials.ts";

const value = (name: string) => process.env[name] || undefined;

const YES = ["1", "true", "yes"];
const NO = ["0", "false", "no"];

/** A yes-or-no setting: 1, true or yes; 0, false or no (any case); unset is no. Anything else is a usage error. */
function boolean(name: string): boolean {
  const text = value(name);
  if (text === undefined || NO.includes(text.toLowerCase())) return false;
  if (YES.includes(text.toLowerCase())) return true;
  throw new UsageError(
    `${name} must be yes or no (${YES.join(", ")}, or ${NO.join(", ")}), not ${JSON.stringify(text)}`,
    `e.g. ${name}=1, or leave it out for no.`,
  );
}

/** The side of a transfer whose settings are read: the one registry of a step, or a mirror's source or target. */
export type Side = "" | "FROM" | "TO";

/** The environment variable of a remote setting for a side: REGISTRY_CA_FILE, FROM_CA_FILE, TO_CA_FILE, … */
export function remoteVariable(side: Side, setting: "CA_FILE" | "INSECURE" | "PLAIN_HTTP" | "USERNAME" | "PASSWORD"): string {
  if (side) return `${side}_${setting}`;
  return setting === "PLAIN_HTTP" ? "PLAIN_HTTP" : `REGISTRY_${setting}`;
}

/** A user name and password given in the environment for a side; one without the other is a usage error. */
function credential(side: Side): Credential | undefined {
  const [userVariable, passwordVariable] = [remoteVariable(side, "USERNAME"), remoteVariable(side, "PASSWORD")];
  const [username, password] = [value(userVariable), value(passwordVariable)];
  if (username === undefined && password === undefined) return undefined;
  if (username === undefined || password === undefined) {
    throw new UsageError(
      `${username === undefined ? passwordVariable : userVariable} is set, but ${username === undefined ? userVariable : passwordVariable} is not`,
      `Set both, or neither (then the Docker config's credentials are used, e.g. after \`make login\`).`,
    );
  }
  return { username, password, source: `${userVariable} and ${passwordVariable}` };
}

function seconds(name: string, fallback: number): number {
  const text = value(name);
  if (text === undefined) return fallback;
  const parsed = Number(text);
  if (!(parsed > 0) || !Number.isFinite(parsed)) {
    throw new UsageError(`${name} must be a number of seconds above 0, not ${JSON.stringify(text)}`);
  }
  return parsed;
}

export const env = {
  /** REGISTRY_TIMEOUT: the time limit of one request, 10 s unless set. */
  get registryTimeoutMs() {
    return seconds("REGISTRY_TIMEOUT", 10) * 1000;
  },
  /** ORAS_BACKEND: auto (the oras CLI when on PATH), oras, or builtin. */
  get orasBackend(): "auto" | "oras" | "builtin" {
    const wanted = value("ORAS_BACKEND") ?? "auto";
    if (wanted !== "auto" && wanted !== "oras" && wanted !== "builtin") {
      throw new UsageError(`ORAS_BACKEND must be auto, oras or builtin, not ${JSON.stringify(wanted)}`);
    }
    return wanted;
  },
  /** SOURCE_DATE_EPOCH pins the manifest's created time, the reproducible-builds way; `now`: the time of the push. */
  get sourceDateEpoch(): number | "now" | undefined {
    const text = value("SOURCE_DATE_EPOCH");
    if (text === undefined || text === "now") return text;
    if (!/^\d+$/.test(text)) {
      throw new UsageError(
        `SOURCE_DATE_EPOCH must be whole seconds since 1970, or now, not ${JSON.stringify(text)}`,
        "e.g. SOURCE_DATE_EPOCH=1767225600 (2026-01-01T00:00:00Z, the default), or now for the time of the push.",
      );
    }
    return Number(text);
  },
  /**
   * How to reach a side's registry: PLAIN_HTTP=1, REGISTRY_CA_FILE, REGISTRY_INSECURE=1 and the
   * credentials REGISTRY_USERNAME/REGISTRY_PASSWORD; FROM_… and TO_… for a mirror's two sides.
   */
  remote: (side: Side) => ({
    plainHttp: boolean(remoteVariable(side, "PLAIN_HTTP")),
    caFile: value(remoteVariable(side, "CA_FILE")),
    insecure: boolean(remoteVariable(side, "INSECURE")),
    get credential() {
      return credential(side);
    },
  }),
  /** REGISTRY_PASSWORD alone: what `make login` stores, when it is not given on stdin. */
  get registryPassword() {
    return value("REGISTRY_PASSWORD");
  },
  /** REGISTRY_USERNAME and REGISTRY_PASSWORD, which the built-in oras commands use before the Docker config. */
  get registryCredential(): Credential | undefined {
    return credential("");
  },
  /** NO_COLOR (https://no-color.org). */
  get noColor() {
    return value("NO_COLOR") !== undefined;
  },
  /** PAUSE=1: presenter mode, each step waits for Enter before it runs. */
  get pause() {
    return boolean("PAUSE");
  },
  /** WALKTHROUGH_STARTED: epoch ms when `make walkthrough` began, for the summary's timing. */
  get walkthroughStarted(): number | undefined {
    const started = Number(value("WALKTHROUGH_STARTED"));
    return started > 0 ? started : undefined;
  },
  /** STEP_TIMES: seconds per walkthrough step as JSON, {"push": 0.21, …}, set by scripts/walkthrough.ts. */
  get stepTimes(): Record<string, number> | undefined {
    const text = value("STEP_TIMES");
    if (text === undefined) return undefined;
    try {
      return JSON.parse(text);
    } catch {
      throw new UsageError(`STEP_TIMES must be JSON such as {"push": 0.21}, not ${JSON.stringify(text)}`);
    }
  },
  /** SERVE_ADDR: where `make serve` listens, host:port (port 0: any free one). */
  get serveAddr(): string {
    return value("SERVE_ADDR") ?? "127.0.0.1:8080";
  },
  /** DISCOVERY_CACHE: the directory discovery keeps what it learnt in, or "off"; lib/discovery/cache.ts has the default. */
  get discoveryCache(): string | undefined {
    return value("DISCOVERY_CACHE");
  },
  /** AGENTS_DIR: where `make run` unpacks and keeps the agents it starts (lib/agents/runs.ts), tmp/agents unless set. */
  get agentsDir(): string {
    return value("AGENTS_DIR") ?? "tmp/agents";
  },
  /** WORKSPACE: the directory handed to agents that work on files (the test agent's projects), AGENTS_DIR/workspace unless set. */
  get workspace(): string {
    return value("WORKSPACE") ?? `${this.agentsDir}/workspace`;
  },
  /** HEALTH_TIMEOUT: how long a started agent has to serve its card, 10 s unless set. */
  get healthTimeoutMs(): number {
    return seconds("HEALTH_TIMEOUT", 10) * 1000;
  },
  /** ORAS_ARGS: the command line `make oras ARGS='…'` hands scripts/oras.ts, split there without a shell. */
  get orasArgs(): string | undefined {
    return value("ORAS_ARGS");
  },
  /** The step options' environment twins (REGISTRY, AGENTS, …), by name. */
  option: (name: string) => value(name),
  /** A yes-or-no variable (HELP, JSON, FORCE, YES, …), by name: 1/true/yes or 0/false/no. */
  boolean,
};
