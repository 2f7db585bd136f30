// oras discover [flags] <name>{:<tag>|@<digest>}
import { UsageError } from "../errors.ts";
import type { Descriptor } from "../oci/manifest.ts";
import { listReferrers } from "../oci/referrers.ts";
import type { Repository } from "../oci/registry.ts";
import { type Command, describe, formatFlag, NO_TTY_FLAG, outputFormat, parseTarget, printJson, remoteFlags, repositoryOf, requireReference } from "./command.ts";

interface Node {
  descriptor: Descriptor;
  referrers: Node[];
}

/**
 * The referrers of `subject`, and theirs in turn, down to `depth` levels (0: all). A digest
 * seen before is not followed again, so a cycle a hostile registry made cannot loop.
 */
async function referrerTree(repository: Repository, subject: Descriptor, artifactType: string | undefined, depth: number, seen = new Set<string>()): Promise<Node> {
  const node: Node = { descriptor: subject, referrers: [] };
  if (seen.has(subject.digest)) return node;
  seen.add(subject.digest);
  for (const referrer of await listReferrers(repository, subject.digest, artifactType)) {
    node.referrers.push(
      depth === 1 ? { descriptor: referrer, referrers: [] } : await referrerTree(repository, referrer, artifactType, Math.max(0, depth - 1), seen),
    );
  }
  return node;
}

/** Plain YAML scalars that read back as something other than a string: yaml.v3 quotes these. */
const YAML_NON_STRINGS = [
  /^(?:~|null|Null|NULL)$/,
  /^(?:y|Y|yes|Yes|YES|n|N|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF)$/,
  /^[-+]?(?:\d[\d_]*(?:\.[\d_]*)?|\.\d[\d_]*)(?:[eE][-+]?\d+)?$/,
  /^[-+]?0(?:b[01_]+|o?[0-7_]+|x[\da-fA-F_]+)$/,
  /^[-+]?\.(?:inf|Inf|INF)$|^\.(?:nan|NaN|NAN)$/,
  /^[-+]?\d[\d_]*(?::[0-5]?\d)+(?:\.[\d_]*)?$/,
  /^\d{4}-\d\d?-\d\d?(?:(?:[Tt]|[ \t]+)\d\d?:\d\d:\d\d(?:\.\d*)?(?:[ \t]*(?:Z|[-+]\d\d?(?::\d\d)?))?)?$/,
];

/** A YAML scalar as yaml.v3 writes it: plain when that reads back as the same string, else double-quoted. */
function yamlScalar(text: string): string {
  const plain = /^[^\s\-?:,[\]{}#&*!|>'"%@`][^\n]*$/.test(text) && !/\s$|: | #/.test(text) && !YAML_NON_STRINGS.some((pattern) => pattern.test(text));
  return plain ? text : JSON.stringify(text);
}

/** One annotation as oras prints it under `[annotations]`: YAML's `key: value`. */
export const yamlPair = (key: string, value: string) => `${yamlScalar(key)}: ${yamlScalar(value)}`;

type TreeNode = { label: string; children: TreeNode[] };

/** oras's tree printer: a node's label, then each child after box-drawing edges. */
function renderTree(node: TreeNode, prefix = ""): string {
  return `${node.label}\n` + node.children.map((child, i) => {
    const last = i === node.children.length - 1;
    return prefix + (last ? "└── " : "├── ") + renderTree(child, prefix + (last ? "    " : "│   "));
  }).join("");
}

/** oras groups referrers by artifact type, then lists each digest with its annotations (sorted here). */
function treeChildren(node: Node): TreeNode[] {
  const groups: TreeNode[] = [];
  for (const referrer of node.referrers) {
    const type = referrer.descriptor.artifactType || "<unknown>";
    let group = groups.find((candidate) => candidate.label === type);
    if (!group) groups.push((group = { label: type, children: [] }));
    const annotations = Object.entries(referrer.descriptor.annotations ?? {}).sort(([a], [b]) => (a < b ? -1 : 1));
    group.children.push({
      label: referrer.descriptor.digest,
      children: [
        ...(annotations.length > 0 ? [{ label: "[annotations]", children: annotations.map(([k, v]) => ({ label: yamlPair(k, v), children: [] })) }] : []),
        ...treeChildren(referrer),
      ],
    });
  }
  return groups;
}

/** discover takes its deprecated -o as --format, so it checks the flag itself. */
const FORMATS = ["tree", "json"];

const toJson = (path: string, node: Node): unknown => ({ ...describe(path, node.descriptor), referrers: node.referrers.map((child) => toJson(path, child)) });

export const discover: Command = {
  use: "discover [flags] <name>{:<tag>|@<digest>}",
  summary: "[Preview] Discover referrers of a manifest in a registry",
  examples: [
    ["Discover referrers of manifest 'hello:v1' in registry 'localhost:5000', displayed in a tree view", "oras discover localhost:5000/hello:v1"],
    ["Discover only direct referrers, displayed in json view", "oras discover localhost:5000/hello:v1 --format json --depth 1"],
    ["Discover referrers with type 'test-artifact' of manifest 'hello:v1' in registry 'localhost:5000'", "oras discover --artifact-type test-artifact localhost:5000/hello:v1"],
  ],
  flags: {
    ...remoteFlags(),
    ...NO_TTY_FLAG,
    "artifact-type": { type: "string", value: "string", help: "artifact type" },
    depth: { type: "string", value: "int", help: "[Experimental] level of referrers to display, if unused shows referrers of all levels" },
    format: formatFlag(FORMATS),
    output: { type: "string", short: "o", value: "string", help: "[Deprecated] format in which to display referrers (tree or json)" },
  },
  exclusive: [["format", "output"]],
  args: [1, 1],
  argsHelp: "the target artifact to discover referrers from",
  async run(flags, [raw], io) {
    if (flags.output !== undefined) {
      io.err?.(`[DEPRECATED] --output is deprecated, try \`--format ${flags.output}\` instead\n`);
    }
    const format = outputFormat((flags.format ?? flags.output) as string | undefined, FORMATS);
    const depth = flags.depth === undefined ? 0 : Number(flags.depth);
    if (flags.depth !== undefined && !(Number.isInteger(depth) && depth >= 1)) throw new UsageError("depth value should be at least 1");
    const target = parseTarget(raw);
    const repository = repositoryOf(target, flags, io);
    const { mediaType, digest, size } = await repository.resolve(requireReference(discover, target));
    const root = await referrerTree(repository, { mediaType, digest, size }, flags["artifact-type"] as string | undefined, depth);
    if (format === "json") printJson(io, toJson(target.path, root));
    else io.out(renderTree({ label: `${target.path}@${digest}`, children: treeChildren(root) }));
  },
};
