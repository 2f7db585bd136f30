// oras resolve [flags] <name>{:<tag>|@<digest>}
import { type Command, doing, parseTarget, remoteFlags, repositoryOf, requireReference } from "./command.ts";

export const resolve: Command = {
  use: "resolve [flags] <name>{:<tag>|@<digest>}",
  summary: "[Preview] Resolves digest of the target artifact",
  examples: [
    ["Resolve digest of the target artifact", "oras resolve localhost:5000/hello-world:v1"],
    ["Resolve the full reference with digest of the target artifact", "oras resolve -l localhost:5000/hello-world:v1"],
  ],
  flags: { ...remoteFlags(), "full-reference": { type: "boolean", short: "l", help: "print the full artifact reference with digest" } },
  args: [1, 1],
  argsHelp: "the target artifact reference to resolve",
  async run(flags, [raw], io) {
    const target = parseTarget(raw);
    const { digest } = await doing("failed to resolve digest", repositoryOf(target, flags, io).resolve(requireReference(resolve, target)));
    io.out(flags["full-reference"] ? `${target.path}@${digest}\n` : `${digest}\n`);
    return { digest };
  },
};
