// Many agent cards at once: a fleet of generated cards pushed, listed, pulled back and verified
// side by side, over one Registry. `make bench` measures it at up to 10,000 cards; the fleet
// tests check it against a real registry and skopeo.
import { readFile } from "node:fs/promises";
import path from "node:path";
import { CARD_TYPE, cardFileName, validateCardBytes } from "./cards.ts";
import { compareCard } from "./compare.ts";
import { mapLimit } from "./concurrency.ts";
import { pullArtifact, pushArtifact } from "./oci/artifacts.ts";
import { OciError } from "./oci/errors.ts";
import { CREATED_ANNOTATION } from "./oci/manifest.ts";
import { REPOSITORY_PATTERN } from "./oci/reference.ts";
import { collect, type Registry } from "./oci/registry.ts";
import { isContentFailure } from "./errors.ts";

/** Where fleet cards live: `<registry>/fleet/fleet-00042:v1`. */
export const FLEET_NAMESPACE = "fleet";

/**
 * A fixed creation time, so the same fleet always has the same manifest digests and a second
 * push of it finds every card already there.
 */
export const FLEET_CREATED = "2025-01-01T00:00:00Z";

/**
 * Cards at once. Measured on 2 cores against Distribution: at 4 the registry waits on round
 * trips, and 16 or 32 were no faster than 8, only queued there.
 */
export const DEFAULT_CONCURRENCY = 8;

export interface FleetCard {
  agent: string;
  repository: string;
  fileName: string;
  bytes: Uint8Array;
}

const SKILLS = [
  {
    id: "summarise_text",
    name: "Summarise text",
    description: "Condenses a document into a short summary",
    tags: ["text", "summary"],
    input_schema: {
      type: "object",
      properties: { text: { type: "string", minLength: 1 }, max_words: { type: "integer", minimum: 10 } },
      required: ["text"],
    },
    output_schema: { type: "object", properties: { summary: { type: "string" } }, required: ["summary"] },
  },
  {
    id: "review_change",
    name: "Review a change",
    description: "Reviews a diff and lists the problems it finds",
    tags: ["code", "review"],
    input_schema: { type: "object", properties: { diff: { type: "string" } }, required: ["diff"] },
    output_schema: {
      type: "object",
      properties: {
        findings: {
          type: "array",
          items: { type: "object", properties: { line: { type: "integer" }, problem: { type: "string" } } },
        },
      },
      required: ["findings"],
    },
  },
  {
    id: "answer_question",
    name: "Answer a question",
    description: "Answers questions about a project's documentation",
    tags: ["docs", "qa"],
  },
];

const fleetAgent = (index: number) => `fleet-${String(index).padStart(5, "0")}`;

/** The index a fleet repository was made from, or undefined for any other repository. */
export function fleetIndex(repository: string): number | undefined {
  const match = repository.match(new RegExp(`^${FLEET_NAMESPACE}/fleet-(\\d+)$`));
  return match ? Number(match[1]) : undefined;
}

/**
 * Card number `index` of the fleet: a valid A2A card, the same bytes every time, so the
 * original can be made again for verification instead of being kept in memory.
 */
export function fleetCard(index: number): FleetCard {
  const agent = fleetAgent(index);
  const card = {
    name: `${agent}-agent`,
    description: `Agent ${index} of a generated fleet, for load tests and discovery.`,
    url: `http://agents.fleet.test/${agent}`,
    version: `1.${index % 7}.${index % 3}`,
    protocolVersion: "0.3.0",
    preferredTransport: "JSONRPC",
    provider: { organization: "Pallet Workshop", url: "https://pallet.dev" },
    capabilities: { streaming: index % 2 === 0, pushNotifications: false, stateTransitionHistory: index % 5 === 0 },
    defaultInputModes: ["text/plain", "application/json"],
    defaultOutputModes: ["application/json"],
    skills: [SKILLS[index % SKILLS.length], SKILLS[(index + 1) % SKILLS.length]],
  };
  return {
    agent,
    repository: `${FLEET_NAMESPACE}/${agent}`,
    fileName: cardFileName(agent),
    bytes: new TextEncoder().encode(JSON.stringify(card, null, 2) + "\n"),
  };
}

/** What `oras push --artifact-type CARD_TYPE` makes of a fleet card: one layer, created at FLEET_CREATED. */
export const fleetArtifact = (card: FleetCard) => ({
  layers: [{ title: card.fileName, mediaType: "application/json", bytes: card.bytes }],
  options: { artifactType: CARD_TYPE, annotations: { [CREATED_ANNOTATION]: FLEET_CREATED } },
});

const indices = (count: number) => Array.from({ length: count }, (_, index) => index);

/** Pushes cards 0 … count-1, `concurrency` at a time, through one client. */
export async function pushFleet(
  registry: Registry,
  count: number,
  options: { tag?: string; concurrency?: number } = {},
): Promise<void> {
  await mapLimit(indices(count), options.concurrency ?? DEFAULT_CONCURRENCY, async (index) => {
    const card = fleetCard(index);
    const { layers, options: manifest } = fleetArtifact(card);
    await pushArtifact(registry.repository(card.repository), options.tag ?? "v1", layers, manifest);
  });
}

/** Every repository of the registry below `namespace/`, through every catalog page. */
export async function listRepositories(registry: Registry, namespace = FLEET_NAMESPACE): Promise<string[]> {
  return (await collect(registry.catalog())).filter((repository) => repository.startsWith(namespace + "/"));
}

export interface FleetCheck {
  verified: number;
  failed: { repository: string; problem: string }[];
}

/**
 * Pulls `repository:tag` of each repository into `outDir/<repository>` (cards of different
 * repositories often share a file name) and checks the card: against its original when
 * `original` knows one, else against the card schema. A card that fails is listed and the
 * others are still checked; a registry that cannot be reached stops it all.
 */
export async function pullAndVerify(
  registry: Registry,
  repositories: string[],
  outDir: string,
  options: { tag?: string; concurrency?: number; original?: (repository: string) => Uint8Array | undefined } = {},
): Promise<FleetCheck> {
  const check: FleetCheck = { verified: 0, failed: [] };
  await mapLimit(repositories, options.concurrency ?? DEFAULT_CONCURRENCY, async (repository) => {
    let problem: string | undefined;
    try {
      // The names come from the registry; only valid ones may become directories.
      if (!REPOSITORY_PATTERN.test(repository)) throw new OciError("invalid-content", "is not a valid repository name");
      const { files } = await pullArtifact(registry.repository(repository), options.tag ?? "v1", path.join(outDir, repository));
      if (files.length !== 1) throw new OciError("invalid-content", `holds ${files.length} files, not one agent card`);
      const pulled = await readFile(files[0].path);
      const original = options.original?.(repository);
      if (original) {
        const comparison = await compareCard(original, pulled, files[0].digest);
        problem = comparison.checks.filter((c) => !c.ok).map((c) => `${c.name}: ${c.detail}`).join("; ") || undefined;
      } else {
        problem = validateCardBytes(pulled, files[0].title).problems.join("; ") || undefined;
      }
    } catch (error) {
      if (!isContentFailure(error)) throw error;
      problem = error.message;
    }
    if (problem) check.failed.push({ repository, problem });
    else check.verified++;
  });
  return check;
}

/** The original of a fleet repository, made again from its index. */
export const fleetOriginal = (repository: string): Uint8Array | undefined => {
  const index = fleetIndex(repository);
  return index === undefined ? undefined : fleetCard(index).bytes;
};
