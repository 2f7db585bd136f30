// oras cp [flags] <from>{:<tag>|@<digest>} <to>[:<tag>]
import { copyArtifact } from "../oci/artifacts.ts";
import { parseReference } from "../oci/reference.ts";
import { expectArgs, type OrasIO, parseFlags, registryFor, remoteFlags, statusLines, targetReference } from "./command.ts";

const FLAGS = { ...remoteFlags("from-"), ...remoteFlags("to-") } as const;

export async function copy(argv: string[], io: OrasIO) {
  const { values, positionals } = parseFlags("cp", argv, FLAGS);
  const [fromText, toText] = expectArgs("cp", positionals, ["<from>:<tag>", "<to>:<tag>"]);
  const from = targetReference(fromText);
  const parsedTo = parseReference(toText);
  // Without a tag or digest on the target, oras keeps the source's.
  const to = { ...parsedTo, reference: parsedTo.digest ?? parsedTo.tag ?? from.reference };
  const source = registryFor(from.registry, Boolean(values["from-plain-http"])).repository(from.repository);
  const target = registryFor(to.registry, Boolean(values["to-plain-http"])).repository(to.repository);
  const copied = await copyArtifact(source, from.reference, target, to.reference, {
    onStatus: statusLines(io, { Copying: "Copying", Copied: "Copied ", Exists: "Exists ", Mounted: "Mounted" }),
  });
  io.out(`Copied [registry] ${fromText} => [registry] ${toText}\nDigest: ${copied.digest}\n`);
}
