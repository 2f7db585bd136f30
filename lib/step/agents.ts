// What the agent lifecycle steps share (make run, agents, stop, logs, upgrade, rollback, ask):
// the agent they are about, fetching a package from the registry, the one way an agent starts,
// and replacing a running version with a way back.
import { existsSync } from "node:fs";
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import path from "node:path";
import { type AgentState, AgentRuns, type Version } from "../agents/runs.ts";
import { MANIFEST_FILE, needsOf, packageLayers, packageReference, packageRepository, RUNS_TESTS } from "../agents/package.ts";
import { launch, liveCard, permissions, portTaken, sameCard, terminate, waitHealthy } from "../agents/process.ts";
import { checkTrust, type Trusted } from "../agents/trust.ts";
import { cardLayer, fetchCard } from "../discovery/crawl.ts";
import { env } from "../env.ts";
import { CliError, ContentError, EnvironmentError, UsageError } from "../errors.ts";
import { projectDeno } from "../executables.ts";
import { fetchImageManifest } from "../oci/artifacts.ts";
import { PATH_COMPONENT_PATTERN } from "../oci/reference.ts";
import type { Registry } from "../oci/registry.ts";
import { describeTrust } from "../trust/signatures.ts";
import { readTrustStore } from "../trust/store.ts";
import type { CommandFlags, CommandFlagValues, OptionDefaults, OptionName } from "./options.ts";
import { shellLine } from "./output.ts";
import { type StepContext, undoneOnInterrupt, withScratchDir } from "./run.ts";

export type AgentContext = Pick<StepContext, "options" | "remote" | "out" | "client" | "oras">;

/**
 * The options and defaults of every step that starts agents (run, upgrade, rollback, agents for
 * RESTART=1): code pulled from a registry runs only when a key of TRUST_STORE signed its card,
 * unless VERIFY says otherwise. Steps that only read cards keep VERIFY=if-present.
 */
export const STARTS_AGENTS = { options: ["verify", "trust"] as OptionName[], defaults: { verify: "require" } as OptionDefaults };

/** The AGENT flag every lifecycle step takes. */
export const AGENT_FLAG: CommandFlags = { agent: { type: "string", env: "AGENT", help: "the agent: plan, build or test (required)" } };

/** The agent a step is about, checked. */
export function agentOf(flags: CommandFlagValues, example: string): string {
  const agent = flags.agent as string | undefined;
  if (!agent || !PATH_COMPONENT_PATTERN.test(agent)) {
    throw new UsageError(
      agent ? `invalid agent name ${JSON.stringify(agent)}: use lowercase letters and digits, separated by '.', '_' or '-'` : "no agent named",
      `Name it with AGENT (or --agent), e.g. ${example}.`,
    );
  }
  return agent;
}

/** The agents `make run` keeps, in AGENTS_DIR. */
export const agentRuns = () => new AgentRuns(path.resolve(env.agentsDir));

/** The card REGISTRY/agents/<agent>:<tag> holds, or undefined when there is none to be had (none published, no registry). */
export async function publishedCard(registry: Registry, agent: string, tag: string): Promise<Uint8Array | undefined> {
  const repository = registry.repository(`agents/${agent}`);
  try {
    const { descriptor, bytes } = await repository.fetchManifest(tag);
    const card = cardLayer(repository.reference(tag), bytes, descriptor.mediaType);
    return card && await fetchCard(repository, card.layer);
  } catch {
    return undefined;
  }
}

/** The URL a card names. */
export const cardUrl = (card: Uint8Array) => (JSON.parse(new TextDecoder().decode(card)) as { url: string }).url;

/** A shortened digest, as oras prints them: sha256:bf2fea6e7d37. */
export const shortDigest = (digest: string) => digest.slice(0, 19);

