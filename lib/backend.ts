import path from "node:path";
import { CliError, ContentError, EnvironmentError } from "./errors.ts";
import { findOnPath } from "./executables.ts";
import { formatReference, isLoopbackHost, type Reference } from "./oci/reference.ts";
import { collect, copyArtifact, fetchManifest, type PulledFile, pullArtifact, pushArtifact } from "./oci/artifacts.ts";
import { sha256Digest } from "./oci/digest.ts";
import { AGENT_CARD_ARTIFACT_TYPE, type ImageManifest, layerTitle, parseManifest } from "./oci/manifest.ts";
import { RegistryClient, RegistryResponseError } from "./oci/remote.ts";
import { say, shellLine } from "./output.ts";

/** One `oras` command line: printed for people to paste, and run as is by the oras backend. */
export interface OrasCommand {
  args: string[];
  cwd?: string;
}

/** A subshell keeps the `cd` from leaking into the next pasted command. */
export const renderCommand = (command: OrasCommand) =>
  command.cwd ? `(cd ${shellLine([command.cwd])} && ${shellLine(command.args)})` : shellLine(command.args);

export interface CardFile {
  dir: string;
  fileName: string;
  bytes: Uint8Array;
}

export interface Fetched {
  bytes: Uint8Array;
  digest: string;
  manifest: ImageManifest;
}

/** The operations of Phase 3, done by the real oras CLI or by the built-in client. */
export interface Backend {
  readonly name: "oras" | "builtin";
  push(ref: Reference, card: CardFile): Promise<string>;
  repoList(registry: string): Promise<string[]>;
  repoTags(repository: Reference): Promise<string[]>;
  manifestFetch(ref: Reference): Promise<Fetched>;
  resolve(ref: Reference): Promise<string>;
  pull(ref: Reference, outDir: string): Promise<{ digest: string; files: PulledFile[] }>;
  copy(from: Reference, to: Reference): Promise<string>;
}

/**
 * `SOURCE_DATE_EPOCH` pins the manifest's created annotation, the reproducible-builds way, so
 * that pushing the same card twice gives the same digest.
 */
export function pinnedAnnotations(env = process.env): Record<string, string> {
  const epoch = env.SOURCE_DATE_EPOCH;
  if (!epoch) return {};
  if (!/^\d+$/.test(epoch)) throw new CliError(`SOURCE_DATE_EPOCH must be whole seconds, not ${JSON.stringify(epoch)}`, 2);
  const created = new Date(Number(epoch) * 1000).toISOString().replace(/\.\d{3}Z$/, "Z");
  return { "org.opencontainers.image.created": created };
}

/** The commands, one place for both backends. */
export function orasCommands(plainHttp: boolean) {
  // oras speaks plain HTTP unasked only to "localhost"; every other host needs the flag.
  const flags = (registry: string) =>
    registry.replace(/:\d+$/, "") !== "localhost" && (plainHttp || isLoopbackHost(registry)) ? ["--plain-http"] : [];
  const ref = formatReference;
  return {
    push: (to: Reference, card: CardFile): OrasCommand => ({
      args: [
        "oras", "push", ...flags(to.registry), "--artifact-type", AGENT_CARD_ARTIFACT_TYPE,
        ...Object.entries(pinnedAnnotations()).flatMap(([key, value]) => ["--annotation", `${key}=${value}`]),
        ref(to), `${card.fileName}:application/json`,
      ],
      cwd: card.dir,
    }),
    repoList: (registry: string): OrasCommand => ({ args: ["oras", "repo", "ls", ...flags(registry), registry] }),
    repoTags: (repo: Reference): OrasCommand => ({ args: ["oras", "repo", "tags", ...flags(repo.registry), ref(repo)] }),
    manifestFetch: (of: Reference): OrasCommand => ({ args: ["oras", "manifest", "fetch", ...flags(of.registry), ref(of)] }),
    resolve: (of: Reference): OrasCommand => ({ args: ["oras", "resolve", ...flags(of.registry), ref(of)] }),
    pull: (of: Reference, outDir: string): OrasCommand => ({
      args: ["oras", "pull", ...flags(of.registry), ref(of), "-o", outDir.endsWith("/") ? outDir : outDir + "/"],
    }),
    copy: (from: Reference, to: Reference): OrasCommand => ({
      args: [
        "oras", "cp", ...(flags(from.registry).length ? ["--from-plain-http"] : []),
        ...(flags(to.registry).length ? ["--to-plain-http"] : []), ref(from), ref(to),
      ],
    }),
  };
}

