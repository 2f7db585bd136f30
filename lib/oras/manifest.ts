// oras manifest fetch [flags] <name>{:<tag>|@<digest>}
import { writeFile } from "node:fs/promises";
import path from "node:path";
import { UsageError } from "../errors.ts";
import { type Descriptor, goEscape } from "../oci/manifest.ts";
import { type Command, describe, doing, parseTarget, printJson, remoteFlags, repositoryOf, requireReference, sortKeys } from "./command.ts";
import { indentJson } from "./json.ts";

export const manifestFetch: Command = {
  use: "manifest fetch [flags] <name>{:<tag>|@<digest>}",
  summary: "Fetch manifest of the target artifact",
  examples: [
    ["Fetch raw manifest from a registry", "oras manifest fetch localhost:5000/hello:v1"],
    ["Fetch the descriptor of a manifest from a registry", "oras manifest fetch --descriptor localhost:5000/hello:v1"],
    ["Fetch manifest from a registry with prettified json result", "oras manifest fetch --pretty localhost:5000/hello:v1"],
    ["Fetch manifest and output metadata encoded in JSON", "oras manifest fetch localhost:5000/hello:v1 --format json"],
    ['Fetch manifest into the file "manifest.json"', "oras manifest fetch localhost:5000/hello:v1 -o manifest.json"],
  ],
  flags: {
    ...remoteFlags(),
    descriptor: { type: "boolean", help: "output the descriptor" },
    pretty: { type: "boolean", help: "prettify JSON objects printed to stdout" },
    output: { type: "string", short: "o", value: "path", help: "file `path` to write the fetched manifest to, use - for stdout" },
  },
  formats: ["text", "json"],
  exclusive: [["format", "pretty"], ["format", "descriptor"]],
  args: [1, 1],
  argsHelp: "the manifest to fetch",
  async run(flags, [raw], io) {
    const output = flags.output as string | undefined;
    if (output === "-" && flags.descriptor) throw new UsageError("`--descriptor` cannot be used with `--output -` at the same time");
    if (output === "-" && flags.format !== "text") throw new UsageError("`--output -` cannot be used with `--format json` at the same time");
    const target = parseTarget(raw);
    const reference = requireReference(manifestFetch, target);
    const repository = repositoryOf(target, flags, io);
    const pretty = (json: string) => (flags.pretty ? indentJson(json) + "\n" : json);
    const printDescriptor = ({ mediaType, digest, size }: Descriptor) => io.out(pretty(goEscape(JSON.stringify({ mediaType, digest, size }))));
    const toFile = output !== undefined && output !== "-";
    // For the descriptor alone oras only resolves: what a HEAD answers.
    if (flags.descriptor && !toFile) return printDescriptor(await repository.resolve(reference));
    const { descriptor, bytes } = await doing(`failed to fetch the content of ${JSON.stringify(raw)}`, repository.fetchManifest(reference));
    // The stored bytes as they are: --pretty only re-indents them, and a file gets them untouched.
    const stored = new TextDecoder().decode(bytes);
    if (toFile) {
      await writeFile(path.resolve(io.cwd, output), bytes).catch((error: Error) => {
        throw new UsageError(`failed to open ${JSON.stringify(output)}: ${error.message}`);
      });
    }
    if (flags.format === "json") {
      let content: unknown = null;
      try {
        content = sortKeys(JSON.parse(stored));
      } catch {
        // oras prints null content for bytes that are not JSON.
      }
      printJson(io, { ...describe(target.path, descriptor), content });
    } else if (flags.descriptor) {
      printDescriptor(descriptor);
    } else if (!toFile) {
      io.out(pretty(stored));
    }
    return { digest: descriptor.digest, content: bytes };
  },
};
