// A Notary Project signature of a card's manifest, checked by `notation verify` itself against a
// trust policy: the signature push attaches with KEY and CERT, found through the referrers tag
// schema on Distribution 2.8, which has no referrers API. make test builds notation with Go
// (tmp/tools/bin/notation); where it could not, these tests are skipped and say so.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { cpSync, existsSync, mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { findOnPath } from "../../lib/executables.ts";
import { hasReferrersApi, listReferrers, referrersTag } from "../../lib/oci/referrers.ts";
import { collect, Registry } from "../../lib/oci/registry.ts";
import { NOTARY_SIGNATURE_TYPE, THUMBPRINTS_ANNOTATION } from "../../lib/trust/notary.ts";
import { step as keygen } from "../../scripts/keygen.ts";
import { step as push } from "../../scripts/push.ts";
import { inProcess, PROJECT_ROOT, run, withRegistry } from "../helpers.ts";

const BUILT = path.join(PROJECT_ROOT, "tmp/tools/bin/notation");
const NOTATION = existsSync(BUILT) ? BUILT : findOnPath("notation");
const SKIP = NOTATION ? false : "notation is neither on PATH nor in tmp/tools/bin: `make test` builds it there with Go, and said why it could not";

/** Runs openssl, failing the test with what it said. */
async function openssl(args: string[], cwd: string) {
  const result = await run("openssl", args, { cwd });
  assert.equal(result.code, 0, `openssl ${args.join(" ")}: ${result.stderr}`);
}

/** A CA (self-signed, for signing certificates) in `dir`/name.pem, with its key. */
const makeCa = (dir: string, name: string) =>
  openssl([
    "req", "-x509", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", `${name}.key`, "-out", `${name}.pem`,
    "-days", "2", "-subj", `/CN=${name}`, "-addext", "basicConstraints=critical,CA:TRUE,pathlen:0", "-addext", "keyUsage=critical,keyCertSign,digitalSignature",
  ], dir);

describe("a Notary Project signature on each pushed manifest", { skip: SKIP }, () => {
  const bench = withRegistry();
  const notation = (config: string, reference: string) =>
    run(NOTATION!, ["verify", "--insecure-registry", reference], { env: { XDG_CONFIG_HOME: config } });
  /** A notation configuration that trusts the CA `ca` for every registry. */
  const trusting = (ca: string) => {
    const config = path.join(bench.work, `notation-${ca}`);
    mkdirSync(path.join(config, "notation/truststore/x509/ca/pallet"), { recursive: true });
    cpSync(path.join(bench.work, `keys/${ca}.pem`), path.join(config, "notation/truststore/x509/ca/pallet", `${ca}.pem`));
    writeFileSync(path.join(config, "notation/trustpolicy.json"), JSON.stringify({
      version: "1.0",
      trustPolicies: [{ name: "pallet", registryScopes: ["*"], signatureVerification: { level: "strict" }, trustStores: ["ca:pallet"], trustedIdentities: ["*"] }],
    }));
    return config;
  };
  let pushed: { agent: string; digest: string; notarySignature?: string }[];

  it("push with KEY and CERT attaches one, signed with the card's key under a certificate from an openssl CA", async () => {
    const keys = path.join(bench.work, "keys");
    const made = await inProcess(keygen, ["--registry", bench.registry.address, "--trust", path.join(keys, "trust.json"), "--key", path.join(keys, "publisher.key.pem")]);
    assert.equal(made.code, 0, made.stderr);
    await makeCa(keys, "ca");
    await makeCa(keys, "other-ca");
    await openssl(["req", "-new", "-key", "publisher.key.pem", "-subj", "/CN=Pallet publisher", "-out", "publisher.csr"], keys);
    writeFileSync(path.join(keys, "leaf.ext"), "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=codeSigning\n");
    await openssl(["x509", "-req", "-in", "publisher.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-days", "2", "-extfile", "leaf.ext", "-out", "publisher.pem"], keys);
    await run("sh", ["-c", "cat publisher.pem ca.pem > publisher.chain.pem"], { cwd: keys });

    cpSync(path.join(PROJECT_ROOT, "fixtures/agent_cards_a2a_1.0"), path.join(bench.work, "cards"), { recursive: true });
    const args = ["--registry", bench.registry.address, "--cards", path.join(bench.work, "cards"), "--agents", "plan", "--json"];
    const result = await inProcess(push, [...args, "--key", path.join(keys, "publisher.key.pem"), "--cert", path.join(keys, "publisher.chain.pem")]);
    assert.equal(result.code, 0, result.stderr);
    pushed = JSON.parse(result.stdout).pushed;
    assert.match(result.stderr, /oras attach --plain-http --artifact-type application\/vnd.cncf.notary.signature --annotation 'io.cncf.notary.x509chain.thumbprint#S256=\["[a-f0-9]{64}","[a-f0-9]{64}"\]' \S+\/agents\/plan@sha256:[a-f0-9]{64} signature.jws:application\/jose\+json/);

    const repository = new Registry(bench.registry.address).repository("agents/plan");
    assert.equal(await hasReferrersApi(repository), false);
    assert.ok((await collect(repository.tags())).includes(referrersTag(pushed[0].digest)));
    const [referrer] = await listReferrers(repository, pushed[0].digest, NOTARY_SIGNATURE_TYPE);
    assert.equal(referrer.digest, pushed[0].notarySignature);
    assert.equal(JSON.parse(referrer.annotations![THUMBPRINTS_ANNOTATION]).length, 2);
  });

  it("notation verify accepts it under a trust policy that trusts the CA, and refuses it under one that trusts another", async () => {
    const reference = `${bench.registry.address}/agents/plan@${pushed[0].digest}`;
    const accepted = await notation(trusting("ca"), reference);
    assert.equal(accepted.code, 0, accepted.stderr);
    assert.match(accepted.stdout, new RegExp(`Successfully verified signature for ${reference}`));
    const refused = await notation(trusting("other-ca"), reference);
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /signature verification failed/i);
  });

  it("notation verify finds no signature on a manifest pushed without CERT", async () => {
    const args = ["--registry", bench.registry.address, "--cards", path.join(bench.work, "cards"), "--agents", "test", "--json"];
    const result = await inProcess(push, args);
    assert.equal(result.code, 0, result.stderr);
    const { digest } = JSON.parse(result.stdout).pushed[0];
    const refused = await notation(trusting("ca"), `${bench.registry.address}/agents/test@${digest}`);
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /no signature is associated with/);
  });
});
