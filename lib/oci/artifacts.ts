import { createHash, randomBytes } from "node:crypto";
import { mkdir, open, rename, rm } from "node:fs/promises";
import path from "node:path";
import { mapLimit } from "../concurrency.ts";
import { ContentError, EnvironmentError } from "../errors.ts";
import { formatReference, manifestReference, type Reference } from "./reference.ts";
import { sha256Digest } from "./digest.ts";
import {
  type ArtifactLayer,
  artifactManifest,
  type Descriptor,
  EMPTY_BLOB,
  EMPTY_CONFIG,
  encodeManifest,
  type ImageManifest,
  layerTitle,
  MEDIA_TYPE,
  parseManifest,
} from "./manifest.ts";
import { bodyChunks, type RegistryClient } from "./remote.ts";

/** Blobs of one artifact in flight at once, as oras does. */
const BLOB_CONCURRENCY = 5;

export interface PushResult {
  reference: string;
  digest: string;
  size: number;
  manifest: ImageManifest;
}

/** `oras push`: blobs first (each only if missing), then the manifest under the tag. */
export async function pushArtifact(
  client: RegistryClient,
  ref: Reference,
  layers: ArtifactLayer[],
  options: { artifactType?: string; annotations?: Record<string, string> } = {},
): Promise<PushResult> {
  const subject = formatReference(ref);
  const manifest = artifactManifest(layers, options);
  const bytes = encodeManifest(manifest);
  const digest = sha256Digest(bytes);
  if (!(await client.resolve(ref.repository, digest, subject))) {
    const blobs = [
      { digest: EMPTY_CONFIG.digest, bytes: EMPTY_BLOB },
      ...layers.map((layer, i) => ({ digest: manifest.layers[i].digest, bytes: layer.bytes })),
    ];
    await mapLimit(blobs, BLOB_CONCURRENCY, (blob) => client.ensureBlob(ref.repository, blob.digest, () => blob.bytes));
  }
  await client.putManifest(ref.repository, manifestReference(ref), bytes, MEDIA_TYPE.ociManifest, subject);
  return { reference: subject, digest, size: bytes.byteLength, manifest };
}

export async function fetchManifest(client: RegistryClient, ref: Reference) {
  const fetched = await client.fetchManifest(ref.repository, manifestReference(ref), formatReference(ref));
  return { ...fetched, manifest: parseManifestOf(ref, fetched) };
}

/** parseManifest, naming the reference in its refusal: a run touches several. */
function parseManifestOf(ref: Reference, fetched: { bytes: Uint8Array; mediaType: string }): ImageManifest {
  try {
    return parseManifest(fetched.bytes, fetched.mediaType);
  } catch (error) {
    if (!(error instanceof ContentError)) throw error;
    throw new ContentError(`${formatReference(ref)}: ${error.message}`, error.hint);
  }
}

export async function collect(pages: AsyncIterable<string[]>): Promise<string[]> {
  const all: string[] = [];
  for await (const page of pages) all.push(...page);
  return all;
}

export interface PulledFile {
  title: string;
  path: string;
  digest: string;
  size: number;
}

const HOSTILE = "The artifact is hostile or broken; nothing was written.";

/**
 * Where a title may be written: inside `outDir`, nowhere else. oras refuses the same titles
 * with the same words.
 */
export function safeTarget(outDir: string, title: string): string {
  const root = path.resolve(outDir);
  const target = path.resolve(root, title);
  if (path.isAbsolute(title) || title.includes("\\") || !target.startsWith(root + path.sep)) {
    throw new ContentError(
      `path traversal disallowed: the layer title ${JSON.stringify(title)} would be written outside ${outDir}`,
      `${HOSTILE} Do not pull it with --allow-path-traversal.`,
    );
  }
  return target;
}

/** Checks every title before anything is written, so a bad manifest writes nothing at all. */
function plannedFiles(manifest: ImageManifest, outDir: string, subject: string) {
  const titled = manifest.layers.filter((layer) => layerTitle(layer) !== undefined);
  if (titled.length === 0) {
    throw new ContentError(
      `${subject} has no layer with an org.opencontainers.image.title annotation: nothing to pull`,
      "Push files with `oras push REF FILE`, which names each layer after its file.",
    );
  }
  const planned = titled.map((layer) => {
    const title = layerTitle(layer)!;
    return { layer, title, target: safeTarget(outDir, title) };
  });
  for (const a of planned) {
    for (const b of planned) {
      if (a !== b && a.target === b.target) {
        throw new ContentError(`${subject} has two layers titled ${JSON.stringify(a.title)}; refusing to pull`, HOSTILE);
      }
      // Both cannot be written: one file would have to be the other's directory.
      if (b.target.startsWith(a.target + path.sep)) {
        throw new ContentError(
          `${subject} has layers titled ${JSON.stringify(a.title)} and ${JSON.stringify(b.title)}, which cannot both be files; refusing to pull`,
          HOSTILE,
        );
      }
    }
  }
  return planned;
}

/**
 * `oras pull REF -o DIR`. Every blob is fetched into a hidden file and checked for size and
 * digest before the first file lands, so a bad blob leaves DIR as it was: nothing half-written,
 * and no earlier good pull replaced.
 */
