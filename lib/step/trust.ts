// What the steps share about signed cards: signing a card file with KEY, and VERIFY applied to a
// card, said the same way by pull, verify and publish.
import { writeFile } from "node:fs/promises";
import path from "node:path";
import { type AgentCard, validateCardBytes } from "../cards.ts";
import type { CardEntry } from "../discovery/card-entry.ts";
import type { CardPolicy } from "../discovery/discover.ts";
import { ContentError, UsageError } from "../errors.ts";
import { PROJECT_ROOT } from "../executables.ts";
import { readSigningKey, type SigningKey } from "../trust/keys.ts";
import { NOTARY_ENVELOPE_TYPE, NOTARY_SIGNATURE_TYPE, notarySignature, readCertificateChain } from "../trust/notary.ts";
import { admits, type CardTrust, type Claims, describeTrust, signCard, verifyCard } from "../trust/signatures.ts";
import { type Location, readTrustStore } from "../trust/store.ts";
import { trustAdvice } from "./advice.ts";
import { agentRepository, type CommandFlags, type CommandFlagValues, type StepOptions } from "./options.ts";
import type { Output } from "./output.ts";
import { type StepContext, withScratchDir } from "./run.ts";

/** The flags of the steps that sign what they push. */
export const SIGNING_FLAGS: CommandFlags = {
  key: { type: "string", env: "KEY", help: "sign each card with this private key (PEM, from make keygen) first, in its file" },
  cert: { type: "string", env: "CERT", help: "with KEY: also attach a Notary Project signature with this X.509 chain (PEM, KEY's certificate first)" },
};

/** What the step signs with: KEY, and CERT's chain, each when given; CERT without KEY is a usage error. */
export async function readSigningFlags(flags: CommandFlagValues): Promise<{ signer?: SigningKey; chain?: Uint8Array[] }> {
  const [key, cert] = [flags.key as string | undefined, flags.cert as string | undefined];
  if (cert && !key) throw new UsageError("CERT is given without KEY", "The certificate is KEY's: give both, e.g. KEY=keys/publisher.key.pem CERT=keys/publisher.chain.pem.");
  return { signer: key ? await readSigningKey(key) : undefined, chain: cert ? await readCertificateChain(cert) : undefined };
}

/**
 * Attaches a Notary Project signature of the agent's manifest `digest` in REGISTRY, made with
 * `signer` and its certificate `chain`, as `oras attach` attaches one; returns the signature's digest.
 */
export async function attachNotarySignature({ options, client, orasIn, remote }: StepContext, agent: string, digest: string, signer: SigningKey, chain: Uint8Array[]): Promise<string> {
  const target = await client.repository(`agents/${agent}`).resolve(digest);
  const { envelope, annotations } = await notarySignature(target, signer, chain);
  const annotated = Object.entries(annotations).flatMap(([name, value]) => ["--annotation", `${name}=${value}`]);
  return await withScratchDir("pallet-notary-", async (dir) => {
    await writeFile(path.join(dir, "signature.jws"), envelope);
    const subject = `${agentRepository(options, agent)}@${digest}`;
    return (await orasIn(dir)`attach ${remote} --artifact-type ${NOTARY_SIGNATURE_TYPE} ${annotated} ${subject} signature.jws:${NOTARY_ENVELOPE_TYPE}`).digest;
  });
}

/**
 * The card signed by `signer` (A2A 1.0 §8.4) with `claims`, still valid against its schema; the card itself
 * when a signature by that key covers it as it is already.
 */
export async function signedCard(card: AgentCard, signer: SigningKey, claims: Claims = {}): Promise<AgentCard> {
  const signed = await signCard(card.card, signer, claims);
  if (signed === card.card) return card;
  const bytes = new TextEncoder().encode(JSON.stringify(signed, null, 2) + "\n");
  const { problems } = validateCardBytes(bytes, card.fileName);
  if (problems.length > 0) throw new ContentError(`signed, ${card.fileName} would not be a valid card:\n  ${problems.join("\n  ")}`);
  return { ...card, bytes, card: signed };
}

const FIXTURES = path.join(PROJECT_ROOT, "fixtures");

/** Signs a card in its file with `signer`, unless that key's signature covers it already; returns the card as the file now holds it. */
export async function signCardFile(card: AgentCard, signer: SigningKey, out: Output): Promise<AgentCard> {
  // The fixtures are what the walkthrough's digests come from: a signature written into them would change every digest after.
  const inFixtures = path.relative(FIXTURES, path.resolve(card.path));
  if (!inFixtures.startsWith("..") && !path.isAbsolute(inFixtures)) {
    const copies = path.join("tmp", path.basename(path.dirname(card.path)));
    throw new UsageError(
      `${card.path} is one of the project's fixture cards, and KEY signs a card in its file; nothing was signed or sent`,
      `Sign copies: mkdir -p ${copies} && cp ${path.dirname(card.path)}/*.json ${copies}/, then name them with CARDS_DIR=${copies} (or CARD=${path.join(copies, card.fileName)}).`,
    );
  }
  const signed = await signedCard(card, signer);
  if (signed === card) {
    out.ok(`${card.path} is signed by ${signer.kid} already`);
    return card;
  }
  await writeFile(card.path, signed.bytes);
  out.ok(`signed ${card.path} with ${signer.kid} (${signer.alg}); it carries ${(signed.card.signatures as unknown[]).length} signature(s)`);
  return signed;
}

/**
 * VERIFY applied to a card found at `where` (its registry and repository, when it came from one):
 * what its signatures came to, said on `out`; a ContentError naming `label` when the policy refuses it.
 */
export async function checkCardTrust(options: StepOptions, out: Output, label: string, card: Record<string, unknown>, where: Location): Promise<CardTrust | undefined> {
  if (options.verify === "off" || (card.signatures === undefined && options.verify === "if-present")) return undefined;
  const trust = await verifyCard(card, await readTrustStore(options.trustStore), where);
  const said = `${label}: ${describeTrust(trust)}`;
  if (!admits(options.verify, trust)) throw new ContentError(`${said}; refused (VERIFY=${options.verify})`, trustAdvice(trust, options.verify, options.trustStore, where));
  if (trust.status === "verified") out.ok(said);
  else out.warn(`${said}; accepted unchecked (VERIFY=if-present)`);
  return trust;
}

/**
 * VERIFY as discover, versions and the service apply it: a card it refuses is not shown, and its
 * problem says what is wrong, then on the next lines what to do, as pull says it.
 */
export function cardPolicy({ verify, trustStore }: Pick<StepOptions, "verify" | "trustStore">): CardPolicy {
  return {
    verify,
    refusal: (host, entry, trust) =>
      `${host}/${entry.repository}:${entry.tag}: ${describeTrust(trust)}; refused (VERIFY=${verify})\n` +
      trustAdvice(trust, verify, trustStore, { registry: host, repository: entry.repository }),
  };
}

/** A card discovery passed over, said on `out`: why, then what to do (a refusal's advice) indented below. */
export function sayPassedOver(out: Output, problem: string) {
  const [why, ...advice] = problem.split("\n");
  out.warn(`passed over: ${why}`);
  for (const line of advice) out.note(`  ${line}`);
}

/** Who signed a card, in a table's cell: the key's id, or what its signatures came to; "-" where they were not checked (a trusted index gave it, or VERIFY=off). */
export function signedByText({ trust }: CardEntry): string {
  if (!trust) return "-";
  return trust.by?.kid ?? trust.status;
}
