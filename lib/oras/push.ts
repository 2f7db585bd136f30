// oras push [flags] <name>[:<tag>[,<tag>][...]] <file>[:<type>] [...]
import { type OnStatus, pushArtifact } from "../oci/artifacts.ts";
import { DEFAULT_ARTIFACT_TYPE, MEDIA_TYPE } from "../oci/manifest.ts";
import type { Repository } from "../oci/registry.ts";
import { TAG_PATTERN } from "../oci/reference.ts";
import { UsageError } from "../errors.ts";
import {
  type Command,
  describe,
  NO_TTY_FLAG,
  type OrasIO,
  parseTarget,
  printJson,
  remoteFlags,
  repositoryOf,
  statusLines,
} from "./command.ts";
import { loadLayers, PACKER_FLAGS, parseAnnotations } from "./files.ts";

/** Checked before anything is sent, so a bad tag leaves nothing half-done; `what` is oras's word for them. */
export function checkTags(tags: string[], what = ""): void {
  const bad = tags.find((tag) => !TAG_PATTERN.test(tag));
  if (bad !== undefined) throw new UsageError(`${what}invalid reference: invalid tag ${JSON.stringify(bad)}`);
}

/** Puts an existing manifest under more tags, one by one, so `Tagged <tag>` lines come in order. */
export async function tagAll(repository: Repository, bytes: Uint8Array, mediaType: string, tags: string[], onTagged: (tag: string) => void) {
  for (const tag of tags) {
    await repository.pushManifest(tag, bytes, mediaType);
    onTagged(tag);
  }
}

/** Push and attach print the same status lines; a manifest the registry already had gets none. */
export const pushStatus = (io: OrasIO): OnStatus => {
  const lines = statusLines(io, { Uploading: "Uploading", Uploaded: "Uploaded ", Exists: "Exists   ", Mounted: "Exists   " });
  return (status, descriptor) => {
    if (!(status === "Exists" && descriptor.mediaType === MEDIA_TYPE.ociManifest)) lines(status, descriptor);
  };
};

export const push: Command = {
  use: "push [flags] <name>[:<tag>[,<tag>][...]] <file>[:<type>] [...]",
  summary: "Push files to a registry",
  examples: [
    ['Push file "hi.txt" with media type "application/vnd.oci.image.layer.v1.tar" (default)', "oras push localhost:5000/hello:v1 hi.txt"],
    ['Push file "hi.txt" with the custom media type "application/vnd.me.hi"', "oras push localhost:5000/hello:v1 hi.txt:application/vnd.me.hi"],
    ['Push file "hi.txt" with artifact type "application/vnd.example+type"', "oras push --artifact-type application/vnd.example+type localhost:5000/hello:v1 hi.txt"],
    ["Push with a fixed creation time, for a reproducible digest", "oras push --annotation org.opencontainers.image.created=2025-06-05T04:26:57Z localhost:5000/hello:v1 hi.txt"],
    ['Push file "hi.txt" with multiple tags', "oras push localhost:5000/hello:tag1,tag2,tag3 hi.txt"],
    ['Push file "hi.txt" and format output in JSON', "oras push localhost:5000/hello:v1 hi.txt --format json"],
  ],
  flags: {
    ...remoteFlags(),
    ...NO_TTY_FLAG,
    ...PACKER_FLAGS,
    "artifact-type": { type: "string", value: "string", help: "artifact type" },
  },
  formats: ["text", "json"],
  args: [1, Infinity],
  argsHelp: "the destination for pushing as <name>[:<tag>[,<tag>][...]]",
  async run(flags, [references, ...files], io) {
    const [raw, ...extraTags] = references.split(",");
    const target = parseTarget(raw);
    checkTags(extraTags, "invalid extra tag: ");
    const annotations = parseAnnotations(flags.annotation as string[] | undefined);
    const text = flags.format === "text";
    const layers = await loadLayers(files, flags, io);
    const repository = repositoryOf(target, flags, io);
    const pushed = await pushArtifact(repository, target.reference, layers, {
      artifactType: (flags["artifact-type"] as string | undefined) ?? DEFAULT_ARTIFACT_TYPE,
      annotations,
      onStatus: text ? pushStatus(io) : undefined,
    });
    const { manifest } = pushed;
    if (text) io.out(`Pushed [registry] ${raw}\n`);
    const tagged: string[] = target.tag ? [target.tag] : [];
    await tagAll(repository, pushed.bytes, pushed.descriptor.mediaType, extraTags, (tag) => {
      tagged.push(tag);
      if (text) io.out(`Tagged ${tag}\n`);
    });
    if (text) {
      io.out(`ArtifactType: ${manifest.artifactType}\nDigest: ${pushed.descriptor.digest}\n`);
    } else {
      printJson(io, {
        ...describe(target.path, { ...pushed.descriptor, annotations: manifest.annotations, artifactType: manifest.artifactType }),
        // Go encodes oras's empty list of tags as null.
        referenceAsTags: tagged.length > 0 ? tagged.map((tag) => `${target.path}:${tag}`) : null,
      });
    }
    return { digest: pushed.descriptor.digest };
  },
};
