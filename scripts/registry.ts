// The registry Phase 3 needs on REGISTRY: start one (or reuse what answers), stop what we
// started, or say what runs there. Each address is managed on its own; stop-all (for
// `make clean`) stops what we started at every address.
import { UsageError } from "../lib/errors.ts";
import { printJson, say } from "../lib/step/output.ts";
import { ensureRegistry, registryStatus, stopAllRegistries, stopRegistry } from "../lib/registry-server.ts";
import { runStep } from "../lib/step/run.ts";

await runStep({
  name: "registry",
  section: "Prerequisite: a registry",
  runs: "docker run -d -p 5000:5000 registry:2 (one container per address; Debian's docker-registry where no Docker engine runs)",
  options: ["registry"],
  example: "make registry REGISTRY=localhost:5001",
  usage: "start|stop|status|stop-all ",
}, async ({ options, positionals: [action = "start", ...extra] }) => {
  if (extra.length > 0 || !["start", "stop", "status", "stop-all"].includes(action)) {
    throw new UsageError(`unknown action ${JSON.stringify([action, ...extra].join(" "))}`, "Use start, stop, status or stop-all.");
  }
  if (action === "start") {
    const started = await ensureRegistry(options.registry);
    say.ok(started.detail);
    if (options.json) printJson(started);
  } else if (action === "stop") {
    const stopped = await stopRegistry(options.registry);
    say.ok(stopped);
    if (options.json) printJson({ stopped });
  } else if (action === "stop-all") {
    const stopped = await stopAllRegistries();
    for (const line of stopped) say.ok(line);
    if (stopped.length === 0) say.ok("no registry started by make registry runs; nothing to stop");
    if (options.json) printJson({ stopped });
  } else {
    const status = await registryStatus(options.registry);
    if (status.state === "down") {
      say.fail(`no registry answers at ${options.registry}; start one with: make registry`);
      process.exitCode = 2;
    } else {
      say.ok(`a registry answers at ${options.registry}` + (status.startedByUs ? ` (${status.how}, started by make registry)` : " (not started by us)"));
    }
    if (options.json) printJson(status);
  }
});
