// Trust: a key pair to sign agent cards with (the private key for you alone, the public key as a
// JWKS for whoever checks your cards), trusted on this machine for SCOPE. Run again with a key
// that exists, it keeps that key and trusts it for SCOPE as well.
import { existsSync } from "node:fs";
import { UsageError } from "../lib/errors.ts";
import { existingKeyFiles, generateKeyFiles, KEY_ALGORITHMS, type KeyAlgorithm } from "../lib/trust/keys.ts";
import { parseScope, scopeText, trustKeys } from "../lib/trust/store.ts";
import { isMain, main, type Step } from "../lib/step/run.ts";

export const step: Step = {
  name: "keygen",
  section: "Trust: Make a Signing Key",
  runs: "openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out KEY (ALG=EdDSA: -algorithm ED25519), and its public key as a JWKS beside it",
  options: ["registry", "trust"],
  flags: {
    key: { type: "string", env: "KEY", help: "where the private key goes (default keys/publisher.key.pem); its JWKS goes beside it" },
    alg: { type: "string", env: "ALG", help: "ES256 (default) or EdDSA" },
    scope: { type: "string", env: "SCOPE", help: "what TRUST_STORE trusts it for: a registry, a repository prefix or https://<provider> (default REGISTRY)" },
  },
  example: "make keygen KEY=keys/publisher.key.pem",
  async body({ options, flags, out }) {
    const keyPath = (flags.key as string | undefined) ?? "keys/publisher.key.pem";
    const asked = flags.alg as KeyAlgorithm | undefined;
    if (asked !== undefined && !KEY_ALGORITHMS.includes(asked)) throw new UsageError(`invalid ALG ${JSON.stringify(asked)}: keys are ES256 or EdDSA`);
    const scope = parseScope((flags.scope as string | undefined) ?? options.registry);
    // A key made before is kept and trusted for this scope too: one key may sign for several registries.
    const made = !existsSync(keyPath);
    const { jwksPath, kid, alg } = made ? { ...await generateKeyFiles(keyPath, asked ?? "ES256"), alg: asked ?? "ES256" } : await existingKeyFiles(keyPath);
    if (asked !== undefined && asked !== alg) {
      throw new UsageError(`${keyPath} holds an ${alg} key already, not ${asked}; a key is never overwritten`, "Name another file with KEY=…, or leave ALG out to use that key.");
    }
    out.ok(made ? `private key ${keyPath} (${alg}, readable by you alone): sign with it, never share it` : `private key ${keyPath} (${alg}) made before: kept as it is`);
    out.ok(`public key ${jwksPath}, kid ${kid}: give it to whoever checks your cards`);
    const added = await trustKeys(options.trustStore, jwksPath, scope);
    out.ok(`${options.trustStore} ${added ? "now trusts" : "trusted"} it for ${scopeText(scope)}`);
    if (options.json) out.json({ key: keyPath, jwks: jwksPath, kid, alg, trusted: { store: options.trustStore, for: scopeText(scope) } });
  },
};

if (isMain(import.meta)) await main(step);
