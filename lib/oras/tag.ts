// oras tag [flags] <name>{:<tag>|@<digest>} <new_tag> [...]
import { argumentCountError, type Command, parseTarget, remoteFlags, repositoryOf, requireReference, usageError } from "./command.ts";
import { checkTags, tagAll } from "./push.ts";

export const tag: Command = {
  use: "tag [flags] <name>{:<tag>|@<digest>} <new_tag> [...]",
  summary: "Tag a manifest in a registry",
  examples: [
    ["Tag the manifest 'v1.0.1' in 'localhost:5000/hello' to 'v1.0.2'", "oras tag localhost:5000/hello:v1.0.1 v1.0.2"],
    ["Tag the manifest 'v1.0.1' in 'localhost:5000/hello' to 'v1.0.2' and 'latest'", "oras tag localhost:5000/hello:v1.0.1 v1.0.2 latest"],
  ],
  flags: remoteFlags(),
  args: [1, Infinity],
  argsHelp: "the artifact to be retagged and the tags to be added",
  async run(flags, [raw, ...tags], io) {
    if (raw === "list" || raw === "ls") {
      throw usageError(tag, `there is no "list" sub-command for "oras tag" command`, `If you want to list available tags in a repository, use "oras repo tags"`);
    }
    if (tags.length === 0) throw argumentCountError(tag, 2, Infinity, 1);
    const target = parseTarget(raw);
    const reference = requireReference(tag, target);
    checkTags(tags);
    const repository = repositoryOf(target, flags, io);
    const { descriptor, bytes } = await repository.fetchManifest(reference);
    io.out(`Tagging [registry] ${target.path}@${descriptor.digest}\n`);
    await tagAll(repository, bytes, descriptor.mediaType, tags, (tag) => io.out(`Tagged ${tag}\n`));
    return { digest: descriptor.digest };
  },
};
