import { OciError } from "./errors.ts";
import { isObject, parseJson } from "./json.ts";
import { DIGEST_PATTERN, sha256Digest } from "./digest.ts";

export const MEDIA_TYPE = {
  ociManifest: "application/vnd.oci.image.manifest.v1+json",
  ociIndex: "application/vnd.oci.image.index.v1+json",
  dockerManifest: "application/vnd.docker.distribution.manifest.v2+json",
  dockerManifestList: "application/vnd.docker.distribution.manifest.list.v2+json",
  orasArtifactManifest: "application/vnd.oci.artifact.manifest.v1+json",
  empty: "application/vnd.oci.empty.v1+json",
  unknownConfig: "application/vnd.unknown.config.v1+json",
  defaultLayer: "application/vnd.oci.image.layer.v1.tar",
} as const;

/** What `oras` sends as Accept on every manifest request (REFERENCE §2). */
export const MANIFEST_ACCEPT = [
  MEDIA_TYPE.dockerManifest,
  MEDIA_TYPE.dockerManifestList,
  MEDIA_TYPE.ociManifest,
  MEDIA_TYPE.ociIndex,
  MEDIA_TYPE.orasArtifactManifest,
].join(", ");

export const DEFAULT_ARTIFACT_TYPE = "application/vnd.unknown.artifact.v1";
export const TITLE_ANNOTATION = "org.opencontainers.image.title";
export const CREATED_ANNOTATION = "org.opencontainers.image.created";

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  urls?: string[];
  annotations?: Record<string, string>;
  data?: string;
  platform?: unknown;
  artifactType?: string;
}

export interface ImageManifest {
  schemaVersion: 2;
  mediaType?: string;
  artifactType?: string;
  config: Descriptor;
  layers: Descriptor[];
  subject?: Descriptor;
  annotations?: Record<string, string>;
}

export const EMPTY_BLOB = new TextEncoder().encode("{}");
export const EMPTY_CONFIG: Descriptor = {
  mediaType: MEDIA_TYPE.empty,
  digest: "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a",
  size: 2,
  data: "e30=",
};

/** Registries refuse larger manifests too; a bigger answer is hostile or broken. */
export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

// Go's encoding/json escapes these, and byte-identical manifests need the same escapes.
export const goEscape = (json: string) =>
  json.replace(/[<>&\u2028\u2029]/g, (c) => "\\u" + c.charCodeAt(0).toString(16).padStart(4, "0"));

const sortedMap = (map: Record<string, string>) =>
  Object.fromEntries(Object.keys(map).sort().map((key) => [key, map[key]]));

/** Field order of oras-go's structs, so our bytes equal what `oras push` writes. */
function orderedDescriptor(d: Descriptor): Descriptor {
  return {
    mediaType: d.mediaType,
    digest: d.digest,
    size: d.size,
    ...(d.urls && { urls: d.urls }),
    ...(d.annotations && { annotations: sortedMap(d.annotations) }),
    ...(d.data !== undefined && { data: d.data }),
    ...(d.platform !== undefined && { platform: d.platform }),
    ...(d.artifactType && { artifactType: d.artifactType }),
  };
}

export function encodeManifest(manifest: ImageManifest): Uint8Array {
  const ordered = {
    schemaVersion: manifest.schemaVersion,
    mediaType: manifest.mediaType,
    ...(manifest.artifactType && { artifactType: manifest.artifactType }),
    config: orderedDescriptor(manifest.config),
    layers: manifest.layers.map(orderedDescriptor),
    ...(manifest.subject && { subject: orderedDescriptor(manifest.subject) }),
    ...(manifest.annotations && { annotations: sortedMap(manifest.annotations) }),
  };
  return new TextEncoder().encode(goEscape(JSON.stringify(ordered)));
}

/** The time format oras puts in `org.opencontainers.image.created`: RFC 3339, UTC, seconds. */
export function createdTimestamp(date = new Date()): string {
  return date.toISOString().replace(/\.\d{3}Z$/, "Z");
}

export interface ArtifactLayer {
  title: string;
  mediaType?: string;
  bytes: Uint8Array;
}

/** The manifest `oras push --artifact-type T REF file:mediaType…` (image spec v1.1) writes. */
export function artifactManifest(
  layers: ArtifactLayer[],
  options: { artifactType?: string; created?: string; annotations?: Record<string, string>; subject?: Descriptor } = {},
): ImageManifest {
  return {
    schemaVersion: 2,
    mediaType: MEDIA_TYPE.ociManifest,
    artifactType: options.artifactType ?? DEFAULT_ARTIFACT_TYPE,
    config: EMPTY_CONFIG,
    // Without files oras-go packs the empty blob as the one layer: a manifest needs a layer.
    layers: layers.length === 0 ? [EMPTY_CONFIG] : layers.map((layer) => ({
      mediaType: layer.mediaType ?? MEDIA_TYPE.defaultLayer,
      digest: sha256Digest(layer.bytes),
      size: layer.bytes.byteLength,
      annotations: { [TITLE_ANNOTATION]: layer.title },
    })),
    ...(options.subject && { subject: options.subject }),
    annotations: {
      ...options.annotations,
      [CREATED_ANNOTATION]: options.annotations?.[CREATED_ANNOTATION] ?? options.created ??
        createdTimestamp(),
    },
  };
}

