// oras attach [flags] --artifact-type=<type> <name>{:<tag>|@<digest>} {<file>[:<type>]|--annotation <key>=<value>} [...]
import { UsageError } from "../errors.ts";
import { attachArtifact } from "../oci/referrers.ts";
import { type Command, describe, NO_TTY_FLAG, parseTarget, printJson, remoteFlags, repositoryOf, requireReference, usageError } from "./command.ts";
import { loadLayers, PACKER_FLAGS, parseAnnotations } from "./files.ts";
import { pushStatus } from "./push.ts";

export const attach: Command = {
  use: "attach [flags] --artifact-type=<type> <name>{:<tag>|@<digest>} {<file>[:<layer_media_type>]|--annotation <key>=<value>} [...]",
  summary: "Attach files to an existing artifact",
  examples: [
    ["Attach file 'hi.txt' with artifact type 'doc/example' to manifest 'hello:v1' in registry 'localhost:5000'", "oras attach --artifact-type doc/example localhost:5000/hello:v1 hi.txt"],
    ["Attach file 'hi.txt' with the custom layer media type 'application/vnd.me.hi'", "oras attach --artifact-type doc/example localhost:5000/hello:v1 hi.txt:application/vnd.me.hi"],
    ["Attach an artifact with manifest annotations only", 'oras attach --artifact-type doc/example --annotation "key1=val1" localhost:5000/hello:v1'],
    ["Attach file 'hi.txt' and format output in JSON", "oras attach --artifact-type doc/example localhost:5000/hello:v1 hi.txt --format json"],
  ],
  flags: {
    ...remoteFlags(),
    ...NO_TTY_FLAG,
    ...PACKER_FLAGS,
    "artifact-type": { type: "string", value: "string", help: "artifact type (required)" },
  },
  formats: ["text", "json"],
  args: [1, Infinity],
  argsHelp: "the destination artifact for attaching",
  async run(flags, [raw, ...files], io) {
    const artifactType = flags["artifact-type"] as string | undefined;
    if (!artifactType) throw new UsageError(`required flag(s) "artifact-type" not set`);
    const target = parseTarget(raw);
    const reference = requireReference(attach, target);
    const annotations = parseAnnotations(flags.annotation as string[] | undefined);
    if (files.length === 0 && Object.keys(annotations).length === 0) {
      throw usageError(
        attach,
        "neither file nor annotation provided in the command",
        `To attach to an existing artifact, please provide files via argument or annotations via flag "--annotation". Run "oras attach -h" for more options and examples`,
      );
    }
    const text = flags.format === "text";
    const layers = await loadLayers(files, flags, io);
    const attached = await attachArtifact(repositoryOf(target, flags, io), reference, layers, {
      artifactType,
      annotations,
      onStatus: text ? pushStatus(io) : undefined,
    });
    if (text) {
      // The subject as typed when it named the digest, else by its digest.
      const subject = raw.endsWith(attached.subject.digest) ? raw : `${target.path}@${attached.subject.digest}`;
      io.out(`Attached to [registry] ${subject}\nDigest: ${attached.descriptor.digest}\n`);
    } else {
      printJson(io, describe(target.path, attached.referrer));
    }
    return { digest: attached.descriptor.digest };
  },
};
