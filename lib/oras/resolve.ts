// oras resolve <name>:<tag>
import { expectArgs, type OrasIO, parseFlags, registryFor, remoteFlags, targetReference } from "./command.ts";

export async function resolve(argv: string[], io: OrasIO) {
  const { values, positionals } = parseFlags("resolve", argv, { ...remoteFlags(), "full-reference": { type: "boolean", short: "l" } });
  const [text] = expectArgs("resolve", positionals, ["<name>:<tag>"]);
  const target = targetReference(text);
  const { digest } = await registryFor(target.registry, Boolean(values["plain-http"])).repository(target.repository).resolve(target.reference);
  io.out(values["full-reference"] ? `${target.registry}/${target.repository}@${digest}\n` : `${digest}\n`);
}
