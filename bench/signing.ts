// make bench PART=signing: what signing and verifying an agent card costs, per card, at 1,000
// fleet cards, in this process: lib/trust as pull, verify and publish use it (the canonical form,
// then jose over WebCrypto), for each algorithm make keygen makes.
import { readFileSync } from "node:fs";
import path from "node:path";
import { fleetCard } from "../lib/fleet.ts";
import type { Output } from "../lib/step/output.ts";
import { generateKeyFiles, KEY_ALGORITHMS, type KeyAlgorithm, readSigningKey } from "../lib/trust/keys.ts";
import { signCard, verifyCard } from "../lib/trust/signatures.ts";
import { parseScope, readTrustStore, trustKeys } from "../lib/trust/store.ts";

export const SIGNED_CARDS = 1000;

const FIGURES = {
  sign_ms: "sign, ms per card",
  verify_ms: "verify by a trusted key, ms per card",
  tampered_ms: "verify a changed card (every form tried), ms per card",
  sign_cpu_ms: "sign, CPU ms per card",
  verify_cpu_ms: "verify, CPU ms per card",
  bytes_added: "bytes a signature adds to a card",
} as const;
type Figure = keyof typeof FIGURES;
type Run = Record<KeyAlgorithm, Record<Figure, number>>;

/** CPU seconds (user + system) this process has used so far. */
const cpu = () => {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1e6;
};

/** `work` over every card, one after another: its results, and wall and CPU ms per card. */
async function perCard<T, R>(cards: T[], work: (card: T) => Promise<R>) {
  const [started, cpuBefore] = [performance.now(), cpu()];
  const results = [];
  for (const card of cards) results.push(await work(card));
  return { results, ms: (performance.now() - started) / cards.length, cpuMs: (cpu() - cpuBefore) * 1000 / cards.length };
}

/** Signs and verifies SIGNED_CARDS fleet cards `runs` times with a key of each algorithm, made in `dir`. */
export async function measureSigning(dir: string, runs: number, progress: (text: string) => void): Promise<Run[]> {
  const cards = Array.from({ length: SIGNED_CARDS }, (_, index) => JSON.parse(new TextDecoder().decode(fleetCard(index).bytes)) as Record<string, unknown>);
  const size = (card: object) => JSON.stringify(card, null, 2).length;
  const keys = await Promise.all(KEY_ALGORITHMS.map(async (alg) => {
    const keyPath = path.join(dir, `${alg}.key.pem`);
    const { jwksPath } = await generateKeyFiles(keyPath, alg);
    // Fleet cards name https://pallet.dev as their provider: the key is trusted for that origin.
    await trustKeys(path.join(dir, `${alg}.trust.json`), jwksPath, parseScope("https://pallet.dev"));
    return { alg, signer: await readSigningKey(keyPath), store: await readTrustStore(path.join(dir, `${alg}.trust.json`)) };
  }));
  const measured: Run[] = [];
  for (let run = 0; run < runs; run++) {
    progress(`signing run ${run + 1}/${runs}: ${SIGNED_CARDS} cards signed and verified with ${KEY_ALGORITHMS.join(" and ")}`);
    const figures = {} as Run;
    for (const { alg, signer, store } of run % 2 ? [...keys].reverse() : keys) {
      const signed = await perCard(cards, (card) => signCard(card, signer));
      const verified = await perCard(signed.results, (card) => verifyCard(card, store));
      const changed = signed.results.map((card) => ({ ...card, description: `${card.description} (changed)` }));
      const tampered = await perCard(changed, (card) => verifyCard(card, store));
      if (verified.results.some((trust) => trust.status !== "verified")) throw new Error(`signing: a card signed with ${alg} did not verify`);
      if (tampered.results.some((trust) => trust.status !== "invalid")) throw new Error(`signing: a changed card signed with ${alg} was not refused`);
      figures[alg] = {
        sign_ms: signed.ms,
        verify_ms: verified.ms,
        tampered_ms: tampered.ms,
        sign_cpu_ms: signed.cpuMs,
        verify_cpu_ms: verified.cpuMs,
        bytes_added: size(signed.results[0]) - size(cards[0]),
      };
    }
    measured.push(figures);
  }
  return measured;
}

/** The runs' medians (min-max), one row per figure, one column per algorithm. */
export function printSigning(out: Output, runs: Run[], cell: (values: number[], digits: number) => string, runtime: string) {
  out.banner(`Signing under ${runtime}: ${SIGNED_CARDS.toLocaleString("en-US")} fleet cards, one process, median (min-max) of ${runs.length} runs`);
  out.table(
    ["Figure", ...KEY_ALGORITHMS],
    (Object.keys(FIGURES) as Figure[]).map((figure) => [FIGURES[figure], ...KEY_ALGORITHMS.map((alg) => cell(runs.map((run) => run[alg][figure]), figure === "bytes_added" ? 0 : 3))]),
  );
  const { version } = JSON.parse(readFileSync(new URL("../node_modules/jose/package.json", import.meta.url), "utf8"));
  out.note(`lib/trust with jose ${version} over WebCrypto; a changed card is tried in the A2A 1.0 form, plain RFC 8785 and @a2a-js/sdk's`);
}