/**
 * Resolves the package's tag, then unpacks that digest into its own directory, unless it is there
 * already (a warm cache). The pull goes to a scratch directory renamed into place when complete,
 * so an interrupted one leaves nothing behind; it checks every blob's digest as it streams, and
 * what it pulled must be the digest resolved: a tag moved in between is refused.
 */
export async function fetchPackage(context: AgentContext, runs: AgentRuns, agent: string, tag: string): Promise<Version> {
  const { oras, remote, out, client } = context;
  const reference = packageReference(context.options.registry, agent, tag);
  const { digest } = await oras`resolve ${remote} ${reference}`;
  const dir = runs.packageDir(agent, digest);
  const version = { tag, digest, registry: context.options.registry };
  if (existsSync(dir)) {
    out.ok(`${shortDigest(digest)} is unpacked already in ${path.relative(process.cwd(), dir)}`);
    return version;
  }
  // What the digest names is read first: anything but an agent package is refused before a byte of it is pulled.
  const { bytes, manifest } = await fetchImageManifest(client.repository(packageRepository(agent)), digest);
  packageLayers(reference, manifest);
  await mkdir(runs.dir(agent), { recursive: true });
  await withScratchDir(".unpack-", async (scratch) => {
    const pulled = await oras`pull ${remote} ${reference} -o ${path.relative(process.cwd(), scratch)}`;
    if (pulled.digest !== digest) {
      throw new ContentError(`${reference} moved from ${digest} to ${pulled.digest} while it was pulled; nothing was unpacked`, "Run again to run what it names now.");
    }
    await writeFile(path.join(scratch, MANIFEST_FILE), bytes);
    await rename(scratch, dir);
  }, runs.dir(agent));
  return version;
}

/** An unpacked package that passed the trust check: the only thing startAgent starts. */
export interface Ready {
  agent: string;
  version: Version;
  trusted: Trusted;
}

/**
 * The trust check (lib/agents/trust.ts) of an unpacked version: its digests, and its card's
 * signatures under VERIFY against TRUST_STORE's keys trusted for the registry it came from.
 */
export async function ready({ options, out }: Pick<AgentContext, "options" | "out">, runs: AgentRuns, agent: string, version: Version): Promise<Ready> {
  const { verify, trustStore } = options;
  const store = verify === "off" ? { path: trustStore, keys: [] } : await readTrustStore(trustStore);
  const where = { registry: version.registry, repository: packageRepository(agent) };
  const trusted = await checkTrust(runs.packageDir(agent, version.digest), version.digest, { verify, store, where });
  const said = `${agent} ${version.tag}'s card`;
  if (!trusted.signature) out.warn(`${said}: signatures not checked (VERIFY=off)`);
  else if (trusted.signature.status === "verified") out.ok(`${said}: ${describeTrust(trusted.signature)}`);
  else out.warn(`${said}: ${describeTrust(trusted.signature)}; starting it unchecked (VERIFY=${verify})`);
  return { agent, version, trusted };
}

/** A URL on another port, without the trailing slash cards leave out. */
const onPort = (url: string, port: number) => Object.assign(new URL(url), { port: String(port) }).href.replace(/\/$/, "");

/**
 * The one way an agent starts: on `port` (its card's unless given) if that is free, under Deno
 * with only the permissions its package needs, then healthy (its card URL serves exactly its
 * card) within HEALTH_TIMEOUT, or stopped again and refused. An interrupt meanwhile stops it.
 */
