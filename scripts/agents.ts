// Phase 5: the agents, as they run. Each agent `make run` started, with its version, process,
// health (its card URL serves its packaged card), uptime and what it may do; each other agent of
// AGENTS that answers at its card's URL anyway (one from the workshop's Phase 2, say); and drift,
// a live card that differs from the registry's REGISTRY/agents/<agent>:<tag>. RESTART=1 starts
// the agents found dead again, from the digest they ran.
import { readFile } from "node:fs/promises";
import path from "node:path";
import { PACKAGE_LAYERS } from "../lib/agents/package.ts";
import { liveCard, sameBytes, sameCard } from "../lib/agents/process.ts";
import type { AgentRuns, AgentState } from "../lib/agents/runs.ts";
import type { Registry } from "../lib/oci/registry.ts";
import { agentRuns, publishedCard, ready, shortDigest, startAgent, STARTS_AGENTS } from "../lib/step/agents.ts";
import { isMain, main, type Step } from "../lib/step/run.ts";

interface Row {
  agent: string;
  tag?: string;
  digest?: string;
  pid?: number;
  url?: string;
  health: "healthy" | "unhealthy" | "dead" | "not started here" | "not running";
  drift?: string;
  uptimeSeconds?: number;
  permissions?: string[];
  may?: string;
}

// A package's card may carry a signature the published card does not: that alone is no drift.
const drift = (live: Uint8Array | undefined, published: Uint8Array | undefined, agent: string, tag: string) =>
  live && published && !sameCard(live, published) ? `live card differs from agents/${agent}:${tag}` : undefined;

async function rowOf(runs: AgentRuns, registry: Registry, agent: string, tag: string, state: AgentState | undefined): Promise<Row> {
  if (!state) {
    const published = await publishedCard(registry, agent, tag);
    const url = published && (JSON.parse(new TextDecoder().decode(published)) as { url?: string }).url;
    const live = url ? await liveCard(url) : undefined;
    return { agent, url, health: live ? "not started here" : "not running", drift: drift(live, published, agent, tag) };
  }
  const { tag: running, digest, pid, url, permissions, may } = state;
  const alive = runs.isRunning(state);
  const live = alive ? await liveCard(`http://127.0.0.1:${state.port}`) : undefined;
  const packaged = await readFile(path.join(runs.packageDir(agent, digest), PACKAGE_LAYERS.card.title)).catch(() => undefined);
  return {
    agent,
    tag: running,
    digest,
    pid,
    url,
    health: !alive ? "dead" : packaged && sameBytes(live, packaged) ? "healthy" : "unhealthy",
    drift: drift(live, await publishedCard(registry, agent, running), agent, running),
    uptimeSeconds: alive ? Math.round((Date.now() - Date.parse(state.started)) / 1000) : undefined,
    permissions,
    may,
  };
}

function uptime(seconds: number | undefined): string {
  if (seconds === undefined) return "-";
  if (seconds < 120) return `${seconds} s`;
  if (seconds < 7200) return `${Math.floor(seconds / 60)} min`;
  return `${Math.floor(seconds / 3600)} h ${Math.floor((seconds % 3600) / 60)} min`;
}

export const step: Step = {
  name: "agents",
  section: "Phase 5: Agents",
  runs: "no oras command: reads AGENTS_DIR, asks each agent's card URL for its card, and compares it with REGISTRY/agents/<agent>:<tag>",
  options: ["registry", "agents", "tag", ...STARTS_AGENTS.options],
  defaults: STARTS_AGENTS.defaults,
  flags: { restart: { type: "boolean", env: "RESTART", help: "start the agents found dead again, from the digest they ran, checked as make run checks it" } },
  example: "make agents   (make agents RESTART=1 restarts the dead ones; --json for scripts)",
  async body({ options, flags, out, client }) {
    const runs = agentRuns();
    const agents = [...new Set([...options.agents, ...await runs.known()])];
    if (flags.restart) {
      for (const agent of agents) {
        await runs.withLock(agent, async () => {
          const state = await runs.state(agent);
          if (!state || runs.isRunning(state)) return;
          out.note(`${agent} ${state.tag} (pid ${state.pid}) is dead: starting ${shortDigest(state.digest)} again`);
          const started = await startAgent({ out }, runs, await ready({ options, out }, runs, agent, state), { port: state.port, previous: state.previous });
          out.ok(`${agent} ${started.tag} is healthy again at ${started.url} (pid ${started.pid})`);
        });
      }
    }
    const rows = await Promise.all(agents.map(async (agent) => rowOf(runs, client, agent, options.tag, await runs.state(agent))));
    out.table(
      ["Agent", "Tag", "Digest", "PID", "URL", "Health", "Uptime", "May"],
      rows.map((row) => [
        row.agent,
        row.tag ?? "-",
        row.digest ? shortDigest(row.digest) : "-",
        row.pid ? String(row.pid) : "-",
        row.url ?? "-",
        row.drift ? `${row.health}; drift: ${row.drift}` : row.health,
        uptime(row.uptimeSeconds),
        row.may ?? "-",
      ]),
    );
    if (options.json) out.json({ agents: rows });
  },
};

if (isMain(import.meta)) await main(step);
