// oras manifest fetch [--pretty | --descriptor] <name>{:<tag>|@<digest>}
import { UsageError } from "../errors.ts";
import { expectArgs, type OrasIO, parseFlags, registryFor, remoteFlags, targetReference } from "./command.ts";
import { indentJson } from "./json.ts";

const FLAGS = { ...remoteFlags(), pretty: { type: "boolean" }, descriptor: { type: "boolean" } } as const;

export async function manifest([subcommand, ...argv]: string[], io: OrasIO) {
  if (subcommand !== "fetch" && subcommand !== "get") {
    throw new UsageError(`oras manifest: ${JSON.stringify(subcommand ?? "")} is not supported by the built-in client`, "Use `oras manifest fetch <name>:<tag>`.");
  }
  const { values, positionals } = parseFlags("manifest fetch", argv, FLAGS);
  const [text] = expectArgs("manifest fetch", positionals, ["<name>:<tag>"]);
  const target = targetReference(text);
  const repository = registryFor(target.registry, Boolean(values["plain-http"])).repository(target.repository);
  if (values.descriptor) {
    const { descriptor } = await repository.fetchManifest(target.reference);
    io.out(values.pretty ? indentJson(JSON.stringify(descriptor)) + "\n" : JSON.stringify(descriptor));
    return;
  }
  const { bytes } = await repository.fetchManifest(target.reference);
  // oras prints the stored bytes as they are; --pretty only re-indents them.
  const stored = new TextDecoder().decode(bytes);
  io.out(values.pretty ? indentJson(stored) + "\n" : stored);
}