export async function pullArtifact(client: RegistryClient, ref: Reference, outDir: string) {
  const fetched = await fetchManifest(client, ref);
  const subject = formatReference(ref);
  const planned = plannedFiles(fetched.manifest, outDir, subject);
  await makeDirectory(outDir);
  // Settled one by one, so that every hidden file is known, and removed, whatever fails.
  const outcomes = await mapLimit(planned, BLOB_CONCURRENCY, ({ layer }) =>
    downloadBlob(client, ref.repository, layer, outDir).then((partial) => ({ partial }), (error: unknown) => ({ error })));
  const partials = outcomes.flatMap((outcome) => ("partial" in outcome ? [outcome.partial] : []));
  let renamed = 0;
  try {
    const failed = outcomes.find((outcome) => "error" in outcome);
    if (failed) throw failed.error;
    for (const [i, { target }] of planned.entries()) {
      // Titles with folders ("docs/card.json") need them made; plain file names do not.
      if (path.dirname(target) !== path.resolve(outDir)) await makeDirectory(path.dirname(target));
      await rename(partials[i], target).catch((error) => {
        throw new EnvironmentError(
          `cannot write ${target}: ${fileSystemReason(error)}`,
          "Move it away, or choose another directory with --out (OUT_DIR).",
        );
      });
      renamed++;
    }
  } finally {
    await Promise.all(partials.slice(renamed).map((partial) => rm(partial, { force: true })));
  }
  const files = planned.map(({ layer, title }): PulledFile => ({ title, path: path.join(outDir, title), digest: layer.digest, size: layer.size }));
  return { digest: fetched.digest, manifest: fetched.manifest, files };
}

/** The same words under Node and Deno, without the syscall and path they append. */
function fileSystemReason(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === "EACCES" || code === "EPERM") return "permission denied";
  if (code === "EROFS") return "read-only file system";
  if (code === "ENOSPC") return "no space left on device";
  if (code === "EISDIR") return "a directory stands where the file should be";
  return (error as Error).message;
}

async function makeDirectory(dir: string) {
  try {
    await mkdir(dir, { recursive: true });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const fileInTheWay = code === "EEXIST" || code === "ENOTDIR";
    throw new EnvironmentError(
      `cannot create the output directory ${dir}: ${fileInTheWay ? "a file stands where a directory should be" : fileSystemReason(error)}`,
      fileInTheWay
        ? "Move the file away, or choose another directory with --out (OUT_DIR)."
        : "Choose a directory you can write to with --out (OUT_DIR), e.g. OUT_DIR=tmp/registry-verify.",
    );
  }
}

/** Fetches a blob into a hidden file in `dir`, checking it as it streams; returns that file. */
async function downloadBlob(client: RegistryClient, repository: string, layer: Descriptor, dir: string): Promise<string> {
  const response = await client.fetchBlob(repository, layer.digest);
  const tooLarge = () =>
    new ContentError(`blob ${layer.digest} is larger than the ${layer.size} bytes its descriptor says; refusing it`, HOSTILE);
  if (Number(response.headers.get("content-length")) > layer.size) {
    await response.body?.cancel();
    throw tooLarge();
  }
  const partial = path.join(dir, `.${layer.digest.slice(7, 19)}.${randomBytes(4).toString("hex")}.partial`);
  let file;
  try {
    file = await open(partial, "wx");
  } catch (error) {
    await response.body?.cancel();
    throw new EnvironmentError(
      `cannot write into ${dir}: ${fileSystemReason(error)}`,
      "Make the directory writable (chmod u+w) or choose another with --out (OUT_DIR).",
    );
  }
  try {
    const hash = createHash("sha256");
    let size = 0;
    for await (const chunk of bodyChunks(response, `blob ${layer.digest}`)) {
      size += chunk.byteLength;
      if (size > layer.size) throw tooLarge();
      hash.update(chunk);
      await file.write(chunk);
    }
    const digest = "sha256:" + hash.digest("hex");
    if (size !== layer.size || digest !== layer.digest) {
      throw new ContentError(
        `blob ${layer.digest} failed verification: got ${size} bytes with digest ${digest}, expected ${layer.size} bytes`,
        "The registry's storage is damaged or the artifact was tampered with; nothing was written.\n" +
          "A new push keeps the damaged blob the registry already holds: start over with `make clean registry push`.",
      );
    }
  } catch (error) {
    await file.close();
    await rm(partial, { force: true });
    throw error;
  }
  await file.close();
  return partial;
}

/**
 * `oras cp`: within one repository the manifest is put again under the new tag; across
 * repositories of one registry blobs are mounted; across registries they are copied.
 */
export async function copyArtifact(
  source: RegistryClient,
  from: Reference,
  target: RegistryClient,
  to: Reference,
): Promise<string> {
  const fetched = await source.fetchManifest(from.repository, manifestReference(from), formatReference(from));
  const manifest = parseManifestOf(from, fetched);
  const sameRegistry = source.registry === target.registry;
  if (!sameRegistry || from.repository !== to.repository) {
    await mapLimit([manifest.config, ...manifest.layers], BLOB_CONCURRENCY, (blob) =>
      target.ensureBlob(
        to.repository,
        blob.digest,
        async () => {
          const response = await source.fetchBlob(from.repository, blob.digest);
          const bytes = new Uint8Array(await response.arrayBuffer());
          if (sha256Digest(bytes) !== blob.digest) throw new ContentError(`blob ${blob.digest} of ${formatReference(from)} failed verification`);
          return bytes;
        },
        sameRegistry ? from.repository : undefined,
      ));
  }
  const mediaType = manifest.mediaType ?? fetched.mediaType;
  return await target.putManifest(to.repository, manifestReference(to), fetched.bytes, mediaType, formatReference(to));
}
