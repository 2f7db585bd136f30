// The trust check of pulled code, in one place: every start of an agent (make run, make upgrade,
// make rollback, make agents RESTART=1) goes through startAgent in lib/step/agents.ts, which takes
// only what checkTrust passed, and nothing is started otherwise.
//
// It checks the unpacked package, so a restart or a rollback checks it again without the registry:
// the manifest hashes to the digest the tag resolved to, and each file to its layer's digest and
// size (the pull checked them too, while streaming; this catches a run directory changed since);
// then the signatures its card carries (A2A 1.0 §8.4) against the trust store, under VERIFY. The
// card is the signed part, as every signed card here, and its signature's protected header names
// the package's code and needs (packageClaim): a signature over the card alone would let anyone who
// can push pair a signed card with code of their own. docs/phase5.md says why not the manifest.
import { readFile } from "node:fs/promises";
import path from "node:path";
import { ContentError } from "../errors.ts";
import { sha256Digest } from "../oci/digest.ts";
import { type ImageManifest, layerTitle } from "../oci/manifest.ts";
import { admits, type CardTrust, describeTrust, type Policy, verifyCard } from "../trust/signatures.ts";
import type { Location, TrustStore } from "../trust/store.ts";
import { MANIFEST_FILE, needsOf, packageClaim, packageLayers } from "./package.ts";

/** An unpacked package, proven: its manifest, its card's bytes, and what its card's signatures came to (none under VERIFY=off). */
export interface Trusted {
  dir: string;
  digest: string;
  manifest: ImageManifest;
  card: Uint8Array;
  signature?: CardTrust;
}

/** Whose signatures count, and where the package was found: the trust store's keys in scope for `where`. */
export interface SignaturePolicy {
  verify: Policy;
  store: TrustStore;
  where: Location;
}

/** A package whose card's signatures the policy does not admit; lib/step/advice.ts says what to do by its `signature`. */
export class UntrustedPackage extends ContentError {
  constructor(message: string, readonly signature: CardTrust, readonly policy: SignaturePolicy) {
    super(message);
  }
}

/**
 * The package unpacked in `dir`, every byte of it proven against `digest` and its card's
 * signatures checked under `policy`; or a ContentError saying what differs (UntrustedPackage for
 * the signatures).
 */
export async function checkTrust(dir: string, digest: string, policy: SignaturePolicy): Promise<Trusted> {
  const refuse = (why: string) =>
    new ContentError(`the unpacked package ${dir}: ${why}; refusing to start it`, "Remove that directory; `make run` pulls the package afresh.");
  const manifestBytes = await readFile(path.join(dir, MANIFEST_FILE)).catch(() => undefined);
  if (!manifestBytes || sha256Digest(manifestBytes) !== digest) throw refuse(`no manifest there hashes to ${digest}`);
  const manifest = JSON.parse(new TextDecoder().decode(manifestBytes)) as ImageManifest;
  const layers = packageLayers(digest, manifest);
  const files = [];
  for (const layer of [layers.card, layers.module]) {
    const bytes = await readFile(path.join(dir, layerTitle(layer)!)).catch(() => undefined);
    if (!bytes || bytes.byteLength !== layer.size || sha256Digest(bytes) !== layer.digest) throw refuse(`${layerTitle(layer)} is not ${layer.digest}`);
    files.push(bytes);
  }
  const trusted: Trusted = { dir, digest, manifest, card: files[0] };
  if (policy.verify === "off") return trusted;
  const card = JSON.parse(new TextDecoder().decode(trusted.card));
  const signature = await verifyCard(card, policy.store, policy.where, packageClaim(layers.module.digest, needsOf(manifest)));
  if (!admits(policy.verify, signature)) {
    const { registry, repository } = policy.where;
    throw new UntrustedPackage(`the card of ${registry}/${repository}@${digest}: ${describeTrust(signature)}; refusing to start it (VERIFY=${policy.verify})`, signature, policy);
  }
  return { ...trusted, signature };
}
