import { createHash, randomBytes } from "node:crypto";
import { closeSync, openSync, rmSync } from "node:fs";
import { mkdir, open, readdir, rename, rm } from "node:fs/promises";
import path from "node:path";
import { mapLimit } from "../concurrency.ts";
import { sha256Digest } from "./digest.ts";
import { OciError, type Reason } from "./errors.ts";
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
import type { Repository } from "./registry.ts";
import { bodyChunks, readLimited } from "./transport.ts";

/** Blobs of one artifact in flight at once, as oras does. */
const BLOB_CONCURRENCY = 5;

/** What happened to one node of an artifact, in oras's words; the caller decides what to print. */
export type TransferStatus = "Uploading" | "Uploaded" | "Exists" | "Mounted" | "Downloading" | "Downloaded" | "Skipped" | "Copying" | "Copied";
export type OnStatus = (status: TransferStatus, descriptor: Descriptor) => void;

export interface Fetched {
  descriptor: Descriptor;
  bytes: Uint8Array;
  manifest: ImageManifest;
}

/**
 * `oras push`: blobs first (each only if missing), then the manifest under the tag, or by its
 * digest alone when there is no tag (`oras attach` pushes a referrer so).
 */
export async function pushArtifact(
  repository: Repository,
  tag: string | undefined,
  layers: ArtifactLayer[],
  options: { artifactType?: string; annotations?: Record<string, string>; subject?: Descriptor; onStatus?: OnStatus } = {},
): Promise<Fetched & { subjectIndexed: boolean }> {
  const onStatus = options.onStatus ?? (() => {});
  const manifest = artifactManifest(layers, options);
  const bytes = encodeManifest(manifest);
  const descriptor: Descriptor = { mediaType: MEDIA_TYPE.ociManifest, digest: sha256Digest(bytes), size: bytes.byteLength };
  const existed = await repository.hasManifest(descriptor.digest);
  if (existed) {
    onStatus("Exists", descriptor);
  } else {
    const blobs = [
      { descriptor: manifest.config, bytes: EMPTY_BLOB },
      ...layers.map((layer, i) => ({ descriptor: manifest.layers[i], bytes: layer.bytes })),
    ];
    await mapLimit(blobs, BLOB_CONCURRENCY, async (blob) => {
      const done = await repository.ensureBlob(blob.descriptor.digest, () => {
        onStatus("Uploading", blob.descriptor);
        return blob.bytes;
      });
      onStatus(done === "uploaded" ? "Uploaded" : done === "mounted" ? "Mounted" : "Exists", blob.descriptor);
    });
    onStatus("Uploading", descriptor);
  }
  const { subjectIndexed } = await repository.pushManifest(tag ?? descriptor.digest, bytes, MEDIA_TYPE.ociManifest);
  if (!existed) onStatus("Uploaded", descriptor);
  return { descriptor, bytes, manifest, subjectIndexed };
}

/** parseManifest, naming the reference in its refusal: a run touches several. */
export function parseImageManifest(subject: string, bytes: Uint8Array, mediaType?: string): ImageManifest {
  try {
    return parseManifest(bytes, mediaType);
  } catch (error) {
    if (error instanceof OciError) throw new OciError(error.kind, `${subject}: ${error.message}`, { ...error.details, subject });
    throw error;
  }
}

/**
 * A manifest by tag or digest, proven to be the one asked for and parsed as an image manifest;
 * `read` is what Repository.fetchManifest gave for it already, if the caller has that.
 */
export async function fetchImageManifest(
  repository: Repository,
  reference: string,
  read?: { descriptor: Descriptor; bytes: Uint8Array },
): Promise<Fetched> {
  const { descriptor, bytes } = read ?? await repository.fetchManifest(reference);
  return { descriptor, bytes, manifest: parseImageManifest(repository.reference(reference), bytes, descriptor.mediaType) };
}

export interface PulledFile {
  title: string;
  path: string;
  digest: string;
  size: number;
}

const hostile = (message: string, reason: Reason) => new OciError("invalid-content", message, { reason });

/**
 * Where a title may be written: inside `outDir`, nowhere else. oras refuses the same titles
 * with the same words.
 */
export function safeTarget(outDir: string, title: string): string {
  const root = path.resolve(outDir);
  const target = path.resolve(root, title);
  if (path.isAbsolute(title) || title.includes("\\") || !target.startsWith(root + path.sep)) {
    throw hostile(`path traversal disallowed: the layer title ${JSON.stringify(title)} would be written outside ${outDir}`, "path-traversal");
  }
  return target;
}

