// make logout: erases REGISTRY's credentials from where `oras login` stored them.
import { credentialStoreOf, dockerCredential } from "../lib/oci/credentials.ts";
import { oras } from "../lib/step/oras.ts";
import { printJson, say } from "../lib/step/output.ts";
import { runStep } from "../lib/step/run.ts";

await runStep({
  name: "logout",
  section: "Log out from a registry",
  runs: "oras logout REGISTRY",
  options: ["registry"],
  example: "make logout REGISTRY=registry.example:5000",
}, async ({ options }) => {
  const storedIn = await credentialStoreOf(options.registry);
  const stored = await dockerCredential(options.registry) !== undefined;
  await oras`logout ${options.registry}`;
  if (stored) say.ok(`removed the credentials for ${options.registry} from ${storedIn}`);
  else say.note(`no credentials for ${options.registry} were stored in ${storedIn}; nothing to remove`);
  if (options.json) printJson({ registry: options.registry, removed: stored, storedIn });
});
