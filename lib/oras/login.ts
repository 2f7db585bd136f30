// oras login -u <username> --password-stdin <registry> | oras logout <registry>
// Credentials go where oras keeps them: the Docker config's credHelpers, credsStore or auths.
import { UsageError } from "../errors.ts";
import { eraseCredential, storeCredential } from "../oci/credentials.ts";
import { isValidRegistry, withoutUserinfo } from "../oci/reference.ts";
import { type Command, registryOf, remoteFlags } from "./command.ts";

function registryArgument(text: string): string {
  if (!isValidRegistry(text)) throw new UsageError(`invalid registry ${JSON.stringify(withoutUserinfo(text))}: expected host[:port], e.g. localhost:5000`);
  return text;
}

export const loginCommand: Command = {
  use: "login [flags] <registry>",
  summary: "Log in to a remote registry",
  examples: [["Log in with username and password from stdin", "oras login -u username --password-stdin localhost:5000"]],
  flags: remoteFlags(),
  args: [1, 1],
  argsHelp: "the registry to log in to",
  async run(flags, [host], io) {
    const registry = registryArgument(host);
    const [username, password] = [flags.username as string | undefined, flags.password as string | undefined];
    if (username === undefined || password === undefined) {
      // oras would prompt on a terminal; this client runs inside scripts and never prompts.
      throw new UsageError(
        "oras login: give --username and --password-stdin (the built-in client does not prompt)",
        `e.g. printf '%s' "$PASSWORD" | oras login -u USER --password-stdin ${registry}`,
      );
    }
    // As oras-go's credentials.Login: the registry must accept them before they are kept.
    await registryOf(registry, flags, io).ping();
    await storeCredential(registry, { username, password });
    io.out("Login Succeeded\n");
  },
};

export const logoutCommand: Command = {
  use: "logout [flags] <registry>",
  summary: "Log out from a remote registry",
  examples: [["Log out from a registry", "oras logout localhost:5000"]],
  flags: {},
  args: [1, 1],
  argsHelp: "the registry you want to log out",
  // oras logout prints nothing, whether or not something was stored.
  async run(_flags, [host]) {
    await eraseCredential(registryArgument(host));
  },
};