/** Checks every title before anything is written, so a bad manifest writes nothing at all. */
function plannedFiles(manifest: ImageManifest, outDir: string, subject: string) {
  const titled = manifest.layers.filter((layer) => layerTitle(layer) !== undefined);
  if (titled.length === 0) {
    throw hostile(`${subject} has no layer with an org.opencontainers.image.title annotation: nothing to pull`, "no-title");
  }
  const planned = titled.map((layer) => {
    const title = layerTitle(layer)!;
    return { layer, title, target: safeTarget(outDir, title) };
  });
  for (const a of planned) {
    for (const b of planned) {
      if (a !== b && a.target === b.target) {
        throw hostile(`${subject} has two layers titled ${JSON.stringify(a.title)}; refusing to pull`, "duplicate-title");
      }
      // Both cannot be written: one file would have to be the other's directory.
      if (b.target.startsWith(a.target + path.sep)) {
        throw hostile(
          `${subject} has layers titled ${JSON.stringify(a.title)} and ${JSON.stringify(b.title)}, which cannot both be files; refusing to pull`,
          "duplicate-title",
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
export async function pullArtifact(
  repository: Repository,
  reference: string,
  outDir: string,
  options: { onStatus?: OnStatus } = {},
): Promise<Fetched & { files: PulledFile[] }> {
  const onStatus = options.onStatus ?? (() => {});
  const fetched = await fetchImageManifest(repository, reference);
  const planned = plannedFiles(fetched.manifest, outDir, repository.reference(reference));
  for (const layer of fetched.manifest.layers) if (layerTitle(layer) === undefined) onStatus("Skipped", layer);
  await makeDirectory(outDir);
  await removeLeftovers(outDir);
  // Settled one by one, so that every hidden file is known, and removed, whatever fails.
  const outcomes = await mapLimit(planned, BLOB_CONCURRENCY, ({ layer }) => {
    onStatus("Downloading", layer);
    return downloadBlob(repository, layer, outDir).then((partial) => ({ partial }), (error: unknown) => ({ error }));
  });
  const partials = outcomes.flatMap((outcome) => ("partial" in outcome ? [outcome.partial] : []));
  let renamed = 0;
  try {
    const failed = outcomes.find((outcome) => "error" in outcome);
    if (failed) throw failed.error;
    for (const [i, { layer, target }] of planned.entries()) {
      // Titles with folders ("docs/card.json") need them made; plain file names do not.
      if (path.dirname(target) !== path.resolve(outDir)) await makeDirectory(path.dirname(target));
      await rename(partials[i], target).catch((error) => {
        throw new OciError("file-system", `cannot write ${target}: ${fileSystemReason(error)}`, { reason: "file-in-the-way" });
      });
      halfWritten.delete(partials[i]);
      renamed++;
      onStatus("Downloaded", layer);
    }
  } finally {
    await Promise.all(partials.slice(renamed).map((partial) => rm(partial, { force: true })));
    for (const partial of partials.slice(renamed)) halfWritten.delete(partial);
  }
  const files = planned.map(({ layer, title }): PulledFile => ({ title, path: path.join(outDir, title), digest: layer.digest, size: layer.size }));
  return { ...fetched, files };
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
    throw new OciError(
      "file-system",
      `cannot create the output directory ${dir}: ${fileInTheWay ? "a file stands where a directory should be" : fileSystemReason(error)}`,
      { reason: fileInTheWay ? "file-in-the-way" : "cannot-create" },
    );
  }
}

/** Hidden files this process is writing right now: what an interrupt must not leave behind. */
const halfWritten = new Set<string>();

/** Removes every file a pull of this process is still writing; says how many. Synchronous, for signal handlers. */
export function removeHalfWritten(): number {
  for (const file of halfWritten) rmSync(file, { force: true });
  const count = halfWritten.size;
  halfWritten.clear();
  return count;
}

// `.<digest>.<pid>.<random>.partial`: the pid tells a leftover of a killed process from a file
// another process is writing right now.
const PARTIAL = /^\.[a-f0-9]{12}\.(\d+)\.[a-f0-9]{8}\.partial$/;

const isRunning = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
};

/** Removes what pulls killed outright (SIGKILL, a crash) left in `dir`. */
async function removeLeftovers(dir: string) {
  const names = await readdir(dir).catch(() => []);
  await Promise.all(names.map((name) => {
    const pid = Number(name.match(PARTIAL)?.[1]);
    return pid && pid !== process.pid && !isRunning(pid) ? rm(path.join(dir, name), { force: true }) : undefined;
  }));
}

/** Fetches a blob into a hidden file in `dir`, checking it as it streams; returns that file. */
async function downloadBlob(repository: Repository, layer: Descriptor, dir: string): Promise<string> {
  const response = await repository.fetchBlob(layer.digest);
  const tooLarge = () => hostile(`blob ${layer.digest} is larger than the ${layer.size} bytes its descriptor says; refusing it`, "oversized-blob");
  if (Number(response.headers.get("content-length")) > layer.size) {
    await response.body?.cancel();
    throw tooLarge();
  }
  const partial = path.join(dir, `.${layer.digest.slice(7, 19)}.${process.pid}.${randomBytes(4).toString("hex")}.partial`);
  let file;
  try {
    // Recorded, then created in one synchronous call: an interrupt can come between any two
    // awaits, and must find every file this process has created to remove it.
    halfWritten.add(partial);
    closeSync(openSync(partial, "wx"));
    file = await open(partial, "r+");
  } catch (error) {
    halfWritten.delete(partial);
    await response.body?.cancel();
    throw new OciError("file-system", `cannot write into ${dir}: ${fileSystemReason(error)}`, { reason: "not-writable" });
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
      throw hostile(
        `blob ${layer.digest} failed verification: got ${size} bytes with digest ${digest}, expected ${layer.size} bytes`,
        "digest-mismatch",
      );
    }
  } catch (error) {
    await file.close();
    await rm(partial, { force: true });
    halfWritten.delete(partial);
    throw error;
  }
  await file.close();
  return partial;
}

/** Blobs are copied through memory: an agent card is a few KB, a layer past this is refused, not buffered. */
export const MAX_COPIED_BLOB_BYTES = 64 * 1024 * 1024;

/**
 * `oras cp`: within one repository the manifest is put again under the new tag; across
 * repositories of one registry blobs are mounted; across registries they are copied. `read` is
 * `from`'s manifest as Repository.fetchManifest gave it moments ago, when the caller has it.
 */
export async function copyArtifact(
  source: Repository,
  from: string,
  target: Repository,
  to: string,
  options: { onStatus?: OnStatus; read?: { descriptor: Descriptor; bytes: Uint8Array } } = {},
): Promise<Descriptor & { subjectIndexed: boolean }> {
  const onStatus = options.onStatus ?? (() => {});
  const fetched = await fetchImageManifest(source, from, options.read);
  const { manifest } = fetched;
  const sameRegistry = source.registry === target.registry;
  if (!sameRegistry || source.name !== target.name) {
    await mapLimit([manifest.config, ...manifest.layers], BLOB_CONCURRENCY, async (blob) => {
      const done = await target.ensureBlob(
        blob.digest,
        async () => {
          onStatus("Copying", blob);
          const what = `blob ${blob.digest} of ${source.reference(from)}`;
          if (blob.size > MAX_COPIED_BLOB_BYTES) {
            throw new OciError("too-large", `${what} is ${blob.size} bytes; this client copies blobs of up to ${MAX_COPIED_BLOB_BYTES} bytes`, { subject: what });
          }
          // Never more than the descriptor says, whatever the source sends.
          const bytes = await readLimited(await source.fetchBlob(blob.digest), blob.size, what);
          if (bytes.byteLength !== blob.size || sha256Digest(bytes) !== blob.digest) {
            throw hostile(`${what} failed verification`, "digest-mismatch");
          }
          return bytes;
        },
        sameRegistry ? source.name : undefined,
      );
      onStatus(done === "uploaded" ? "Copied" : done === "mounted" ? "Mounted" : "Exists", blob);
    });
  }
  onStatus("Copying", fetched.descriptor);
  const mediaType = manifest.mediaType ?? fetched.descriptor.mediaType;
  const descriptor = await target.pushManifest(to, fetched.bytes, mediaType);
  onStatus("Copied", descriptor);
  return descriptor;
}

/**
 * Removes one tag, `read` being its manifest as Repository.fetchManifest gave it. A registry that
 * deletes tags (OCI distribution 1.1) removes just the tag. Distribution 2.x deletes only
 * manifests, by digest, and every tag that names one goes with it: there the manifest is
 * deleted and put back under `others`, the other tags that held it, so only `tag` is gone.
 */
export async function untag(repository: Repository, tag: string, read: { descriptor: Descriptor; bytes: Uint8Array }, others: string[]) {
  if (await repository.deleteManifest(tag)) return;
  await repository.deleteManifest(read.descriptor.digest);
  for (const other of others) await repository.pushManifest(other, read.bytes, read.descriptor.mediaType);
}
