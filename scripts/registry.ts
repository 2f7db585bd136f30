// The registry Phase 3 needs on REGISTRY: start one (or reuse what answers), stop what we
// started, or say what runs there. Each address is managed on its own; stop-all (for
// `make clean`) stops what we started at every address.
import { UsageError } from "../lib/errors.ts";

import { ensureRegistry, registryStatus, stopAllRegistries, stopRegistry } from "../lib/registry-server.ts";
import { portTakenHint, startRegistryHint } from "../lib/step/advice.ts";
import { isMain, main, type Step } from "../lib/step/run.ts";

export const step: Step = {
  name: "registry",
  section: "Prerequisite: a registry",
  runs: "docker run -d -p 5000:5000 registry:2 (one container per address; Debian's docker-registry where no Docker engine runs)",
  options: ["registry"],
  example: "make registry REGISTRY=localhost:5001",
  usage: "start|stop|status|stop-all ",
  async body({ options, positionals: [action = "start", ...extra], out }) {
    if (extra.length > 0 || !["start", "stop", "status", "stop-all"].includes(action)) {
      throw new UsageError(`unknown action ${JSON.stringify([action, ...extra].join(" "))}`, "Use start, stop, status or stop-all.");
    }
    if (action === "start") {
      const started = await ensureRegistry(options.registry);
      out.ok(started.detail);
      if (options.json) out.json(started);
    } else if (action === "stop") {
      const stopped = await stopRegistry(options.registry);
      out.ok(stopped);
      if (options.json) out.json({ stopped });
    } else if (action === "stop-all") {
      const stopped = await stopAllRegistries();
      for (const line of stopped) out.ok(line);
      if (stopped.length === 0) out.ok("no registry started by make registry runs; nothing to stop");
      if (options.json) out.json({ stopped });
    } else {
      const status = await registryStatus(options.registry);
      if (status.state === "answering") {
        out.ok(`a registry answers at ${options.registry}` + (status.startedByUs ? ` (${status.how}, started by make registry)` : " (not started by us)"));
      } else if (status.state === "down") {
        out.fail(`no registry answers at ${options.registry}`);
        out.hint(startRegistryHint(options));
      } else {
        out.fail(`something at ${options.registry} accepts connections but does not answer as a registry`);
        out.hint(portTakenHint(options));
      }
      if (options.json) out.json(status);
      return status.state === "answering" ? 0 : 2;
    }
  },
};

if (isMain(import.meta)) await main(step);
