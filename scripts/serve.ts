// Phase 4: the discovery service, a small HTTP server over a registry (lib/discovery/service.ts
// says what it answers). Runs until Ctrl-C or SIGTERM, then stops taking requests, lets those
// in flight finish, and exits 0.
import { openDiscoveryCache } from "../lib/step/discovery.ts";
import { listen, ListenError } from "../lib/discovery/listen.ts";
import { DiscoveryService } from "../lib/discovery/service.ts";
import { env } from "../lib/env.ts";
import { EnvironmentError, UsageError } from "../lib/errors.ts";
import { rebuildIndexHint } from "../lib/step/advice.ts";
import { isMain, main, type Step } from "../lib/step/run.ts";
import { cardPolicy } from "../lib/step/trust.ts";
import { readTrustStore } from "../lib/trust/store.ts";

/** How long requests in flight may take to finish once a stop is asked for. */
const DRAIN_MS = 5000;

function listenAddress(text: string): { host: string; port: number } {
  const match = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(text);
  if (!match || Number(match[2]) > 65535) {
    throw new UsageError(
      `invalid listen address ${JSON.stringify(text)}: expected host:port, e.g. 127.0.0.1:8080`,
      "Set --addr (env SERVE_ADDR) to host:port; port 0 picks a free one.",
    );
  }
  return { host: match[1].replace(/^\[|\]$/g, ""), port: Number(match[2]) };
}

export const step: Step = {
  name: "serve",
  section: "Phase 4: Discovery Service",
  runs: "no oras command: an HTTP server answering GET /, /agents and /agents/{agent}/{tag}/.well-known/agent-card.json from REGISTRY",
  options: ["registry", "verify", "trust"],
  flags: {
    addr: { type: "string", help: "where to listen, host:port (env SERVE_ADDR, default 127.0.0.1:8080; port 0 picks a free one)" },
    "index-only": { type: "boolean", env: "INDEX_ONLY", help: "list what the index says without checking it against the registry" },
  },
  example: "make serve SERVE_ADDR=127.0.0.1:8081, then open http://127.0.0.1:8081/ or curl http://127.0.0.1:8081/agents?skill=create_plan",
  async body({ options, flags, out, client }) {
    const { host, port } = listenAddress((flags.addr as string | undefined) ?? env.serveAddr);
    const service = new DiscoveryService({
      registry: client,
      cache: openDiscoveryCache(),
      trust: await readTrustStore(options.trustStore),
      policy: cardPolicy(options),
      indexOnly: Boolean(flags["index-only"]),
      log: (line) => out.note(line),
      staleHint: rebuildIndexHint(options),
    });
    try {
      // From the index alone, so that it answers at once; a registry that cannot be reached is said now.
      const view = await service.start();
      const server = await listen(host, port, (asked) => service.answer(asked)).catch((error) => {
        if (!(error instanceof ListenError)) throw error;
        throw new EnvironmentError(`cannot listen on ${host}:${port}: ${error.message}`, "Pick another address with SERVE_ADDR=127.0.0.1:8081 (or --addr).");
      });
      const shown = `http://${host.includes(":") ? `[${host}]` : host}:${server.port}`;
      out.ok(`serving ${view.found.entries.length} agent cards of ${options.registry} at ${shown}/ (JSON at ${shown}/agents); Ctrl-C stops it`);
      if (options.json) out.json({ page: `${shown}/`, agents: `${shown}/agents`, cards: view.found.entries.length });

      // The step's own interrupt handling exits at once; a server stops gracefully instead.
      const signal = await new Promise<NodeJS.Signals>((resolve) => {
        for (const name of ["SIGINT", "SIGTERM"] as const) {
          process.removeAllListeners(name);
          process.once(name, () => resolve(name));
        }
      });
      out.note(`${signal}: stopping; requests in flight may finish`);
      await server.close(DRAIN_MS);
      out.ok("stopped");
    } finally {
      service.stop();
    }
  },
};

if (isMain(import.meta)) await main(step);
