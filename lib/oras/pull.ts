// oras pull [flags] <name>{:<tag>|@<digest>} -o <dir>
import path from "node:path";
import { pullArtifact } from "../oci/artifacts.ts";
import { expectArgs, outputFormat, type OrasIO, parseFlags, printJson, registryFor, remoteFlags, statusLines, targetReference } from "./command.ts";

const FLAGS = {
  ...remoteFlags(),
  output: { type: "string", short: "o" },
  format: { type: "string" },
} as const;

export async function pull(argv: string[], io: OrasIO) {
  const { values, positionals } = parseFlags("pull", argv, FLAGS);
  const format = outputFormat("pull", values.format);
  const [text] = expectArgs("pull", positionals, ["<name>:<tag>"]);
  const target = targetReference(text);
  const outDir = path.resolve(io.cwd, (values.output as string | undefined) ?? ".");
  const repository = registryFor(target.registry, Boolean(values["plain-http"])).repository(target.repository);
  let skipped = false;
  const lines = statusLines(io, { Downloading: "Downloading", Downloaded: "Downloaded " });
  const pulled = await pullArtifact(repository, target.reference, outDir, {
    onStatus: (status, descriptor) => {
      if (status === "Skipped") skipped = true;
      if (format === "text") lines(status, descriptor);
    },
  });
  const name = `${target.registry}/${target.repository}`;
  if (format === "json") {
    printJson(io, {
      reference: `${name}@${pulled.descriptor.digest}`,
      files: pulled.files.map((file) => {
        const layer = pulled.manifest.layers.find((candidate) => candidate.digest === file.digest)!;
        return {
          path: path.resolve(file.path),
          reference: `${name}@${layer.digest}`,
          mediaType: layer.mediaType,
          digest: layer.digest,
          size: layer.size,
          annotations: layer.annotations,
        };
      }),
    });
  } else if (skipped) {
    io.out(`Skipped pulling layers without file name in "org.opencontainers.image.title"\n`);
    io.out(`Use 'oras copy ${text} --to-oci-layout <layout-dir>' to pull all layers.\n`);
  } else {
    io.out(`Pulled [registry] ${text}\nDigest: ${pulled.descriptor.digest}\n`);
  }
}
