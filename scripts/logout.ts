// make logout: erases REGISTRY's credentials from where `oras login` stored them.
import { credentialStoreOf, dockerCredential } from "../lib/oci/credentials.ts";
import { isMain, main, type Step } from "../lib/step/run.ts";

export const step: Step = {
  name: "logout",
  section: "Log out from a registry",
  runs: "oras logout REGISTRY",
  options: ["registry"],
  example: "make logout REGISTRY=registry.example:5000",
  async body({ options, out, oras }) {
    const storedIn = await credentialStoreOf(options.registry);
    const stored = await dockerCredential(options.registry) !== undefined;
    await oras`logout ${options.registry}`;
    if (stored) out.ok(`removed the credentials for ${options.registry} from ${storedIn}`);
    else out.note(`no credentials for ${options.registry} were stored in ${storedIn}; nothing to remove`);
    if (options.json) out.json({ registry: options.registry, removed: stored, storedIn });
  },
};

if (isMain(import.meta)) await main(step);
