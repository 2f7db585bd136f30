// A signer's keys: the private key as a PKCS #8 PEM file (so that openssl can make a certificate
// for it), the public key as a JWKS. jose is loaded when a key is used: it costs a step about 50 ms
// of CPU to load under Node, which a step that signs nothing should not pay.
import { createPrivateKey } from "node:crypto";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import type { JWK } from "jose";
import { UsageError } from "../errors.ts";

/** The algorithms `make keygen` makes keys for: ES256 (P-256) by default, EdDSA (Ed25519). */
export const KEY_ALGORITHMS = ["ES256", "EdDSA"] as const;
export type KeyAlgorithm = typeof KEY_ALGORITHMS[number];

const ALGORITHM_OF_CURVE: Record<string, KeyAlgorithm> = { "P-256": "ES256", Ed25519: "EdDSA" };

export interface SigningKey {
  alg: KeyAlgorithm;
  /** The RFC 7638 thumbprint of the public key: a name no other key has. */
  kid: string;
  key: CryptoKey;
  /** The public half, as a JWKS lists it. */
  publicJwk: JWK;
}

/** The public part of a JWK, with the kid and alg a JWKS entry carries. */
async function publicEntry(jwk: JWK, alg: KeyAlgorithm): Promise<JWK> {
  const { calculateJwkThumbprint } = await import("jose");
  const { kty, crv, x, y } = jwk;
  const key = Object.fromEntries(Object.entries({ kty, crv, x, y }).filter(([, value]) => value !== undefined)) as JWK;
  return { ...key, kid: await calculateJwkThumbprint(key), alg, use: "sig" };
}

/** Where the JWKS of a private key file goes: keys/publisher.key.pem -> keys/publisher.jwks.json. */
const jwksPathOf = (keyPath: string) => keyPath.replace(/(\.key)?\.pem$/, "") + ".jwks.json";

/**
 * A new key pair: the private key at `keyPath` (mode 0600, never over an existing file) and its
 * public key as a JWKS beside it. Returns the JWKS's path and the key's kid.
 */
export async function generateKeyFiles(keyPath: string, alg: KeyAlgorithm): Promise<{ jwksPath: string; kid: string }> {
  const { exportJWK, exportPKCS8, generateKeyPair } = await import("jose");
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const entry = await publicEntry(await exportJWK(publicKey), alg);
  const jwksPath = jwksPathOf(keyPath);
  await mkdir(path.dirname(keyPath), { recursive: true });
  try {
    await writeFile(keyPath, await exportPKCS8(privateKey), { mode: 0o600, flag: "wx" });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    throw new UsageError(`${keyPath} exists already; a key is never overwritten`, "Name another file with KEY=…, or remove that one if you mean to.");
  }
  await writeFile(jwksPath, JSON.stringify({ keys: [entry] }, null, 2) + "\n");
  return { jwksPath, kid: entry.kid! };
}

/**
 * The key at `keyPath` as it is, its JWKS written beside it where missing; for a second scope to
 * trust a key already made. A JWKS that lacks this key is not rewritten: it may hold others.
 */
export async function existingKeyFiles(keyPath: string): Promise<{ jwksPath: string; kid: string; alg: KeyAlgorithm }> {
  const { alg, kid, publicJwk } = await readSigningKey(keyPath);
  const jwksPath = jwksPathOf(keyPath);
  const jwks = await readFile(jwksPath, "utf8").catch(() => undefined);
  if (jwks === undefined) await writeFile(jwksPath, JSON.stringify({ keys: [publicJwk] }, null, 2) + "\n");
  else if (!(JSON.parse(jwks).keys ?? []).some((entry: JWK) => entry.kid === kid)) {
    throw new UsageError(`${jwksPath} does not hold the public key of ${keyPath} (kid ${kid})`, `Remove ${jwksPath} to have it written again, or name another key with KEY=….`);
  }
  return { jwksPath, kid, alg };
}

/** The signing key in a PKCS #8 PEM file, as `make keygen` (or openssl genpkey) writes one. */
export async function readSigningKey(keyPath: string): Promise<SigningKey> {
  let jwk: JWK;
  try {
    jwk = createPrivateKey(await readFile(keyPath)).export({ format: "jwk" }) as JWK;
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code === "ENOENT" ? "does not exist" : "is not a PEM private key";
    throw new UsageError(`the signing key ${keyPath} ${reason}`, "Make one with `make keygen KEY=…`, then name it with KEY=….");
  }
  const alg = ALGORITHM_OF_CURVE[jwk.crv ?? ""];
  if (!alg) throw new UsageError(`${keyPath} holds a ${jwk.kty} key${jwk.crv ? ` on ${jwk.crv}` : ""}; cards are signed with P-256 (ES256) or Ed25519 (EdDSA) keys`, "Make one with `make keygen`.");
  const publicJwk = await publicEntry(jwk, alg);
  const { importJWK } = await import("jose");
  return { alg, kid: publicJwk.kid!, key: (await importJWK(jwk, alg)) as CryptoKey, publicJwk };
}
