// Phase 5: run an agent from the registry. Resolves its package's tag, pulls that digest (unless
// unpacked already), checks it (lib/agents/trust.ts: its digests, and its card's signature under
// VERIFY, require by default: only code a trusted key signed runs), starts it under Deno with only its own port
// and files (and, for the test agent, the workspace and `deno test`), and waits until its card URL
// serves exactly the card it was packaged with. Two runs of one agent at once start it once.
import { UsageError } from "../lib/errors.ts";
import { AGENT_FLAG, agentOf, agentRuns, fetchPackage, ready, shortDigest, startAgent, STARTS_AGENTS } from "../lib/step/agents.ts";
import { isMain, main, type Step } from "../lib/step/run.ts";

export const step: Step = {
  name: "run",
  section: "Phase 5: Run an Agent from the Registry",
  runs: "oras resolve REGISTRY/agents/<agent>/package:TAG; oras pull REGISTRY/agents/<agent>/package@<digest> -o AGENTS_DIR/<agent>/…; deno run --allow-net=127.0.0.1:<port> …",
  options: ["registry", "tag", ...STARTS_AGENTS.options],
  defaults: STARTS_AGENTS.defaults,
  flags: {
    ...AGENT_FLAG,
    port: { type: "string", env: "PORT", help: "run it on this port instead of its card URL's (when that one is taken, or in tests)" },
  },
  example: "make run AGENT=plan TAG=v1   (PORT=18001 for another port; AGENTS_DIR, WORKSPACE, HEALTH_TIMEOUT=seconds)",
  async body(context) {
    const { options, flags, out } = context;
    const agent = agentOf(flags, "make run AGENT=plan TAG=v1");
    const port = flags.port === undefined ? undefined : Number(flags.port);
    if (port !== undefined && !(Number.isInteger(port) && port > 0 && port < 65536)) {
      throw new UsageError(`invalid port ${JSON.stringify(flags.port)}: a number from 1 to 65535`, "e.g. make run AGENT=plan PORT=18001");
    }
    const runs = agentRuns();
    // Where the time goes, for make bench: the tag resolved (and the package pulled, unless unpacked
    // already), the trust check, and the agent from its spawn to serving its card.
    const ms: Record<string, number> = {};
    const timed = async <T>(part: string, work: () => Promise<T>): Promise<T> => {
      const started = performance.now();
      const result = await work();
      ms[part] = Math.round(performance.now() - started);
      return result;
    };
    const state = await runs.withLock(agent, async () => {
      const version = await timed("fetch", () => fetchPackage(context, runs, agent, options.tag));
      const running = await runs.state(agent);
      if (running && runs.isRunning(running)) {
        if (running.digest !== version.digest) {
          throw new UsageError(
            `${agent} runs ${running.tag} (${shortDigest(running.digest)}) already, not ${options.tag} (${shortDigest(version.digest)})`,
            `Replace it with make upgrade AGENT=${agent} TO=${options.tag}, or stop it first: make stop AGENT=${agent}.`,
          );
        }
        out.ok(`${agent} runs ${running.tag} (${shortDigest(running.digest)}) already: pid ${running.pid} at ${running.url}`);
        return running;
      }
      if (running) out.warn(`${agent} ${running.tag} (pid ${running.pid}) had stopped without make stop; starting it again`);
      const trusted = await timed("trust", () => ready(context, runs, agent, version));
      const started = await timed("start", () => startAgent(context, runs, trusted, { port, previous: running?.previous }));
      out.ok(`${agent} ${started.tag} is healthy at ${started.url} (pid ${started.pid}, ${shortDigest(started.digest)}); it may ${started.may}`);
      return started;
    });
    if (options.json) out.json({ agent: state, ms });
  },
};

if (isMain(import.meta)) await main(step);
