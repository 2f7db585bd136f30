// The trust check of pulled code, in one place: every start of an agent (make run, make upgrade,
// make rollback, make agents RESTART=1) goes through startAgent in lib/step/agents.ts, which calls
// checkTrust on the unpacked package right before spawning it, and nothing is started otherwise.
//
// Today it checks digests only: the manifest hashes to the digest the tag resolved to, and each
// file to its layer's digest and size (the pull checked them too, while streaming; this catches a
// run directory changed since). Issue 19 (card signing, the VERIFY=off|if-present|require trust
// policy, require by default for anything that runs) adds its signature check here, on `digest`.
import { readFile } from "node:fs/promises";
import path from "node:path";
import { ContentError } from "../errors.ts";
import { sha256Digest } from "../oci/digest.ts";
import { type ImageManifest, layerTitle } from "../oci/manifest.ts";
import { MANIFEST_FILE, packageLayers } from "./package.ts";

/** An unpacked package, proven: its manifest and its card's bytes. */
export interface Trusted {
  dir: string;
  digest: string;
  manifest: ImageManifest;
  card: Uint8Array;
}

/** The package unpacked in `dir`, every byte of it proven against `digest`; or a ContentError saying what differs. */
export async function checkTrust(dir: string, digest: string): Promise<Trusted> {
  const refuse = (why: string) =>
    new ContentError(`the unpacked package ${dir}: ${why}; refusing to start it`, "Remove that directory; `make run` pulls the package afresh.");
  const manifestBytes = await readFile(path.join(dir, MANIFEST_FILE)).catch(() => undefined);
  if (!manifestBytes || sha256Digest(manifestBytes) !== digest) throw refuse(`no manifest there hashes to ${digest}`);
  const manifest = JSON.parse(new TextDecoder().decode(manifestBytes)) as ImageManifest;
  const layers = packageLayers(digest, manifest);
  const files = [];
  for (const layer of [layers.card, layers.module]) {
    const bytes = await readFile(path.join(dir, layerTitle(layer)!)).catch(() => undefined);
    if (!bytes || bytes.byteLength !== layer.size || sha256Digest(bytes) !== layer.digest) throw refuse(`${layerTitle(layer)} is not ${layer.digest}`);
    files.push(bytes);
  }
  return { dir, digest, manifest, card: files[0] };
}