type Commands = ReturnType<typeof orasCommands>;

/** The built-in OCI client: what runs when oras is not installed, byte-compatible with it. */
class BuiltinBackend implements Backend {
  readonly name = "builtin";
  private readonly clients = new Map<string, RegistryClient>();

  constructor(private readonly plainHttp: boolean) {}

  client(registry: string) {
    let client = this.clients.get(registry);
    if (!client) {
      client = new RegistryClient(registry, this.plainHttp ? { plainHttp: true } : {});
      this.clients.set(registry, client);
    }
    return client;
  }

  /** A missing artifact is named together with what does exist, so the fix is obvious. */
  private async explained<T>(ref: Reference, work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      if (!(error instanceof RegistryResponseError) || error.status !== 404) throw error;
      const repository = `${ref.registry}/${ref.repository}`;
      const tags = await collect(this.client(ref.registry).tags(ref.repository)).catch(() => undefined);
      throw new ContentError(
        `Error response from registry: ${formatReference(ref)}: not found`,
        tags === undefined || tags.length === 0
          ? `The repository ${repository} does not exist. Push it first: make push (or check REGISTRY and AGENTS).`
          : `Tags in ${repository}: ${tags.join(", ")}. Push the missing one first (make push TAG=…) or pick one of these.`,
      );
    }
  }

  async push(ref: Reference, card: CardFile) {
    const layer = { title: card.fileName, mediaType: "application/json", bytes: card.bytes };
    const pushed = await pushArtifact(this.client(ref.registry), ref, [layer], {
      artifactType: AGENT_CARD_ARTIFACT_TYPE,
      annotations: pinnedAnnotations(),
    });
    return pushed.digest;
  }

  repoList(registry: string) {
    return collect(this.client(registry).catalog());
  }

  repoTags(repo: Reference) {
    return this.explained(repo, () => collect(this.client(repo.registry).tags(repo.repository)));
  }

  manifestFetch(ref: Reference) {
    return this.explained(ref, () => fetchManifest(this.client(ref.registry), ref));
  }

  resolve(ref: Reference) {
    return this.explained(ref, async () => {
      const digest = await this.client(ref.registry).resolve(ref.repository, ref.digest ?? ref.tag!, formatReference(ref));
      if (!digest) throw new RegistryResponseError(`${formatReference(ref)}: not found`, 404);
      return digest;
    });
  }

  pull(ref: Reference, outDir: string) {
    return this.explained(ref, async () => {
      const { digest, files } = await pullArtifact(this.client(ref.registry), ref, outDir);
      return { digest, files };
    });
  }

  copy(from: Reference, to: Reference) {
    return this.explained(from, () => copyArtifact(this.client(from.registry), from, this.client(to.registry), to));
  }
}

/** The real oras CLI, run with the very commands we print. */
class OrasCliBackend implements Backend {
  readonly name = "oras";

  constructor(private readonly commands: Commands) {}

  private async run(command: OrasCommand): Promise<string> {
    const [program, ...args] = command.args;
    // Loaded here, not at the top: every step would otherwise pay zx's start-up (about 50 ms
    // under Deno), though only this backend runs a program.
    const { $ } = await import("zx");
    const result = await $({ cwd: command.cwd, quiet: true, nothrow: true })`${program} ${args}`;
    if (result.exitCode !== 0) {
      throw new CliError(result.stderr.trim() || `${renderCommand(command)} exited with ${result.exitCode}`, 1);
    }
    return result.stdout;
  }

  private static digestLine(stdout: string): string {
    const digest = stdout.match(/Digest: (sha256:[a-f0-9]{64})/)?.[1];
    if (!digest) throw new ContentError(`oras printed no digest:\n${stdout}`);
    return digest;
  }

  async push(ref: Reference, card: CardFile) {
    return OrasCliBackend.digestLine(await this.run(this.commands.push(ref, card)));
  }

  async repoList(registry: string) {
    return (await this.run(this.commands.repoList(registry))).split("\n").filter(Boolean);
  }

