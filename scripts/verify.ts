// 3.2 Steps 3-4: the Registry Verification Report. Pulls each card again and proves it is the
// file that was pushed; any difference is shown (sizes, hashes, json-diff) and exits 1. A card
// that passes gets a verification record attached to its manifest, as `oras attach` attaches one;
// VERIFY decides which signed cards pass, and with KEY the record is signed (docs/trust.md).
import { readFile, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { cardFileName, loadCards } from "../lib/cards.ts";
import { compareCard } from "../lib/compare.ts";
import { ContentError, isContentFailure } from "../lib/errors.ts";
import type { Check } from "../lib/compare.ts";
import { AGENTS_AT_ONCE, agentReference, agentRepository } from "../lib/step/options.ts";
import { type OrasTag, pullCard, shownOras } from "../lib/step/oras.ts";
import { shellLine } from "../lib/step/output.ts";
import { hintFor, isMain, main, type StepContext, type Step, withScratchDir } from "../lib/step/run.ts";
import { checkCardTrust, readSigningFlags } from "../lib/step/trust.ts";
import type { SigningKey } from "../lib/trust/keys.ts";
import { describeTrust, signDocument } from "../lib/trust/signatures.ts";
import { sameVerification, VERIFICATION_TYPE, verificationRecord } from "../lib/verification.ts";

const SCRATCH_PREFIX = "pallet-verification-";

// The commands of one agent besides its pull, run by the body or said first by presenter mode.
const diffLine = ({ options }: StepContext, agent: string) =>
  shellLine(["diff", path.join(options.cardsDir, cardFileName(agent)), path.join(options.outDir, cardFileName(agent))]);
const attach = <T>(oras: OrasTag<T>, { options, remote }: StepContext, agent: string, digest: string) =>
  oras`attach ${remote} --artifact-type ${VERIFICATION_TYPE} ${agentRepository(options, agent)}@${digest} verification.json:application/json`;

/**
 * Attaches a record of the passed checks to the very manifest that was verified (by digest, so
 * a tag moved meanwhile cannot take the record along), signed by `signer` when there is one;
 * returns the record's manifest digest. Unsigned, a record of these very checks on that digest
 * is reused: verifying again adds nothing.
 */
async function attachVerification(context: StepContext, agent: string, digest: string, checks: Check[], signer?: SigningKey) {
  const { options, out, client } = context;
  const reused = signer ? undefined : await sameVerification(client.repository(`agents/${agent}`), digest, checks);
  if (reused) {
    out.ok(`${agent} agent: the verification record ${reused} already says so; reused, nothing attached`);
    return reused;
  }
  return await withScratchDir(SCRATCH_PREFIX, async (dir) => {
    const unsigned = await verificationRecord({ reference: agentReference(options, agent), digest }, checks);
    const record = signer ? await signDocument({ ...unsigned }, signer) : unsigned;
    await writeFile(path.join(dir, "verification.json"), JSON.stringify(record, null, 2) + "\n");
    return (await attach(context.orasIn(dir), context, agent, digest)).digest;
  });
}

export const step: Step = {
  name: "verify",
  section: "3.2 Verify Storage, Steps 3-4: Registry Verification Report",
  runs: "oras pull REGISTRY/agents/<agent>:TAG -o OUT_DIR/; diff CARDS_DIR/<agent>_agent_card.json OUT_DIR/<agent>_agent_card.json",
  options: ["registry", "agents", "tag", "cards", "out", "verify", "trust"],
  flags: { key: { type: "string", env: "KEY", help: "sign each verification record with this private key (PEM, from make keygen)" } },
  example: "make verify TAG=v2 VERIFY=require",
  // What the pull's digest and the scratch directory will be is known only then: "…" stands for them.
  preview: (context) =>
    context.options.agents.flatMap((agent) => [
      pullCard(shownOras(), context, agent),
      diffLine(context, agent),
      attach(shownOras(path.join(os.tmpdir(), `${SCRATCH_PREFIX}…`)), context, agent, "sha256:…"),
    ]),
  async body(context) {
    const { options, out, oras, clients, flags } = context;
    const { signer } = await readSigningFlags(flags);
    const originals = await loadCards(options.cardsDir, options.agents);
    // The agents are verified side by side (each attach waits for its referrers index to settle)
    // and reported one after another.
    const report = await out.inTurn(originals, AGENTS_AT_ONCE, async (original) => {
      out.line();
      out.line(`Verifying ${original.agent} agent...`);
      const ref = agentReference(options, original.agent);
      try {
        const { digest } = await pullCard(oras, context, original.agent);
        const pulledPath = path.join(options.outDir, original.fileName);
        out.command(diffLine(context, original.agent));
        const pulled = await readFile(pulledPath).catch(() => {
          throw new ContentError(`${ref} holds no layer titled ${original.fileName}`);
        });
        const comparison = await compareCard(original.bytes, pulled);
        for (const check of comparison.checks) (check.ok ? out.ok : out.fail)(`${check.name}: ${check.detail}`);
        let verification: string | undefined;
        if (comparison.ok) {
          const card = JSON.parse(new TextDecoder().decode(pulled));
          const trust = await checkCardTrust(options, out, "signature", card, { registry: options.registry, repository: `agents/${original.agent}` });
          const checks = trust ? [...comparison.checks, { name: "signature", ok: true, detail: describeTrust(trust) }] : comparison.checks;
          out.ok(`${original.agent} agent: Content verified`);
          verification = await attachVerification(context, original.agent, digest, checks, signer);
        } else {
          out.fail(
            `${original.agent} agent: ${
              comparison.formattingOnly ? "formatting differs, JSON content is the same (something re-serialised the card)" : "Content mismatch"
            }`,
          );
          if (comparison.diff) out.line(comparison.diff);
        }
        return { agent: original.agent, reference: ref, digest, ...comparison, verification };
      } catch (error) {
        // A missing or hostile artifact fails this agent; the others are still checked.
        if (!isContentFailure(error)) throw error;
        out.fail(`${original.agent} agent: ${error.message}`);
        const hint = await hintFor(error, options, clients);
        if (hint) out.note("  " + hint.replaceAll("\n", "\n  "));
        return { agent: original.agent, reference: ref, ok: false, error: error.message };
      }
    });
    if (options.json) out.json({ verified: report });
    const failed = report.filter((entry) => !entry.ok).map((entry) => entry.agent);
    if (failed.length > 0) {
      throw new ContentError(
        `${failed.length} of ${report.length} agents failed verification: ${failed.join(", ")}`,
        "Push the cards again (make push) and rerun make verify; the lines above say what differs.",
      );
    }
    out.line();
    out.line("=== All agents verified successfully ===");
  },
};

if (isMain(import.meta)) await main(step);
