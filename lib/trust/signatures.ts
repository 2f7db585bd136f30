// Signed agent cards (A2A 1.0 §8.4): `signatures` holds JWS (RFC 7515) with a detached payload,
// the card's canonical form (canonical.ts). A card is verified when one signature verifies with a
// key of the verifier's trust store that is trusted for where the card was found; the signature's
// `kid` only picks among those keys, and its `jku` is never fetched.
import type { FlattenedJWSInput, JWSHeaderParameters } from "jose";
import { canonicalJson } from "../compare.ts";
import { isObject } from "../oci/json.ts";
import { cardPayload, documentPayload, VARIANT_NAMES, VARIANTS, type Variant } from "./canonical.ts";
import type { SigningKey } from "./keys.ts";
import { inScope, type Location, scopeText, type TrustedKey, type TrustStore } from "./store.ts";

/** Asymmetric algorithms only: `none` proves nothing, and an HMAC key is a secret the verifier would share with every signer. */
const ACCEPTED_ALGORITHMS = ["ES256", "ES384", "ES512", "EdDSA", "Ed25519", "PS256", "RS256"];

/** What became of one signature. */
export interface SignatureCheck {
  kid?: string;
  alg?: string;
  jku?: string;
  /**
   * verified: by a trusted key, over everything the card holds; partial: by a trusted key, in a form
   * that leaves `unsigned` open; unknown-key: no trusted key for it here; invalid: it is not a
   * valid signature of this card by the key it names (changed since, or forged, or malformed).
   */
  outcome: "verified" | "partial" | "unknown-key" | "invalid";
  detail: string;
  variant?: Variant;
  unsigned?: string[];
  key?: TrustedKey;
}

/**
 * A card's signatures, judged: unsigned (none), verified (one verified), invalid (none verified,
 * and at least one is proven wrong) or untrusted (none verified, none proven wrong: the keys are
 * not trusted here, or a signature leaves fields open).
 */
export interface CardTrust {
  status: "unsigned" | "verified" | "untrusted" | "invalid";
  signatures: SignatureCheck[];
  /** The signature that verified. */
  by?: SignatureCheck;
}

/** VERIFY: off (nothing checked), if-present (a card with a signature proven wrong is refused), require (only verified cards). */
export const POLICIES = ["off", "if-present", "require"] as const;
export type Policy = typeof POLICIES[number];

/** Whether `policy` lets a card whose signatures came to `trust` through. */
export const admits = (policy: Policy, trust: CardTrust) =>
  policy === "off" || trust.status === "verified" || (policy === "if-present" && trust.status !== "invalid");

/** What the payloads of a document are, by form: a card's three, or another document's one. */
type Payloads = (variant: Variant) => Promise<{ payload: string; unsigned: string[] }>;

const cardPayloads = (card: Record<string, unknown>): Payloads => {
  const made = new Map<Variant, ReturnType<Payloads>>();
  return (variant) => made.get(variant) ?? made.set(variant, cardPayload(card, variant)).get(variant)!;
};

/**
 * What a signature's protected header says besides who signed it, and the signature covers with
 * the payload: an agent package's card names the package's code so (lib/agents/package.ts).
 */
export type Claims = Record<string, unknown>;

/** Whether a protected header carries `claims`, each with the same JSON value. */
const carries = (header: JWSHeaderParameters, claims: Claims) =>
  Object.entries(claims).every(([name, value]) => header[name] !== undefined && canonicalJson(header[name]) === canonicalJson(value));

/** `document` with a new signature by `signer` over `payload` and `claims`, in place of any earlier one by the same key. */
async function signed(document: Record<string, unknown>, payload: string, signer: SigningKey, claims: Claims = {}): Promise<Record<string, unknown>> {
  const { FlattenedSign, decodeProtectedHeader } = await import("jose");
  const jws = await new FlattenedSign(new TextEncoder().encode(payload))
    .setProtectedHeader({ ...claims, alg: signer.alg, typ: "JOSE", kid: signer.kid })
    .sign(signer.key);
  const kidOf = (entry: unknown) => {
    try {
      return decodeProtectedHeader(entry as object).kid;
    } catch {
      return undefined;
    }
  };
  const others = Array.isArray(document.signatures) ? document.signatures.filter((entry) => kidOf(entry) !== signer.kid) : [];
  return { ...document, signatures: [...others, { protected: jws.protected, signature: jws.signature }] };
}

