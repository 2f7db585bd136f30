// Trust: a key pair to sign agent cards with (the private key for you alone, the public key as a
// JWKS for whoever checks your cards), trusted on this machine for SCOPE.
import { UsageError } from "../lib/errors.ts";
import { generateKeyFiles, KEY_ALGORITHMS, type KeyAlgorithm } from "../lib/trust/keys.ts";
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
    const alg = ((flags.alg as string | undefined) ?? "ES256") as KeyAlgorithm;
    if (!KEY_ALGORITHMS.includes(alg)) throw new UsageError(`invalid ALG ${JSON.stringify(alg)}: keys are ES256 or EdDSA`);
    const scope = parseScope((flags.scope as string | undefined) ?? options.registry);
    const { jwksPath, kid } = await generateKeyFiles(keyPath, alg);
    out.ok(`private key ${keyPath} (${alg}, readable by you alone): sign with it, never share it`);
    out.ok(`public key ${jwksPath}, kid ${kid}: give it to whoever checks your cards`);
    const added = await trustKeys(options.trustStore, jwksPath, scope);
    out.ok(`${options.trustStore} ${added ? "now trusts" : "trusted"} it for ${scopeText(scope)}`);
    if (options.json) out.json({ key: keyPath, jwks: jwksPath, kid, alg, trusted: { store: options.trustStore, for: scopeText(scope) } });
  },
};

if (isMain(import.meta)) await main(step);