const malformed = (why: string) => new OciError("invalid-content", `malformed manifest: ${why}`, { reason: "malformed-manifest" });

function checkDescriptor(value: unknown, where: string): Descriptor {
  const bad = (why: string) => malformed(`${where} ${why}`);
  if (!isObject(value)) throw bad("is not an object");
  if (typeof value.mediaType !== "string" || value.mediaType === "") throw bad("has no mediaType");
  if (typeof value.digest !== "string" || !DIGEST_PATTERN.test(value.digest)) {
    throw bad(`has an invalid digest ${JSON.stringify(value.digest)} (only sha256 is supported)`);
  }
  if (typeof value.size !== "number" || !Number.isSafeInteger(value.size) || value.size < 0) {
    throw bad(`has an invalid size ${JSON.stringify(value.size)}`);
  }
  if (value.annotations !== undefined) {
    const annotations = value.annotations;
    if (!isObject(annotations) || Object.values(annotations).some((v) => typeof v !== "string")) {
      throw bad("has annotations that are not a map of strings");
    }
  }
  return value as unknown as Descriptor;
}

function decodeObject(bytes: Uint8Array): Record<string, unknown> {
  let value: unknown;
  try {
    value = parseJson(bytes, "the manifest");
  } catch (error) {
    throw malformed(`not JSON (${(error as Error).message})`);
  }
  if (!isObject(value)) throw malformed("not a JSON object");
  return value;
}

/**
 * Checks that bytes from a registry are an image manifest we can read: the OCI form `oras`
 * writes since 1.1, its older v1.0 form (unknown config), and Docker's schema 2 layout.
 */
export function parseManifest(bytes: Uint8Array, contentType?: string): ImageManifest {
  const value = decodeObject(bytes);
  const mediaType = typeof value.mediaType === "string" ? value.mediaType : contentType;
  if (mediaType !== MEDIA_TYPE.ociManifest && mediaType !== MEDIA_TYPE.dockerManifest) {
    throw new OciError("invalid-content", `unexpected manifest media type ${JSON.stringify(mediaType ?? null)}`, {
      reason: "unexpected-media-type",
    });
  }
  if (value.schemaVersion !== 2) throw malformed("schemaVersion is not 2");
  checkDescriptor(value.config, "config");
  if (!Array.isArray(value.layers)) throw malformed("layers is not a list");
  value.layers.forEach((layer, i) => checkDescriptor(layer, `layers[${i}]`));
  if (value.subject !== undefined) checkDescriptor(value.subject, "subject");
  return value as unknown as ImageManifest;
}

export interface ImageIndex {
  schemaVersion: 2;
  mediaType: string;
  artifactType?: string;
  manifests: Descriptor[];
  subject?: Descriptor;
  annotations?: Record<string, string>;
}

/** An image index in oras-go's field order, as the referrers tag schema stores it. */
export function encodeIndex(index: ImageIndex): Uint8Array {
  const ordered = {
    schemaVersion: index.schemaVersion,
    mediaType: index.mediaType,
    ...(index.artifactType && { artifactType: index.artifactType }),
    manifests: index.manifests.map(orderedDescriptor),
    ...(index.subject && { subject: orderedDescriptor(index.subject) }),
    ...(index.annotations && { annotations: sortedMap(index.annotations) }),
  };
  return new TextEncoder().encode(goEscape(JSON.stringify(ordered)));
}

/** Checks that bytes are an OCI image index: a list of valid descriptors. */
export function parseIndex(bytes: Uint8Array, contentType?: string): ImageIndex {
  const value = decodeObject(bytes);
  const mediaType = typeof value.mediaType === "string" ? value.mediaType : contentType;
  if (mediaType !== MEDIA_TYPE.ociIndex) {
    throw new OciError("invalid-content", `unexpected index media type ${JSON.stringify(mediaType ?? null)}`, {
      reason: "unexpected-media-type",
    });
  }
  if (value.schemaVersion !== 2) throw malformed("schemaVersion is not 2");
  if (!Array.isArray(value.manifests)) throw malformed("manifests is not a list");
  value.manifests.forEach((manifest, i) => checkDescriptor(manifest, `manifests[${i}]`));
  return value as unknown as ImageIndex;
}

export const layerTitle = (layer: Descriptor): string | undefined => layer.annotations?.[TITLE_ANNOTATION];
