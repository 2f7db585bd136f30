// The registry Phase 3 needs on REGISTRY: start one (or reuse what answers), stop what we
// started, or say what runs there.
import { UsageError } from "../lib/errors.ts";
import { printJson, say } from "../lib/output.ts";
import { ensureRegistry, registryStatus, stopRegistry } from "../lib/registry-server.ts";
import { runStep } from "../lib/step.ts";

await runStep({
  name: "registry",
  section: "Prerequisite: a registry",
  runs: "docker run -d -p 5000:5000 --name registry registry:2 (or Debian's docker-registry where no Docker engine runs)",
  options: ["registry"],
  example: "make registry REGISTRY=localhost:5001",
  usage: "start|stop|status ",
}, async ({ options, positionals: [action = "start", ...extra] }) => {
  if (extra.length > 0 || !["start", "stop", "status"].includes(action)) {
    throw new UsageError(`unknown action ${JSON.stringify([action, ...extra].join(" "))}`, "Use start, stop or status.");
  }
  if (action === "start") {
    const started = await ensureRegistry(options.registry);
    say.ok(started.detail);
    if (options.json) printJson(started);
  } else if (action === "stop") {
    const stopped = await stopRegistry(options.registry);
    say.ok(stopped);
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