export async function startAgent({ out }: Pick<AgentContext, "out">, runs: AgentRuns, { agent, version, trusted }: Ready, given: { port?: number; previous?: Version } = {}): Promise<AgentState> {
  const published = new URL(cardUrl(trusted.card));
  const port = given.port ?? Number(published.port || (published.protocol === "https:" ? 443 : 80));
  const url = onPort(published.href, port);
  if (await portTaken(port)) {
    const live = await liveCard(url);
    throw new EnvironmentError(
      live === undefined
        ? `port ${port} is taken by something else; not taking it over`
        : sameCard(live, trusted.card)
        ? `an agent not started by make run serves this very card at ${url} already; not starting a second one`
        : `port ${port} is taken by an agent whose card differs from ${agent} ${version.tag} (drift); not taking it over`,
      `Stop what listens there, or run ${agent} on another port: make run AGENT=${agent} PORT=<port>.`,
    );
  }
  const deno = projectDeno();
  const workspace = path.resolve(env.workspace);
  await mkdir(workspace, { recursive: true });
  const needs = needsOf(trusted.manifest);
  const { flags, may } = permissions({ port, dir: trusted.dir, needs, workspace, deno });
  const args = [...flags, path.join(trusted.dir, "agent.js"), "--card", path.join(trusted.dir, "agent-card.json"), "--port", String(port)];
  if (needs.includes(RUNS_TESTS)) args.push("--workspace", workspace, "--deno", deno);
  // The log keeps what the start before printed (a failed upgrade's, say) and this one's.
  const header = `== ${new Date().toISOString()} ${agent} ${version.tag} ${version.digest} ==\n`;
  const before = await readFile(runs.logFile(agent), "utf8").catch(() => "");
  await writeFile(runs.logFile(agent), before.slice(Math.max(0, before.lastIndexOf("\n== ") + 1)) + header);
  const started = launch(deno, args, trusted.dir, runs.logFile(agent));
  out.command(`${shellLine(["deno", ...started.argv])}   # pid ${started.pid}`);
  // The agent listens on 127.0.0.1, whatever host its card names.
  const health = await undoneOnInterrupt(
    () => process.kill(-started.pid, "SIGKILL"),
    () => waitHealthy(`http://127.0.0.1:${port}`, trusted.card, started.exited, env.healthTimeoutMs),
  );
  if (!health.healthy) {
    await terminate(started.pid, port);
    // An agent that fails says why first: a sandbox's refusal, say, then where it happened.
    const printed = (await readFile(runs.logFile(agent), "utf8")).split(header).at(-1)!.trimEnd();
    const log = printed.split("\n").slice(0, 3).map((line) => `  ${line}`).join("\n");
    throw new ContentError(
      `${agent} ${version.tag} (${shortDigest(version.digest)}) did not become healthy: ${health.why}${printed ? `; it printed:\n${log}` : ", printing nothing"}`,
      `The whole log: make logs AGENT=${agent}`,
    );
  }
  const state: AgentState = { agent, ...version, pid: started.pid, port, url, started: new Date().toISOString(), permissions: flags, may, previous: given.previous };
  await runs.save(state);
  await runs.prune(agent, [version, given.previous]);
  return state;
}

/**
 * Replaces the running `current` by `next`: stops it, starts `next` on the same port, and if that
 * never becomes healthy starts `current` again and says so. Both are trust-checked before
 * anything stops.
 */
export async function replaceAgent(context: AgentContext, runs: AgentRuns, current: AgentState, next: Ready): Promise<AgentState> {
  const back = await ready(context, runs, current.agent, current);
  context.out.note(`stopping ${current.agent} ${current.tag} (pid ${current.pid})`);
  if (runs.isRunning(current)) await terminate(current.pid, current.port);
  try {
    return await startAgent(context, runs, next, { port: current.port, previous: { tag: current.tag, digest: current.digest, registry: current.registry } });
  } catch (error) {
    if (!(error instanceof CliError)) throw error;
    context.out.fail(error.message);
    context.out.note(`rolling back to ${current.tag} (${shortDigest(current.digest)})`);
    await startAgent(context, runs, back, { port: current.port, previous: current.previous });
    throw new ContentError(
      `${current.agent} ${next.version.tag} never became healthy; rolled back: ${current.tag} (${shortDigest(current.digest)}) serves again at ${current.url}`,
      `What ${next.version.tag} printed: make logs AGENT=${current.agent}`,
    );
  }
}
