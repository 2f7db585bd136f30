// oras pull [flags] <name>{:<tag>|@<digest>}
import path from "node:path";
import { pullArtifact, type TransferStatus } from "../oci/artifacts.ts";
import { type Descriptor, layerTitle, TITLE_ANNOTATION } from "../oci/manifest.ts";
import {
  type Command,
  describe,
  NO_TTY_FLAG,
  parseTarget,
  printJson,
  remoteFlags,
  repositoryOf,
  requireReference,
  statusLine,
} from "./command.ts";

const LAYER_PROMPTS: Partial<Record<TransferStatus, string>> = { Downloading: "Downloading", Downloaded: "Downloaded ", Skipped: "Skipped    " };

export const pull: Command = {
  use: "pull [flags] <name>{:<tag>|@<digest>}",
  summary: "Pull files from a registry",
  examples: [
    ["Pull artifact files from a registry", "oras pull localhost:5000/hello:v1"],
    ['Pull artifact files into the directory "out"', "oras pull localhost:5000/hello:v1 -o out"],
    ["Pull artifact files and format output in JSON", "oras pull localhost:5000/hello:v1 --format json"],
  ],
  flags: {
    ...remoteFlags(),
    ...NO_TTY_FLAG,
    output: { type: "string", short: "o", value: "string", help: 'output directory (default ".")' },
  },
  formats: ["text", "json"],
  args: [1, 1],
  argsHelp: "the artifact reference to pull",
  async run(flags, [raw], io) {
    const target = parseTarget(raw);
    const reference = requireReference(pull, target);
    const outDir = path.resolve(io.cwd, (flags.output as string | undefined) ?? ".");
    // oras prints the manifest's lines around its layers', so the layers' wait for the manifest.
    const layerLines: [string, Descriptor][] = [];
    const pulled = await pullArtifact(repositoryOf(target, flags, io), reference, outDir, {
      onStatus: (status, descriptor) => {
        const prompt = LAYER_PROMPTS[status];
        if (prompt) layerLines.push([prompt, descriptor]);
      },
    });
    const result = { digest: pulled.descriptor.digest, files: pulled.files.map((file) => path.resolve(outDir, file.title)) };
    if (flags.format === "json") {
      printJson(io, {
        reference: `${target.path}@${pulled.descriptor.digest}`,
        files: pulled.files.map((file) => ({
          path: path.resolve(outDir, file.title),
          ...describe(target.path, pulled.manifest.layers.find((layer) => layer.digest === file.digest && layerTitle(layer) === file.title)!),
        })),
      });
      return result;
    }
    const manifest = pulled.descriptor;
    statusLine(io, "Downloading", manifest);
    statusLine(io, "Processing ", manifest);
    for (const [prompt, descriptor] of layerLines) statusLine(io, prompt, descriptor);
    statusLine(io, "Downloaded ", manifest);
    if (layerLines.some(([prompt]) => prompt.startsWith("Skipped"))) {
      io.out(`Skipped pulling layers without file name in "${TITLE_ANNOTATION}"\n`);
      io.out(`Use 'oras copy ${raw} --to-oci-layout <layout-dir>' to pull all layers.\n`);
    } else {
      io.out(`Pulled [registry] ${raw}\nDigest: ${manifest.digest}\n`);
    }
    return result;
  },
};
