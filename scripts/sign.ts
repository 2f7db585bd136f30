// Trust: sign an agent card as A2A 1.0 §8.4 says: a JWS over the card's canonical form, added to
// its `signatures` (a signature by the same key is replaced). make push or publish then pushes it.
import path from "node:path";
import { UsageError } from "../lib/errors.ts";
import { loadCards } from "../lib/cards.ts";
import { namedCard } from "../lib/step/options.ts";
import { isMain, main, type Step } from "../lib/step/run.ts";
import { readSigningFlags, SIGNING_FLAGS, signCardFile } from "../lib/step/trust.ts";

export const step: Step = {
  name: "sign",
  section: "Trust: Sign an Agent Card",
  runs: "no oras command: the card file gets a signature in its \"signatures\"; make push or publish pushes it",
  options: [],
  flags: {
    card: { type: "string", env: "CARD", help: "the card to sign, a file named <agent>_agent_card.json (required)" },
    key: SIGNING_FLAGS.key,
  },
  example: "make sign CARD=tmp/cards/plan_agent_card.json KEY=keys/publisher.key.pem",
  async body({ options, flags, out }) {
    const { file, agent } = namedCard(flags, "sign", "make sign CARD=tmp/cards/plan_agent_card.json KEY=keys/publisher.key.pem");
    const { signer } = await readSigningFlags(flags);
    if (!signer) throw new UsageError("no key to sign with", "Name the private key with KEY (or --key), e.g. KEY=keys/publisher.key.pem; make keygen makes one.");
    const [card] = await loadCards(path.dirname(file), [agent]);
    const signed = await signCardFile(card, signer, out);
    if (options.json) out.json({ signed: { card: signed.path, kid: signer.kid, alg: signer.alg, signatures: signed.card.signatures } });
  },
};

if (isMain(import.meta)) await main(step);
