// Verified status kept in the registry itself: after `verify` proves a card's manifest intact, a
// small JSON record of what was checked is attached to that manifest as a referrer (its
// `subject`), the way `oras attach` attaches signatures and SBOMs. Anyone who can push can attach
// one, so a record counts only when it is signed by a key of the verifier's trust store, names
// the exact digest shown, and lists the checks it passed.
import { readFile } from "node:fs/promises";
import { fetchImageManifest } from "./oci/artifacts.ts";
import { sha256Digest } from "./oci/digest.ts";
import { OciError } from "./oci/errors.ts";
import { listReferrers } from "./oci/referrers.ts";
import type { Repository } from "./oci/registry.ts";
import { readLimited } from "./oci/transport.ts";
import { describeTrust, verifyDocument } from "./trust/signatures.ts";
import type { TrustStore } from "./trust/store.ts";

/** The artifact type of a verification record, so that `oras discover --artifact-type` finds them. */
export const VERIFICATION_TYPE = "application/vnd.pallet.verification.v1+json";

/** Records are a few hundred bytes; anything far larger is not one of ours. */
const MAX_RECORD_BYTES = 64 * 1024;

export interface VerificationRecord {
  /** The manifest verified: its reference as verified, and its digest. */
  subject: { reference: string; digest: string };
  checks: { name: string; ok: boolean; detail: string }[];
  result: "passed" | "failed";
  /** When, as RFC 3339 UTC. */
  verifiedAt: string;
  tool: { name: string; version: string };
}

export async function verificationRecord(
  subject: VerificationRecord["subject"],
  checks: VerificationRecord["checks"],
  now = new Date(),
): Promise<VerificationRecord> {
  const { name, version } = JSON.parse(await readFile(new URL("../package.json", import.meta.url), "utf8"));
  return {
    subject,
    checks,
    result: checks.every((check) => check.ok) ? "passed" : "failed",
    verifiedAt: now.toISOString().replace(/\.\d{3}Z$/, "Z"),
    tool: { name, version },
  };
}

/** The record a referrer holds, if it is a well-formed one about `digest`; undefined otherwise. */
async function recordAbout(repository: Repository, referrer: string, digest: string): Promise<VerificationRecord | undefined> {
  try {
    const { manifest } = await fetchImageManifest(repository, referrer);
    const layer = manifest.layers.find((candidate) => candidate.mediaType === "application/json");
    if (manifest.subject?.digest !== digest || manifest.artifactType !== VERIFICATION_TYPE || !layer) return undefined;
    const bytes = await readLimited(await repository.fetchBlob(layer.digest), MAX_RECORD_BYTES, `the verification record ${layer.digest}`);
    if (sha256Digest(bytes) !== layer.digest) return undefined;
    const record = JSON.parse(new TextDecoder().decode(bytes)) as VerificationRecord;
    return record?.subject?.digest === digest ? record : undefined;
  } catch (error) {
    // A referrer that is broken or lies about itself proves nothing; a registry that fails does not mean "unverified".
    if (error instanceof SyntaxError || error instanceof OciError && ["invalid-content", "too-large", "not-found"].includes(error.kind)) return undefined;
    throw error;
  }
}

/**
 * The well-formed verification records about the manifest `digest`, each with its own digest. A
 * referrer listed many times is read once.
 */
async function* recordsAbout(repository: Repository, digest: string): AsyncGenerator<{ referrer: string; record: VerificationRecord }> {
  const referrers = new Set((await listReferrers(repository, digest, VERIFICATION_TYPE)).map((referrer) => referrer.digest));
  for (const referrer of referrers) {
    const record = await recordAbout(repository, referrer, digest);
    if (record) yield { referrer, record };
  }
}

/** Whether a card counts as verified, and why (or why not), in a few words. */
export interface Verification {
  verified: boolean;
  reason: string;
}

/** What a record proves: that `digest` passed (signed by a trusted key, its checks listed and passed), or nothing, and why. */
async function judge(record: VerificationRecord, trust: TrustStore, repository: Repository): Promise<Verification> {
  if (record.result !== "passed") return { verified: false, reason: `says ${JSON.stringify(record.result)}` };
  if (!Array.isArray(record.checks) || record.checks.length === 0) return { verified: false, reason: "lists no checks" };
  if (!record.checks.every((check) => check?.ok === true)) return { verified: false, reason: "lists a check that did not pass" };
  const where = { registry: repository.registry.host, repository: repository.name };
  const signed = await verifyDocument(record as unknown as Record<string, unknown>, trust, where);
  return { verified: signed.status === "verified", reason: describeTrust(signed) };
}

/**
 * Whether the manifest `digest` of this repository has a verification record that counts: a
 * referrer of ours whose subject is that very digest, whose checks all passed, signed by a key
 * `trust` holds for this repository. Otherwise why none counts.
 */
export async function verificationOf(repository: Repository, digest: string, trust: TrustStore): Promise<Verification> {
  const faults = [];
  for await (const { referrer, record } of recordsAbout(repository, digest)) {
    const { verified, reason } = await judge(record, trust, repository);
    if (verified) return { verified, reason: `record ${referrer}, ${reason}` };
    faults.push(`record ${referrer} ${reason}`);
  }
  return { verified: false, reason: faults.length === 0 ? "no verification record" : `${NONE_COUNTS}${faults.join("; ")}` };
}

const NONE_COUNTS = "no record counts: ";

/** Whether verify left records about the card, none of which counts (unsigned, say): verify ran, but nobody trusted vouches for it. */
export const recordedButUnproven = (verification: Verification) => !verification.verified && verification.reason.startsWith(NONE_COUNTS);

/**
 * The digest of a record that `digest` passed these very checks, made by this version of the
 * tool: a new one would say nothing more, so verifying again reuses it instead of adding one.
 */
export async function sameVerification(repository: Repository, digest: string, checks: VerificationRecord["checks"]): Promise<string | undefined> {
  const { tool, result } = await verificationRecord({ reference: "", digest }, checks);
  const same = (record: VerificationRecord) =>
    record.result === result && JSON.stringify(record.checks) === JSON.stringify(checks) && JSON.stringify(record.tool) === JSON.stringify(tool);
  for await (const { referrer, record } of recordsAbout(repository, digest)) if (same(record)) return referrer;
  return undefined;
}
