// oras repo ls <registry> | oras repo tags <name>
import { UsageError } from "../errors.ts";
import { parseReference } from "../oci/reference.ts";
import { expectArgs, outputFormat, type OrasIO, parseFlags, printJson, registryFor, remoteFlags } from "./command.ts";

const FLAGS = { ...remoteFlags(), format: { type: "string" } } as const;

export async function repo([subcommand, ...argv]: string[], io: OrasIO) {
  if (subcommand === "ls" || subcommand === "list") return await list(argv, io);
  if (subcommand === "tags" || subcommand === "show-tags") return await tags(argv, io);
  throw new UsageError(`oras repo: unknown command ${JSON.stringify(subcommand ?? "")}`, "Use `oras repo ls <registry>` or `oras repo tags <name>`.");
}

async function list(argv: string[], io: OrasIO) {
  const { values, positionals } = parseFlags("repo ls", argv, FLAGS);
  const format = outputFormat("repo ls", values.format);
  const [host] = expectArgs("repo ls", positionals, ["<registry>"]);
  const repositories: string[] = [];
  for await (const page of registryFor(host, Boolean(values["plain-http"])).catalog()) {
    if (format === "text") for (const repository of page) io.out(`${repository}\n`);
    repositories.push(...page);
  }
  if (format === "json") printJson(io, { registry: host, repositories });
}

async function tags(argv: string[], io: OrasIO) {
  const { values, positionals } = parseFlags("repo tags", argv, FLAGS);
  const format = outputFormat("repo tags", values.format);
  const [text] = expectArgs("repo tags", positionals, ["<name>"]);
  const ref = parseReference(text);
  const found: string[] = [];
  for await (const page of registryFor(ref.registry, Boolean(values["plain-http"])).repository(ref.repository).tags()) {
    if (format === "text") for (const tag of page) io.out(`${tag}\n`);
    found.push(...page);
  }
  if (format === "json") printJson(io, { tags: found });
}
