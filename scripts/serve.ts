// Phase 4: the discovery service, a small HTTP server over a registry (lib/discovery/service.ts
// says what it answers). Runs until Ctrl-C or SIGTERM, then stops taking requests, lets those
// in flight finish, and exits 0.
import { createServer } from "node:http";
import { openDiscoveryCache } from "../lib/step/discovery.ts";
import { DiscoveryService } from "../lib/discovery/service.ts";
import { env } from "../lib/env.ts";
import { EnvironmentError, UsageError } from "../lib/errors.ts";
import { rebuildIndexHint } from "../lib/step/advice.ts";
import { isMain, main, type Step } from "../lib/step/run.ts";

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
  options: ["registry"],
  flags: {
    addr: { type: "string", help: "where to listen, host:port (env SERVE_ADDR, default 127.0.0.1:8080; port 0 picks a free one)" },
    "index-only": { type: "boolean", env: "INDEX_ONLY", help: "list what the index says without checking it against the registry" },
  },
  example: "make serve SERVE_ADDR=127.0.0.1:8081, then open http://127.0.0.1:8081/ or curl http://127.0.0.1:8081/agents?skill=create_plan",
  async body({ options, flags, out, client }) {
    const { host, port } = listenAddress((flags.addr as string | undefined) ?? env.serveAddr);
    const service = new DiscoveryService({
      registry: client,
      cache: await openDiscoveryCache(),
      indexOnly: Boolean(flags["index-only"]),
      log: (line) => out.note(line),
      staleHint: rebuildIndexHint(options),
    });
    // A registry that cannot be reached is said now, not at the first request.
    const found = await service.current();

    const server = createServer((request, response) => void service.handle(request, response));
    await new Promise<void>((resolve, reject) => {
      server.once("error", (error: NodeJS.ErrnoException) => {
        reject(
          error.code === "EADDRINUSE" || error.code === "EACCES" || error.code === "EADDRNOTAVAIL"
            ? new EnvironmentError(`cannot listen on ${host}:${port}: ${error.code === "EADDRINUSE" ? "the port is in use" : error.message}`, "Pick another address with SERVE_ADDR=127.0.0.1:8081 (or --addr).")
            : error,
        );
      });
      server.listen(port, host, () => resolve());
    });
    const address = server.address();
    const bound = typeof address === "object" && address ? address.port : port;
    const shown = `http://${host.includes(":") ? `[${host}]` : host}:${bound}`;
    out.ok(`serving ${found.entries.length} agent cards of ${options.registry} at ${shown}/ (JSON at ${shown}/agents); Ctrl-C stops it`);
    if (options.json) out.json({ page: `${shown}/`, agents: `${shown}/agents`, cards: found.entries.length });

    // The step's own interrupt handling exits at once; a server stops gracefully instead.
    const signal = await new Promise<NodeJS.Signals>((resolve) => {
      for (const name of ["SIGINT", "SIGTERM"] as const) {
        process.removeAllListeners(name);
        process.once(name, () => resolve(name));
      }
    });
    out.note(`${signal}: stopping; requests in flight may finish`);
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeIdleConnections();
    const drained = setTimeout(() => server.closeAllConnections(), DRAIN_MS);
    await closed;
    clearTimeout(drained);
    out.ok("stopped");
  },
};

if (isMain(import.meta)) await main(step);
