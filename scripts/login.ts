// make login: checks a user name and password against REGISTRY, then stores them where
// `oras login` would (the Docker config's credential helper, or its auths), for every later step.
import { UsageError } from "../lib/errors.ts";
import { env } from "../lib/env.ts";
import { credentialStoreOf } from "../lib/oci/credentials.ts";
import { isMain, main, type Step } from "../lib/step/run.ts";

/** Standard input, whole: a password piped in (`printf '%s' "$TOKEN" | make login …`). */
async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(Buffer.from(chunk));
  return Buffer.concat(chunks).toString("utf8");
}

/** Asks on the terminal without echoing what is typed, as oras login does. */
async function promptHidden(prompt: string): Promise<string> {
  process.stderr.write(prompt);
  process.stdin.setRawMode(true);
  let typed = "";
  try {
    for await (const chunk of process.stdin) {
      for (const char of Buffer.from(chunk).toString("utf8")) {
        if (char === "\r" || char === "\n") return typed;
        if (char === "\u0003") throw new UsageError("login cancelled");
        typed = char === "\u007f" ? typed.slice(0, -1) : typed + char;
      }
    }
    return typed;
  } finally {
    process.stdin.setRawMode(false);
    process.stdin.pause();
    process.stderr.write("\n");
  }
}

export const step: Step = {
  name: "login",
  section: "Log in to a registry",
  runs: "oras login -u REGISTRY_USERNAME --password-stdin REGISTRY",
  usage: "--username USER ",
  options: ["registry", "username"],
  example: "printf '%s' \"$TOKEN\" | make login REGISTRY=registry.example:5000 REGISTRY_USERNAME=me",
  async body({ options, remote, out, orasIn }) {
    const username = options.username;
    if (!username) {
      throw new UsageError("make login needs a user name", "Set REGISTRY_USERNAME=<user> (or --username); the password comes from stdin or REGISTRY_PASSWORD.");
    }
    const password = env.registryPassword ?? (process.stdin.isTTY ? await promptHidden("Password: ") : await readStdin());
    const oras = orasIn(undefined, { stdin: password });
    await oras`login ${remote} --username ${username} --password-stdin ${options.registry}`;
    const storedIn = await credentialStoreOf(options.registry);
    out.ok(`the credentials of ${username} for ${options.registry} are in ${storedIn}`);
    if (options.json) out.json({ registry: options.registry, username, storedIn });
  },
};

if (isMain(import.meta)) await main(step);