/** Whether `document` carries a signature by `signer` over `payload` and `claims` already. */
async function signedAlready(document: Record<string, unknown>, payload: string, signer: SigningKey, claims: Claims): Promise<boolean> {
  const { base64url, decodeProtectedHeader, flattenedVerify, importJWK } = await import("jose");
  const publicKey = await importJWK(signer.publicJwk, signer.alg);
  for (const entry of Array.isArray(document.signatures) ? document.signatures : []) {
    if (!isObject(entry) || typeof entry.protected !== "string" || typeof entry.signature !== "string") continue;
    const jws = { protected: entry.protected, signature: entry.signature, payload: base64url.encode(payload) };
    const verified = await flattenedVerify(jws, publicKey, { algorithms: [signer.alg] }).then(() => true, () => false);
    if (verified && carries(decodeProtectedHeader(jws), claims)) return true;
  }
  return false;
}

/**
 * The card with `signer`'s signature over its A2A 1.0 form (and `claims`) added, in place of an
 * earlier one by the same key; the card itself when that key's signature covers it as it is already.
 */
export async function signCard(card: Record<string, unknown>, signer: SigningKey, claims: Claims = {}): Promise<Record<string, unknown>> {
  const { payload } = await cardPayload(card, "a2a-1.0");
  return await signedAlready(card, payload, signer, claims) ? card : await signed(card, payload, signer, claims);
}

/** Any other JSON document (an index, a verification record) signed the same way, over RFC 8785 of it without `signatures`. */
export async function signDocument(document: Record<string, unknown>, signer: SigningKey): Promise<Record<string, unknown>> {
  return await signed(document, documentPayload(document), signer);
}

/** Public keys imported once per trusted key and algorithm: importing one costs about as much as a verification. */
const imported = new WeakMap<TrustedKey, Map<string, Promise<CryptoKey | Uint8Array>>>();

async function publicKeyOf(key: TrustedKey, alg: string) {
  const { importJWK } = await import("jose");
  const byAlg = imported.get(key) ?? imported.set(key, new Map()).get(key)!;
  return byAlg.get(alg) ?? byAlg.set(alg, importJWK(key.jwk, alg)).get(alg)!;
}

const invalid = (detail: string, header: JWSHeaderParameters = {}): SignatureCheck => ({ kid: header.kid, alg: header.alg, outcome: "invalid", detail });

