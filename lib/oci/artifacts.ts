import { createHash, randomBytes } from "node:crypto";
import { mkdir, open, rename, rm } from "node:fs/promises";
import path from "node:path";
import { ContentError, EnvironmentError } from "../errors.ts";
import { formatReference, manifestReference, type Reference } from "../reference.ts";
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
import type { RegistryClient } from "./remote.ts";

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
    await Promise.all([
      client.ensureBlob(ref.repository, EMPTY_CONFIG.digest, () => EMPTY_BLOB),
      ...layers.map((layer, i) => client.ensureBlob(ref.repository, manifest.layers[i].digest, () => layer.bytes)),
    ]);
  }
  await client.putManifest(ref.repository, manifestReference(ref), bytes, MEDIA_TYPE.ociManifest, subject);
  return { reference: subject, digest, size: bytes.byteLength, manifest };
}

export async function fetchManifest(client: RegistryClient, ref: Reference) {
  const fetched = await client.fetchManifest(ref.repository, manifestReference(ref), formatReference(ref));
  return { ...fetched, manifest: parseManifest(fetched.bytes, fetched.mediaType) };
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
      "The artifact is hostile or broken; nothing was written. Do not pull it with --allow-path-traversal.",
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
  const seen = new Set<string>();
  return titled.map((layer) => {
    const title = layerTitle(layer)!;
    const target = safeTarget(outDir, title);
    if (seen.has(target)) throw new ContentError(`${subject} has two layers titled ${JSON.stringify(title)}; refusing to pull`);
    seen.add(target);
    return { layer, title, target };
  });
}

/** `oras pull REF -o DIR`. Each file lands only after its size and digest were checked. */
export async function pullArtifact(client: RegistryClient, ref: Reference, outDir: string) {
  const fetched = await fetchManifest(client, ref);
  const subject = formatReference(ref);
  const planned = plannedFiles(fetched.manifest, outDir, subject);
  await makeDirectory(outDir);
  const files: PulledFile[] = [];
  for (const { layer, title, target } of planned) {
    await makeDirectory(path.dirname(target));
    await downloadBlob(client, ref.repository, layer, target);
    files.push({ title, path: path.join(outDir, title), digest: layer.digest, size: layer.size });
  }
  return { digest: fetched.digest, manifest: fetched.manifest, files };
}

async function makeDirectory(dir: string) {
  try {
    await mkdir(dir, { recursive: true });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new EnvironmentError(
      code === "EEXIST" || code === "ENOTDIR"
        ? `cannot create the output directory ${dir}: a file stands where a directory should be`
        : `cannot create the output directory ${dir}: ${(error as Error).message}`,
      "Choose another directory with --out (OUT_DIR), or move the file away.",
    );
  }
}

async function downloadBlob(client: RegistryClient, repository: string, layer: Descriptor, target: string) {
  const response = await client.fetchBlob(repository, layer.digest);
  const partial = path.join(path.dirname(target), `.${path.basename(target)}.${randomBytes(4).toString("hex")}.partial`);
  let file;
  try {
    file = await open(partial, "wx");
  } catch (error) {
    await response.body?.cancel();
    throw new EnvironmentError(
      `cannot write into ${path.dirname(target)}: ${(error as Error).message}`,
      "Make the directory writable (chmod u+w) or choose another with --out (OUT_DIR).",
    );
  }
  try {
    const hash = createHash("sha256");
    let size = 0;
    for await (const chunk of response.body ?? []) {
      size += chunk.byteLength;
      if (size > layer.size) {
        throw new ContentError(`blob ${layer.digest} is larger than the ${layer.size} bytes its descriptor says; refusing it`);
      }
      hash.update(chunk);
      await file.write(chunk);
    }
    const digest = "sha256:" + hash.digest("hex");
    if (size !== layer.size || digest !== layer.digest) {
      throw new ContentError(
        `blob ${layer.digest} failed verification: got ${size} bytes with digest ${digest}, expected ${layer.size} bytes`,
        "The registry's storage is damaged or the artifact was tampered with; push it again.",
      );
    }
    await file.close();
    file = undefined;
    await rename(partial, target);
  } finally {
    await file?.close();
    await rm(partial, { force: true });
  }
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
  const manifest = parseManifest(fetched.bytes, fetched.mediaType);
  const sameRegistry = source.registry === target.registry;
  if (!sameRegistry || from.repository !== to.repository) {
    await Promise.all([manifest.config, ...manifest.layers].map((blob) =>
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
      )
    ));
  }
  const mediaType = manifest.mediaType ?? fetched.mediaType;
  return await target.putManifest(to.repository, manifestReference(to), fetched.bytes, mediaType, formatReference(to));
}
