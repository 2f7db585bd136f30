// Phase 5: publish each agent as a package next to its card: the card exactly as in CARDS_DIR and
// its implementation (agents/<agent>.ts and the A2A SDK, bundled with its skill's validators), one
// artifact with two layers in REGISTRY/agents/<agent>/package:TAG (lib/agents/package.ts says why).
// With KEY, each package's card is signed first (in tmp/packages, never in CARDS_DIR), as make run
// requires by default. The walkthrough's cards in REGISTRY/agents/<agent>:TAG are left as they are.
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { loadCards } from "../lib/cards.ts";
import { bundleAgent, NEEDS } from "../lib/agents/bundle.ts";
import { NEEDS_ANNOTATION, PACKAGE_LAYERS, PACKAGE_TYPE, packageClaim, packageReference } from "../lib/agents/package.ts";
import { sha256Digest } from "../lib/oci/digest.ts";
import { UsageError } from "../lib/errors.ts";
import { createdFlags } from "../lib/step/options.ts";
import { isMain, main, type Step } from "../lib/step/run.ts";
import { readSigningFlags, signedCard } from "../lib/step/trust.ts";

/** Where each package's two files are written before they are pushed, so the printed command can be pasted. */
const PACKAGES_DIR = "tmp/packages";

export const step: Step = {
  name: "packages",
  section: "Phase 5: Publish Agent Packages",
  runs: `cd ${PACKAGES_DIR}/<agent> && oras push --artifact-type ${PACKAGE_TYPE} REGISTRY/agents/<agent>/package:TAG ` +
    `${PACKAGE_LAYERS.card.title}:${PACKAGE_LAYERS.card.mediaType} ${PACKAGE_LAYERS.module.title}:${PACKAGE_LAYERS.module.mediaType}`,
  options: ["registry", "agents", "tag", "cards"],
  flags: { key: { type: "string", env: "KEY", help: "sign each package's card with this private key (PEM, from make keygen); the cards in CARDS_DIR stay as they are" } },
  example: "make packages TAG=v1 KEY=keys/publisher.key.pem   (then: oras pull localhost:5000/agents/plan/package:v1 -o plan-package/)",
  async body({ options, flags, remote, out, orasIn }) {
    const missing = options.agents.filter((agent) => !(agent in NEEDS));
    if (missing.length > 0) throw new UsageError(`no implementation for ${missing.join(", ")}: agents/ has ${Object.keys(NEEDS).join(", ")}`);
    const { signer } = await readSigningFlags(flags);
    const cards = await loadCards(options.cardsDir, options.agents);
    out.ok(`${cards.length} agent cards in ${options.cardsDir} are valid`);
    if (!signer) out.warn("no KEY, so the packages are not signed: make run, which takes signed packages only (VERIFY=require), refuses them; sign them with KEY=… (make keygen makes a key)");
    const published = [];
    for (const unsigned of cards) {
      const module = await bundleAgent(unsigned.agent, unsigned.card);
      const dir = path.join(PACKAGES_DIR, unsigned.agent);
      await mkdir(dir, { recursive: true });
      await writeFile(path.join(dir, PACKAGE_LAYERS.module.title), module);
      out.ok(`bundled agents/${unsigned.agent}.ts with @a2a-js/sdk and its skill's validators: ${dir}/${PACKAGE_LAYERS.module.title}, ${module.byteLength.toLocaleString("en-US")} B`);
      // The signature names this agent.js and what it needs, so it covers the whole package.
      const card = signer ? await signedCard(unsigned, signer, packageClaim(sha256Digest(module), NEEDS[unsigned.agent])) : unsigned;
      await writeFile(path.join(dir, PACKAGE_LAYERS.card.title), card.bytes);
      if (signer) out.ok(`signed ${card.agent}'s card for that agent.js with ${signer.kid} (${signer.alg}): ${dir}/${PACKAGE_LAYERS.card.title}; ${card.path} stays as it is`);
      const needs = NEEDS[card.agent].length ? ["--annotation", `${NEEDS_ANNOTATION}=${NEEDS[card.agent].join(",")}`] : [];
      const reference = packageReference(options.registry, card.agent, options.tag);
      const files = new Map([[path.resolve(dir, PACKAGE_LAYERS.card.title), card.bytes], [path.resolve(dir, PACKAGE_LAYERS.module.title), module]]);
      const { digest } = await orasIn(dir, { files })`push ${remote} --artifact-type ${PACKAGE_TYPE} ${needs} ${createdFlags()} ${reference} ${PACKAGE_LAYERS.card.title}:${PACKAGE_LAYERS.card.mediaType} ${PACKAGE_LAYERS.module.title}:${PACKAGE_LAYERS.module.mediaType}`;
      published.push({ agent: card.agent, reference, digest });
    }
    if (options.json) out.json({ published });
  },
};

if (isMain(import.meta)) await main(step);