  async repoTags(repo: Reference) {
    return (await this.run(this.commands.repoTags(repo))).split("\n").filter(Boolean);
  }

  async manifestFetch(ref: Reference) {
    const bytes = new TextEncoder().encode(await this.run(this.commands.manifestFetch(ref)));
    return { bytes, digest: sha256Digest(bytes), manifest: parseManifest(bytes) };
  }

  async resolve(ref: Reference) {
    return (await this.run(this.commands.resolve(ref))).trim();
  }

  async pull(ref: Reference, outDir: string) {
    const digest = OrasCliBackend.digestLine(await this.run(this.commands.pull(ref, outDir)));
    const { manifest } = await this.manifestFetch({ ...ref, tag: undefined, digest });
    const files = manifest.layers.flatMap((layer) => {
      const title = layerTitle(layer);
      return title ? [{ title, path: path.join(outDir, title), digest: layer.digest, size: layer.size }] : [];
    });
    return { digest, files };
  }

  async copy(from: Reference, to: Reference) {
    return OrasCliBackend.digestLine(await this.run(this.commands.copy(from, to)));
  }
}

/**
 * What every step talks to: prints the `oras` command a person could paste, then has the
 * chosen backend do it.
 */
export class Oras implements Backend {
  readonly name: Backend["name"];
  private readonly commands: Commands;
  private readonly backend: Backend;

  /** Said once, before the first command, when auto had to fall back to the built-in client. */
  private fallbackNote?: string;

  constructor(kind: "oras" | "builtin", plainHttp = false, fallbackNote?: string) {
    this.fallbackNote = fallbackNote;
    this.commands = orasCommands(plainHttp);
    this.backend = kind === "oras" ? new OrasCliBackend(this.commands) : new BuiltinBackend(plainHttp);
    this.name = kind;
  }

  private show(command: OrasCommand) {
    if (this.fallbackNote) say.note(this.fallbackNote);
    this.fallbackNote = undefined;
    say.command(renderCommand(command));
  }

  push(ref: Reference, card: CardFile) {
    this.show(this.commands.push(ref, card));
    return this.backend.push(ref, card);
  }
  repoList(registry: string) {
    this.show(this.commands.repoList(registry));
    return this.backend.repoList(registry);
  }
  repoTags(repo: Reference) {
    this.show(this.commands.repoTags(repo));
    return this.backend.repoTags(repo);
  }
  manifestFetch(ref: Reference) {
    this.show(this.commands.manifestFetch(ref));
    return this.backend.manifestFetch(ref);
  }
  resolve(ref: Reference) {
    this.show(this.commands.resolve(ref));
    return this.backend.resolve(ref);
  }
  pull(ref: Reference, outDir: string) {
    this.show(this.commands.pull(ref, outDir));
    return this.backend.pull(ref, outDir);
  }
  copy(from: Reference, to: Reference) {
    this.show(this.commands.copy(from, to));
    return this.backend.copy(from, to);
  }
}

export const orasOnPath = () => findOnPath("oras");

export const ORAS_INSTALL_HINT =
  "Install oras 1.2 or later (https://oras.land/docs/installation; e.g. `brew install oras`,\n" +
  "or `go install oras.land/oras/cmd/oras@latest` and add $(go env GOPATH)/bin to PATH),\n" +
  "or use the built-in client, which writes the same artifacts: ORAS_BACKEND=builtin.";

/** ORAS_BACKEND=auto|oras|builtin; auto says once which one it took. */
export function selectBackend(plainHttp: boolean, env = process.env): Oras {
  const wanted = env.ORAS_BACKEND || "auto";
  if (!["auto", "oras", "builtin"].includes(wanted)) {
    throw new CliError(`ORAS_BACKEND must be auto, oras or builtin, not ${JSON.stringify(wanted)}`, 2);
  }
  const found = orasOnPath();
  if (wanted === "oras" && !found) {
    throw new EnvironmentError("ORAS_BACKEND=oras, but the oras CLI is not on PATH", ORAS_INSTALL_HINT);
  }
  if (wanted === "builtin" || !found) {
    const note = wanted === "auto"
      ? "(oras is not on PATH: the built-in OCI client runs each command below, with the same results)"
      : undefined;
    return new Oras("builtin", plainHttp, note);
  }
  return new Oras("oras", plainHttp);
}
