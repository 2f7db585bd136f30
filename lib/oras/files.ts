// What push and attach share: `file[:type]` arguments, the files they name, and --annotation.
import { readFile, stat } from "node:fs/promises";
import path from "node:path";
import { UsageError } from "../errors.ts";
import { type ArtifactLayer, CREATED_ANNOTATION } from "../oci/manifest.ts";
import type { FlagSpec, FlagValues, OrasIO } from "./command.ts";

export const PACKER_FLAGS: FlagSpec = {
  annotation: { type: "string", short: "a", multiple: true, help: "manifest annotations" },
  "disable-path-validation": { type: "boolean", help: "skip path validation" },
};

/** `key=value` pairs of --annotation, split at the first "=" as oras does. */
export function parseAnnotations(pairs: string[] = []): Record<string, string> {
  const annotations: Record<string, string> = {};
  for (const pair of pairs) {
    const at = pair.indexOf("=");
    if (at < 0) {
      throw new UsageError("annotation value doesn't match the required format", `Please use the correct format in the flag: --annotation "key=value"`);
    }
    const key = pair.slice(0, at);
    if (key in annotations) throw new UsageError(`duplicate annotation key: ${key}`);
    annotations[key] = pair.slice(at + 1);
  }
  const created = annotations[CREATED_ANNOTATION];
  // oras-go keeps a supplied created time only when it is RFC 3339.
  if (created !== undefined && !/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/.test(created)) {
    throw new UsageError(
      `invalid date and time format: ${CREATED_ANNOTATION} must be RFC 3339, such as 2025-06-05T04:26:57Z, not ${JSON.stringify(created)}`,
    );
  }
  return annotations;
}

/** Go's filepath.Clean on a relative path, with forward slashes: the layer title oras writes. */
function cleanTitle(file: string): string {
  const cleaned = path.posix.normalize(file.replaceAll(path.sep, "/"));
  return cleaned.length > 1 ? cleaned.replace(/\/+$/, "") : cleaned;
}

/** `file[:type]`, split at the last colon (so `hi:txt:` is the file `hi:txt`). */
function parseFileArgument(text: string): { file: string; mediaType?: string } {
  const colon = text.lastIndexOf(":");
  const [file, mediaType] = colon < 0 ? [text, ""] : [text.slice(0, colon), text.slice(colon + 1)];
  if (file === "") throw new UsageError(`found empty file path in ${JSON.stringify(text)}`);
  return { file, mediaType: mediaType || undefined };
}

/**
 * Reads the files a push or attach names, each as one layer titled after its path as given;
 * in text output says so as oras does (`Preparing <title>`, or that the artifact is empty).
 */
export async function loadLayers(texts: string[], flags: FlagValues, io: OrasIO): Promise<ArtifactLayer[]> {
  const files = texts.map(parseFileArgument);
  const absolute = files.filter(({ file }) => path.isAbsolute(file)).map(({ file }) => file);
  if (absolute.length > 0 && !flags["disable-path-validation"]) {
    throw new UsageError(
      `absolute file paths are insecure and not recommended. If it's intentional, use --disable-path-validation flag to skip this check: ${absolute.join(", ")}`,
    );
  }
  const layers: ArtifactLayer[] = [];
  for (const { file, mediaType } of files) {
    const title = path.isAbsolute(file) ? path.normalize(file) : cleanTitle(file);
    if (flags.format === "text") io.out(`Preparing ${title}\n`);
    const full = path.resolve(io.cwd, file);
    const checked = io.files?.get(full);
    if (checked) {
      layers.push({ title, mediaType, bytes: checked });
      continue;
    }
    const info = await stat(full).catch(() => undefined);
    if (!info) throw new UsageError(`stat ${full}: no such file or directory`);
    if (!info.isFile()) throw new UsageError(`${file} is not a regular file (this client does not push directories)`, "Push the files in it one by one.");
    const bytes = await readFile(full).catch((error: NodeJS.ErrnoException) => {
      throw new UsageError(`open ${file}: ${error.code === "EACCES" ? "permission denied" : error.message}`);
    });
    layers.push({ title, mediaType, bytes: new Uint8Array(bytes) });
  }
  if (layers.length === 0 && flags.format === "text") io.out("Uploading empty artifact\n");
  return layers;
}
