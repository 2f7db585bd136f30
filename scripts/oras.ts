#!/usr/bin/env -S deno run -A --quiet
// The oras command without oras: `scripts/oras.ts push …` takes oras 1.3's argv and prints what
// oras prints, done by the project's built-in OCI client. `make oras ARGS='repo ls localhost:5000'`
// and the package's `oras-lite` bin run it too.
//
// Like oras, every failure prints `Error: …` (`Error response from registry: …` for the
// registry's refusals) on stderr and exits 1, usage errors included.
import { text } from "node:stream/consumers";
import { env } from "../lib/env.ts";
import { Clients } from "../lib/oci/client.ts";
import { errorText, runOras } from "../lib/oras/main.ts";
import { splitWords } from "../lib/oras/words.ts";

try {
  const given = process.argv.slice(2);
  const argv = given.length > 0 ? given : splitWords(env.orasArgs ?? "");
  // HELP=1 (make oras HELP=1) asks for the help of the command given, or of oras itself.
  await runOras(env.boolean("HELP") ? [...argv, "--help"] : argv, {
    cwd: process.cwd(),
    out: (output) => process.stdout.write(output),
    err: (output) => process.stderr.write(output),
    stdin: () => text(process.stdin),
    clients: new Clients(env.registryTimeoutMs),
  });
} catch (error) {
  process.stderr.write(errorText(error));
  process.exitCode = 1;
}
