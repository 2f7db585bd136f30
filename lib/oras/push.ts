// oras push [flags] <name>[:<tag>[,<tag>…]] <file>[:<type>] [...]
import { readFile, stat } from "node:fs/promises";
import path from "node:path";
import { UsageError } from "../errors.ts";
import { pushArtifact } from "../oci/artifacts.ts";
import { CREATED_ANNOTATION, DEFAULT_ARTIFACT_TYPE } from "../oci/manifest.ts";
import { outputFormat, type OrasIO, parseFlags, printJson, registryFor, remoteFlags, statusLines, targetReference } from "./command.ts";

const FLAGS = {
  ...remoteFlags(),
  "artifact-type": { type: "string" },
  annotation: { type: "string", short: "a", multiple: true },
  "disable-path-validation": { type: "boolean" },
  format: { type: "string" },
} as const;

/** `key=value` pairs of --annotation; the value may itself hold "=". */
export function parseAnnotations(pairs: string[] = []): Record<string, string> {
  const annotations: Record<string, string> = {};
  for (const pair of pairs) {
    const at = pair.indexOf("=");
    if (at <= 0) throw new UsageError(`oras push: invalid annotation ${JSON.stringify(pair)}: expected key=value`);
    const key = pair.slice(0, at);
    if (key in annotations) throw new UsageError(`oras push: duplicate annotation key ${key}`);
    annotations[key] = pair.slice(at + 1);
  }
  const created = annotations[CREATED_ANNOTATION];
  // oras keeps a supplied created time only when it is RFC 3339.
  if (created !== undefined && !/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/.test(created)) {
    throw new UsageError(`oras push: ${CREATED_ANNOTATION} must be an RFC 3339 time such as 2025-06-05T04:26:57Z, not ${JSON.stringify(created)}`);
  }
  return annotations;
}

/** `file[:type]`, split at the last colon; the title is the path as given, cleaned. */
function fileArgument(text: string, allowAbsolute: boolean) {
  const colon = text.lastIndexOf(":");
  const [file, mediaType] = colon > 0 ? [text.slice(0, colon), text.slice(colon + 1)] : [text, undefined];
  if (path.isAbsolute(file) && !allowAbsolute) {
    throw new UsageError(
      `oras push: absolute file path detected: ${file}`,
      "Push files by relative path (cd to their directory first), or add --disable-path-validation.",
    );
  }
  return { file, mediaType: mediaType || undefined, title: path.posix.normalize(file.replaceAll(path.sep, "/")) };
}

export async function push(argv: string[], io: OrasIO) {
  const { values, positionals } = parseFlags("push", argv, FLAGS);
  const format = outputFormat("push", values.format);
  if (positionals.length < 1) throw new UsageError("oras push: expected a reference and files", "Usage: oras push <name>:<tag> <file>[:<type>] [...]");
  const target = targetReference(positionals[0]);
  const files = positionals.slice(1).map((text) => fileArgument(text, Boolean(values["disable-path-validation"])));
  const layers = await Promise.all(files.map(async ({ file, mediaType, title }) => {
    const full = path.resolve(io.cwd, file);
    const info = await stat(full).catch(() => undefined);
    if (!info?.isFile()) throw new UsageError(`oras push: ${file} is not a file in ${io.cwd}`);
    return { title, mediaType, bytes: new Uint8Array(await readFile(full)) };
  }));
  if (layers.length === 0) throw new UsageError("oras push: no files to push", "Name at least one file after the reference.");
  const repository = registryFor(target.registry, Boolean(values["plain-http"])).repository(target.repository);
  const artifactType = (values["artifact-type"] as string | undefined) ?? DEFAULT_ARTIFACT_TYPE;
  const pushed = await pushArtifact(repository, target.reference, layers, {
    artifactType,
    annotations: parseAnnotations(values.annotation as string[] | undefined),
    onStatus: format === "text" ? statusLines(io, { Uploading: "Uploading", Uploaded: "Uploaded ", Exists: "Exists   ", Mounted: "Exists   " }) : undefined,
  });
  const name = `${target.registry}/${target.repository}`;
  if (format === "json") {
    printJson(io, {
      reference: `${name}@${pushed.descriptor.digest}`,
      mediaType: pushed.descriptor.mediaType,
      digest: pushed.descriptor.digest,
      size: pushed.descriptor.size,
      annotations: pushed.manifest.annotations,
      artifactType,
      referenceAsTags: target.tag ? [`${name}:${target.tag}`] : [],
    });
    return;
  }
  io.out(`Pushed [registry] ${positionals[0]}\nArtifactType: ${artifactType}\nDigest: ${pushed.descriptor.digest}\n`);
}
