// Phase 5: publish each agent as a package next to its card: the card exactly as in CARDS_DIR and
// its implementation (agents/<agent>.ts and the A2A SDK, bundled with its skill's validators), one
// artifact with two layers in REGISTRY/agents/<agent>/package:TAG (lib/agents/package.ts says why).
// The walkthrough's cards in REGISTRY/agents/<agent>:TAG are left as they are.
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { loadCards } from "../lib/cards.ts";
import { bundleAgent, NEEDS } from "../lib/agents/bundle.ts";
import { NEEDS_ANNOTATION, PACKAGE_LAYERS, PACKAGE_TYPE, packageReference } from "../lib/agents/package.ts";
import { UsageError } from "../lib/errors.ts";
import { createdFlags } from "../lib/step/options.ts";
import { isMain, main, type Step } from "../lib/step/run.ts";

/** Where each package's two files are written before they are pushed, so the printed command can be pasted. */
const PACKAGES_DIR = "tmp/packages";

export const step: Step = {
  name: "packages",
  section: "Phase 5: Publish Agent Packages",
  runs: `cd ${PACKAGES_DIR}/<agent> && oras push --artifact-type ${PACKAGE_TYPE} REGISTRY/agents/<agent>/package:TAG ` +
    `${PACKAGE_LAYERS.card.title}:${PACKAGE_LAYERS.card.mediaType} ${PACKAGE_LAYERS.module.title}:${PACKAGE_LAYERS.module.mediaType}`,
  options: ["registry", "agents", "tag", "cards"],
  example: "make packages TAG=v1   (then: oras pull localhost:5000/agents/plan/package:v1 -o plan-package/)",
  async body({ options, remote, out, orasIn }) {
    const missing = options.agents.filter((agent) => !(agent in NEEDS));
    if (missing.length > 0) throw new UsageError(`no implementation for ${missing.join(", ")}: agents/ has ${Object.keys(NEEDS).join(", ")}`);
    const cards = await loadCards(options.cardsDir, options.agents);
    out.ok(`${cards.length} agent cards in ${options.cardsDir} are valid`);
    const published = [];
    for (const card of cards) {
      const module = await bundleAgent(card.agent, card.card);
      const dir = path.join(PACKAGES_DIR, card.agent);
      await mkdir(dir, { recursive: true });
      await writeFile(path.join(dir, PACKAGE_LAYERS.card.title), card.bytes);
      await writeFile(path.join(dir, PACKAGE_LAYERS.module.title), module);
      out.ok(`bundled agents/${card.agent}.ts with @a2a-js/sdk and its skill's validators: ${dir}/${PACKAGE_LAYERS.module.title}, ${module.byteLength.toLocaleString("en-US")} B`);
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
