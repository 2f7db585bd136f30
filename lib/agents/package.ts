// An agent package: one OCI artifact with two layers, the agent's card and its implementation,
// next to the card in REGISTRY/agents/<agent>/package:<tag>. One manifest digest names both, so
// what runs can never be paired with another card, a tag pins exactly one of each, and a rollback
// to a digest restores both. The publisher's signature is the card's own (A2A 1.0 §8.4), whose
// protected header names the code and what it needs (packageClaim), so that it covers both. `oras
// pull` fetches it as two files. docs/phase5.md says why not an implementation that refers to the card.
import { CARD_TYPE } from "../cards.ts";
import { ContentError } from "../errors.ts";
import { type Descriptor, type ImageManifest, layerTitle } from "../oci/manifest.ts";

/** The manifest's artifactType. */
export const PACKAGE_TYPE = "application/vnd.pallet.agent.package.v1";

/** The two layers, in this order: the card exactly as published, and the bundled ES module (RFC 9239's type). */
export const PACKAGE_LAYERS = {
  card: { title: "agent-card.json", mediaType: CARD_TYPE },
  module: { title: "agent.js", mediaType: "text/javascript" },
} as const;

/** A manifest annotation listing what the agent needs beyond its own port and files; the one need there is. */
export const NEEDS_ANNOTATION = "vnd.pallet.agent.needs";
export const RUNS_TESTS = "run-tests";

/** Where an agent's packages are: next to its card's repository. */
export const packageRepository = (agent: string) => `agents/${agent}/package`;

/** `REGISTRY/agents/<agent>/package:<tag>`. */
export const packageReference = (registry: string, agent: string, tag: string) => `${registry}/${packageRepository(agent)}:${tag}`;

/** The manifest as unpacked next to the package's files, so a restart can check them without the registry. */
export const MANIFEST_FILE = "manifest.json";

/** The package's layers, or why `manifest` is not an agent package. */
export function packageLayers(subject: string, manifest: ImageManifest): { card: Descriptor; module: Descriptor } {
  const expected = Object.values(PACKAGE_LAYERS);
  const layers = manifest.layers;
  const fits = manifest.artifactType === PACKAGE_TYPE && layers.length === expected.length &&
    expected.every((want, i) => layers[i].mediaType === want.mediaType && layerTitle(layers[i]) === want.title);
  if (!fits) {
    throw new ContentError(
      `${subject} is not an agent package: expected artifactType ${PACKAGE_TYPE} with the layers ${expected.map((want) => `${want.title} (${want.mediaType})`).join(" and ")}`,
      "Publish agent packages with `make packages`; the agent's card alone is in REGISTRY/agents/<agent>:TAG.",
    );
  }
  return { card: layers[0], module: layers[1] };
}

/**
 * What the signature of a package's card claims besides the card: the code it runs (the module
 * layer's digest) and what that code needs. A card signed so cannot be packaged with other code,
 * nor its code be granted more, without the signature failing.
 */
export const packageClaim = (moduleDigest: string, needs: string[]) => ({ "vnd.pallet.agent.package": { module: moduleDigest, needs } });

/** What an agent package needs beyond its port and its own files, as its manifest says. */
export const needsOf = (manifest: ImageManifest): string[] => manifest.annotations?.[NEEDS_ANNOTATION]?.split(",").filter(Boolean) ?? [];
