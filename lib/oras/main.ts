// The oras CLI's commands, done by the built-in OCI client: the same argv, the same output.
import { UsageError } from "../errors.ts";
import type { OrasIO } from "./command.ts";
import { copy } from "./copy.ts";
import { manifest } from "./manifest.ts";
import { pull } from "./pull.ts";
import { push } from "./push.ts";
import { repo } from "./repo.ts";
import { resolve } from "./resolve.ts";

const COMMANDS: Record<string, (argv: string[], io: OrasIO) => Promise<void>> = {
  push,
  pull,
  repo,
  manifest,
  resolve,
  cp: copy,
  copy,
};

export async function runOras([command, ...argv]: string[], io: OrasIO): Promise<void> {
  const run = COMMANDS[command ?? ""];
  if (!run) {
    throw new UsageError(
      `oras: unknown command ${JSON.stringify(command ?? "")} for the built-in client`,
      `It runs: ${Object.keys(COMMANDS).join(", ")}.`,
    );
  }
  await run(argv, io);
}
