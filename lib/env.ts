// Every environment variable the project reads, read here and nowhere else. Each is checked
// when first used, so a bad value is a usage error of the step that needs it.
import { UsageError } from "./errors.ts";

const value = (name: string) => process.env[name] || undefined;

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
  /** SOURCE_DATE_EPOCH pins the manifest's created time, the reproducible-builds way. */
  get sourceDateEpoch(): number | undefined {
    const text = value("SOURCE_DATE_EPOCH");
    if (text === undefined) return undefined;
    if (!/^\d+$/.test(text)) throw new UsageError(`SOURCE_DATE_EPOCH must be whole seconds, not ${JSON.stringify(text)}`);
    return Number(text);
  },
  /** PLAIN_HTTP=1: plain HTTP to a registry that is not on this machine. */
  get plainHttp() {
    return ["1", "true"].includes(value("PLAIN_HTTP") ?? "");
  },
  /** NO_COLOR (https://no-color.org). */
  get noColor() {
    return value("NO_COLOR") !== undefined;
  },
  /** PAUSE=1: presenter mode, each step waits for Enter before it runs. */
  get pause() {
    return ["1", "true"].includes(value("PAUSE") ?? "");
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
  /** The step options' environment twins (REGISTRY, AGENTS, …), by name. */
  option: (name: string) => value(name),
};