/** One entry of `signatures` checked against the trusted keys for this document, form by form, and for `claims`. */
async function checkSignature(entry: unknown, keys: TrustedKey[], store: TrustStore, payloads: Payloads, variants: readonly Variant[], claims: Claims): Promise<SignatureCheck> {
  const jose = await import("jose");
  if (!isObject(entry) || typeof entry.protected !== "string" || typeof entry.signature !== "string") {
    return invalid('malformed: a signature is {"protected": …, "signature": …}');
  }
  let header: JWSHeaderParameters;
  try {
    header = jose.decodeProtectedHeader(entry);
  } catch {
    return invalid("malformed: its protected header is not base64url JSON");
  }
  const { alg, kid, jku } = header;
  if (!alg || !ACCEPTED_ALGORITHMS.includes(alg)) {
    return invalid(alg === "none" ? 'alg "none" is refused: it signs nothing' : `alg ${JSON.stringify(alg)} is refused: only public-key signatures (${ACCEPTED_ALGORITHMS.join(", ")}) say who signed`, header);
  }
  if (!kid) return invalid("no kid in its protected header (A2A 1.0 requires one)", header);
  const named = store.keys.filter((key) => key.kid === kid);
  const usable = named.filter((key) => keys.includes(key));
  const found = { kid, alg, jku };
  if (usable.length === 0) {
    const detail = named.length > 0
      ? `key ${kid} is trusted only for ${named.map((key) => scopeText(key.scope)).join(", ")}`
      : `key ${kid} is not in the trust store ${store.path}${jku ? ` (the card points at ${jku}; keys are never fetched from there)` : ""}`;
    return { ...found, outcome: "unknown-key", detail };
  }
  const jws: FlattenedJWSInput = { protected: entry.protected, signature: entry.signature, payload: "" };
  if (isObject(entry.header)) jws.header = entry.header;
  for (const key of usable) {
    let publicKey;
    try {
      publicKey = await publicKeyOf(key, alg);
    } catch {
      continue; // a key of another type or algorithm cannot have made it
    }
    for (const variant of variants) {
      const { payload, unsigned } = await payloads(variant);
      jws.payload = jose.base64url.encode(payload);
      const ok = await jose.flattenedVerify(jws, publicKey, { algorithms: [alg] }).then(() => true, () => false);
      if (!ok) continue;
      if (!carries(header, claims)) {
        const said = Object.keys(claims).map((name) => `${name} ${header[name] === undefined ? "unnamed" : canonicalJson(header[name])}`).join(", ");
        return invalid(`key ${kid} signed it for other contents (${said}), not ${canonicalJson(claims)}`, header);
      }
      const by = `signed by ${kid} (${alg}, ${VARIANT_NAMES[variant]}), trusted for ${scopeText(key.scope)}`;
      return unsigned.length === 0
        ? { ...found, outcome: "verified", detail: by, variant, key }
        : { ...found, outcome: "partial", detail: `${by}, but that form leaves ${unsigned.join(", ")} unsigned`, variant, unsigned, key };
    }
  }
  return invalid(`does not match the card: it was changed after key ${kid} signed it, or the signature is forged`, header);
}

/** `document`'s signatures checked against the keys of `store` trusted for `where`. */
async function verify(document: Record<string, unknown>, store: TrustStore, where: Location, payloads: Payloads, variants: readonly Variant[], claims: Claims = {}): Promise<CardTrust> {
  const { signatures } = document;
  if (signatures === undefined || (Array.isArray(signatures) && signatures.length === 0)) return { status: "unsigned", signatures: [] };
  if (!Array.isArray(signatures)) return { status: "invalid", signatures: [invalid('"signatures" is not a list')] };
  const provider = isObject(document.provider) ? document.provider.url : undefined;
  const keys = store.keys.filter((key) => inScope(key.scope, where, provider));
  const checks = [];
  for (const entry of signatures) {
    const check = await checkSignature(entry, keys, store, payloads, variants, claims);
    if (check.outcome === "verified") return { status: "verified", signatures: [...checks, check], by: check };
    checks.push(check);
  }
  return { status: checks.some((check) => check.outcome === "invalid") ? "invalid" : "untrusted", signatures: checks };
}

/**
 * A card's signatures checked against the keys of `store` trusted for `where` (and for the card's
 * provider's origin). Each signature is tried in the A2A 1.0 form first, then in the other forms;
 * with `claims`, one counts only if its protected header carries them too.
 */
export async function verifyCard(card: Record<string, unknown>, store: TrustStore, where: Location = {}, claims: Claims = {}): Promise<CardTrust> {
  return await verify(card, store, where, cardPayloads(card), VARIANTS, claims);
}

/** Another JSON document's signatures (signDocument's), checked the same way. */
export async function verifyDocument(document: Record<string, unknown>, store: TrustStore, where: Location = {}): Promise<CardTrust> {
  return await verify(document, store, where, () => Promise.resolve({ payload: documentPayload(document), unsigned: [] }), ["jcs"]);
}

/** A card's trust in one line: who signed it, or why no signature counts. */
export function describeTrust(trust: CardTrust): string {
  if (trust.status === "unsigned") return "not signed";
  if (trust.by) return trust.by.detail;
  const count = trust.signatures.length;
  const reasons = trust.signatures.map((check) => check.detail).join("; ");
  return `${count === 1 ? "its signature does" : `none of its ${count} signatures does`} not count: ${reasons}`;
}
