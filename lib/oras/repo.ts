// oras repo ls [flags] <registry>[/<namespace>]   and   oras repo tags [flags] <name>[{:<tag>|@<digest>}]
import { UsageError } from "../errors.ts";
import { DIGEST_PATTERN } from "../oci/digest.ts";
import { isValidRegistry, parseReference, withoutUserinfo } from "../oci/reference.ts";
import { type Command, type Flag, type OrasIO, parseTarget, printJson, registryOf, remoteFlags, repositoryOf } from "./command.ts";

const lastFlag = (what: string): Flag => ({ type: "string", value: "string", help: `start after the ${what} specified by \`last\`` });

/** Prints names one per line as the pages come, or collects them for JSON. */
async function list(pages: AsyncIterable<string[]>, keep: (name: string) => boolean | Promise<boolean>, text: boolean, io: OrasIO, shown = (name: string) => name) {
  const names: string[] = [];
  for await (const page of pages) {
    for (const name of page) {
      if (!(await keep(name))) continue;
      if (text) io.out(`${shown(name)}\n`);
      names.push(name);
    }
  }
  return names;
}

export const repoLs: Command = {
  use: "repo ls [flags] <registry>",
  summary: "List the repositories under the registry",
  examples: [
    ["List the repositories under the registry", "oras repo ls localhost:5000"],
    ["List the repositories under a namespace in the registry", "oras repo ls localhost:5000/agents"],
    ["List the repositories under the registry in JSON format", "oras repo ls localhost:5000 --format json"],
  ],
  flags: { ...remoteFlags(), last: lastFlag("repository") },
  formats: ["text", "json"],
  args: [1, 1],
  argsHelp: "the target registry to list repositories from",
  async run(flags, [raw], io) {
    const format = flags.format;
    const trimmed = raw.replace(/\/$/, "");
    let host = trimmed;
    let namespace = "";
    if (trimmed.includes("/")) {
      const ref = parseReference(trimmed);
      if (ref.tag || ref.digest) throw new UsageError("could not parse repository path: tags or digests should not be provided");
      host = ref.registry;
      namespace = `${ref.repository}/`;
    } else if (!isValidRegistry(host)) {
      throw new UsageError(`could not parse repository path: invalid registry ${JSON.stringify(withoutUserinfo(host))}`);
    }
    const last = flags.last as string | undefined;
    // The catalog is sorted, so `--last` keeps what sorts after it, as the registry would.
    const repositories = await list(
      registryOf(host, flags, io).catalog(),
      (name) => name.startsWith(namespace) && (last === undefined || name > last),
      format === "text",
      io,
      (name) => name.slice(namespace.length),
    );
    if (format === "json") printJson(io, { registry: host, repositories });
    return { names: repositories.map((name) => name.slice(namespace.length)) };
  },
};

/** oras's test for tags such as `sha256-<hex>`: a digest with its colon replaced. */
const isDigestTag = (tag: string) => DIGEST_PATTERN.test(tag.replace("-", ":"));

export const repoTags: Command = {
  use: "repo tags [flags] <name>",
  summary: "Show tags of the target repository",
  examples: [
    ["Show tags of the target repository", "oras repo tags localhost:5000/hello"],
    ["Show tags in the target repository with digest-like tags hidden", "oras repo tags --exclude-digest-tags localhost:5000/hello"],
    ["Show tags associated with a particular tagged resource", "oras repo tags localhost:5000/hello:latest"],
    ["Show tags of the target repository in JSON format", "oras repo tags localhost:5000/hello --format json"],
  ],
  flags: {
    ...remoteFlags(),
    last: lastFlag("tag"),
    "exclude-digest-tags": { type: "boolean", help: "[Preview] exclude all digest-like tags such as 'sha256-aaaa...'" },
  },
  formats: ["text", "json"],
  args: [1, 1],
  argsHelp: "the target repository to list tags from",
  async run(flags, [raw], io) {
    const format = flags.format;
    const target = parseTarget(raw);
    const repository = repositoryOf(target, flags, io);
    let digest: string | undefined;
    if (target.reference) {
      digest = target.digest ?? (await repository.resolve(target.reference)).digest;
      io.err?.(`[Experimental] querying tags associated to ${digest}, it may take a while...\n`);
    }
    const last = flags.last as string | undefined;
    const tags = await list(repository.tags(), async (tag) => {
      if (last !== undefined && tag <= last) return false;
      if (flags["exclude-digest-tags"] && isDigestTag(tag)) return false;
      if (!digest || tag === target.reference) return true;
      return (await repository.resolve(tag)).digest === digest;
    }, format === "text", io);
    if (format === "json") printJson(io, { tags });
    return { names: tags };
  },
};
