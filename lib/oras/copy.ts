// oras cp [flags] <from>{:<tag>|@<digest>} <to>[:<tag>[,<tag>][...]]
import { copyArtifact } from "../oci/artifacts.ts";
import { type Command, NO_TTY_FLAG, parseTarget, remoteFlags, repositoryOf, requireReference, statusLines } from "./command.ts";
import { checkTags, tagAll } from "./push.ts";

export const copy: Command = {
  use: "cp [flags] <from>{:<tag>|@<digest>} <to>[:<tag>[,<tag>][...]]",
  summary: "Copy artifacts from one target to another",
  examples: [
    ["Copy an artifact between registries", "oras cp localhost:5000/net-monitor:v1 localhost:6000/net-monitor-copy:v1"],
    ["Copy an artifact to a new tag in the same repository", "oras cp localhost:5000/net-monitor:v1 localhost:5000/net-monitor:v2"],
    ["Copy an artifact with multiple tags", "oras cp localhost:5000/net-monitor:v1 localhost:6000/net-monitor-copy:tag1,tag2,tag3"],
  ],
  flags: { ...remoteFlags("from-", "source "), ...remoteFlags("to-", "destination "), ...NO_TTY_FLAG },
  args: [2, 2],
  argsHelp: "the source and destination for copying",
  async run(flags, [fromRaw, toRaws], io) {
    const [toRaw, ...extraTags] = toRaws.split(",");
    checkTags(extraTags, "invalid extra tag: ");
    const from = parseTarget(fromRaw);
    const to = parseTarget(toRaw);
    const source = repositoryOf(from, flags, io, "from-");
    const target = repositoryOf(to, flags, io, "to-");
    const reference = requireReference(copy, from);
    // Where the target repository holds the manifest already (always, within one repository),
    // oras copies no node, so prints none: it only tags.
    const sameRepository = source.registry === target.registry && source.name === target.name;
    const there = sameRepository || await target.hasManifest((await source.resolve(reference)).digest);
    // Without a tag or digest on the target, oras keeps the source's.
    const copied = await copyArtifact(source, reference, target, to.reference ?? reference, {
      onStatus: there ? undefined : statusLines(io, { Copying: "Copying", Copied: "Copied ", Exists: "Exists ", Mounted: "Mounted" }),
    });
    io.out(`Copied [registry] ${fromRaw} => [registry] ${toRaw}\n`);
    if (extraTags.length > 0) {
      const { bytes } = await target.fetchManifest(copied.digest);
      await tagAll(target, bytes, copied.mediaType, extraTags, (tag) => io.out(`Tagged ${tag}\n`));
    }
    io.out(`Digest: ${copied.digest}\n`);
    return { digest: copied.digest };
  },
};
