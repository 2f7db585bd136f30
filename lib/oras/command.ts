// What every oras command shares: its flags, the registries it talks to, how it prints.
import { parseArgs } from "node:util";
import { UsageError } from "../errors.ts";
import { env } from "../env.ts";
import type { OnStatus, TransferStatus } from "../oci/artifacts.ts";
import type { Descriptor } from "../oci/manifest.ts";
import { layerTitle } from "../oci/manifest.ts";
import { parseReference, type Reference } from "../oci/reference.ts";
import { Registry } from "../oci/registry.ts";

/** Where a command reads its files and writes its output. */
export interface OrasIO {
  cwd: string;
  /** Receives output text exactly as oras writes it to stdout. */
  out(text: string): void;
}

type FlagType = { type: "boolean" | "string"; short?: string; multiple?: boolean };
export type FlagSpec = Record<string, FlagType>;

/** Flags of oras's remote options that this client takes, for one side ("" or "from-"/"to-"). */
export const remoteFlags = (prefix = ""): FlagSpec => ({
  [`${prefix}plain-http`]: { type: "boolean" },
});

/** oras flags that exist but that the built-in client does not implement: refused by name, never ignored. */
const KNOWN_UNSUPPORTED = [
  "insecure", "ca-file", "cert-file", "key-file", "username", "password", "password-stdin", "identity-token",
  "registry-config", "header", "resolve", "oci-layout", "oci-layout-path", "debug", "verbose", "no-tty",
  "platform", "concurrency", "template", "output", "config", "export-manifest", "annotation-file",
  "include-subject", "keep-old-files", "allow-path-traversal", "distribution-spec", "recursive",
];

/**
 * Parses argv like oras's flag library: flags anywhere, `--name value` or `--name=value`. A flag
 * oras has but this client lacks is named as such, and an unknown one as unknown.
 */
export function parseFlags(command: string, argv: string[], spec: FlagSpec) {
  try {
    const { values, positionals } = parseArgs({ args: argv, options: spec, allowPositionals: true, strict: true });
    return { values: values as Record<string, string | boolean | string[] | undefined>, positionals };
  } catch (error) {
    const flag = (error as Error).message.match(/Unknown option '(-{1,2})([^']+)'/);
    if (flag && KNOWN_UNSUPPORTED.some((name) => flag[2] === name || flag[2].endsWith(`-${name}`))) {
      throw new UsageError(
        `oras ${command}: ${flag[1]}${flag[2]} is not supported by the built-in client`,
        "Drop the flag, or install the oras CLI (1.2 or later) to use it.",
      );
    }
    if (flag) throw new UsageError(`oras ${command}: unknown flag: ${flag[1]}${flag[2]}`, `Run \`oras ${command} --help\` for its flags.`);
    throw new UsageError(`oras ${command}: ${(error as Error).message}`);
  }
}

/** The positionals a command takes, exactly. */
export function expectArgs(command: string, positionals: string[], names: string[]): string[] {
  if (positionals.length !== names.length) {
    throw new UsageError(
      `oras ${command}: expected ${names.length} argument${names.length === 1 ? "" : "s"} (${names.join(" ")}), got ${positionals.length}`,
      `Usage: oras ${command} ${names.join(" ")}`,
    );
  }
  return positionals;
}

const registries = new Map<string, Registry>();

/**
 * One Registry per host and transport for the whole process, so that the commands of one step
 * share connections and what they learnt about blobs. Plain HTTP as oras decides: asked for,
 * or the host is `localhost`.
 */
export function registryFor(host: string, plainHttp: boolean): Registry {
  const plain = plainHttp || host.replace(/:\d+$/, "") === "localhost";
  const key = `${plain ? "http" : "https"}://${host}`;
  let registry = registries.get(key);
  if (!registry) {
    registry = new Registry(host, { plainHttp: plain, timeoutMs: env.registryTimeoutMs });
    registries.set(key, registry);
  }
  return registry;
}

/** A reference with a tag or digest, as push, pull, fetch, resolve and cp need. */
export function targetReference(text: string): Reference & { reference: string } {
  const ref = parseReference(text);
  const reference = ref.digest ?? ref.tag;
  if (!reference) {
    throw new UsageError(`${text}: no tag or digest specified`, "Add one, e.g. :v1 (there is no implicit latest).");
  }
  return { ...ref, reference };
}

/** oras's 12-hex-digit short digest. */
export const shortDigest = (digest: string) => digest.replace(/^sha256:/, "").slice(0, 12);

/**
 * Prints status lines the way oras does without a terminal: one line per titled blob, padded
 * prompts from `prompts`; config and manifests (no title) only in verbose mode, which we lack.
 */
export function statusLines(io: OrasIO, prompts: Partial<Record<TransferStatus, string>>): OnStatus {
  return (status: TransferStatus, descriptor: Descriptor) => {
    const title = layerTitle(descriptor);
    const prompt = prompts[status];
    if (title !== undefined && prompt) io.out(`${prompt} ${shortDigest(descriptor.digest)} ${title}\n`);
  };
}

/** `--format text|json`, as oras 1.2+ takes it. */
export function outputFormat(command: string, value: unknown): "text" | "json" {
  const format = (value as string | undefined) ?? "text";
  if (format !== "text" && format !== "json") {
    throw new UsageError(`oras ${command}: --format ${format} is not supported by the built-in client`, "Use --format text or --format json.");
  }
  return format;
}

export const printJson = (io: OrasIO, value: unknown) => io.out(JSON.stringify(value, null, 2) + "\n");
