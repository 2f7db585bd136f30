// A Notary Project signature of a card's manifest, for verifiers that know nothing of A2A: a JWS
// envelope (application/jose+json) over {"targetArtifact": <the manifest's descriptor>}, with the
// signer's X.509 chain in `x5c`, attached to the manifest as a referrer of artifact type
// application/vnd.cncf.notary.signature. `notation verify` checks it against its trust policy.
import { createHash, X509Certificate } from "node:crypto";
import { readFile } from "node:fs/promises";
import { UsageError } from "../errors.ts";
import type { Descriptor } from "../oci/manifest.ts";
import type { SigningKey } from "./keys.ts";

export const NOTARY_SIGNATURE_TYPE = "application/vnd.cncf.notary.signature";
export const NOTARY_ENVELOPE_TYPE = "application/jose+json";
const PAYLOAD_TYPE = "application/vnd.cncf.notary.payload.v1+json";
const SIGNING_SCHEME = "io.cncf.notary.signingScheme";
/** The manifest annotation naming the chain: the SHA-256 of each certificate, leaf first, as a JSON list. */
export const THUMBPRINTS_ANNOTATION = "io.cncf.notary.x509chain.thumbprint#S256";

/** The certificates of a PEM file, leaf first and root last, as DER. */
export async function readCertificateChain(chainPath: string): Promise<Uint8Array[]> {
  const text = await readFile(chainPath, "utf8").catch(() => {
    throw new UsageError(`the certificate chain ${chainPath} cannot be read`, "Name a PEM file with CERT=…: the signing certificate first, its CA's last.");
  });
  const blocks = [...text.matchAll(/-----BEGIN CERTIFICATE-----([^-]+)-----END CERTIFICATE-----/g)];
  if (blocks.length === 0) throw new UsageError(`${chainPath} holds no PEM certificate`);
  return blocks.map((block) => Buffer.from(block[1].replace(/\s+/g, ""), "base64"));
}

/**
 * The envelope that signs `target` (a manifest's descriptor) with `signer`, whose certificate
 * begins `chain`, and the annotations its referrer's manifest carries.
 */
export async function notarySignature(
  target: Descriptor,
  signer: SigningKey,
  chain: Uint8Array[],
  signedAt = new Date(),
): Promise<{ envelope: Uint8Array; annotations: Record<string, string> }> {
  // The Notary Project's JWS envelope takes ECDSA and RSASSA-PSS, not EdDSA.
  if (signer.alg !== "ES256") throw new UsageError(`Notary Project signatures take ECDSA keys; ${signer.kid} is an ${signer.alg} key`, "Make an ES256 key with `make keygen` for CERT.");
  const leaf = new X509Certificate(chain[0]).publicKey.export({ format: "jwk" });
  if (leaf.x !== signer.publicJwk.x || leaf.y !== signer.publicJwk.y) {
    throw new UsageError("the first certificate of CERT is not for KEY", "CERT begins with the certificate of KEY's public key, then its CA's.");
  }
  const { FlattenedSign } = await import("jose");
  const payload = { targetArtifact: { mediaType: target.mediaType, digest: target.digest, size: target.size } };
  const jws = await new FlattenedSign(new TextEncoder().encode(JSON.stringify(payload)))
    .setProtectedHeader({
      alg: signer.alg,
      cty: PAYLOAD_TYPE,
      crit: [SIGNING_SCHEME],
      [SIGNING_SCHEME]: "notary.x509",
      "io.cncf.notary.signingTime": signedAt.toISOString().replace(/\.\d{3}Z$/, "Z"),
    })
    .setUnprotectedHeader({ x5c: chain.map((der) => Buffer.from(der).toString("base64")) })
    .sign(signer.key, { crit: { [SIGNING_SCHEME]: true } });
  const thumbprints = chain.map((der) => createHash("sha256").update(der).digest("hex"));
  return {
    envelope: new TextEncoder().encode(JSON.stringify(jws)),
    annotations: { [THUMBPRINTS_ANNOTATION]: JSON.stringify(thumbprints) },
  };
}
