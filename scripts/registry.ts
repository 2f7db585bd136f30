// The registry Phase 3 needs on REGISTRY: start one (or reuse what answers), stop what we
// started, say what runs there, or empty it (reset). Each address is managed on its own;
// stop-all (for `make clean`) stops what we started at every address.
import { UsageError } from "../lib/errors.ts";
import { collect, type Registry } from "../lib/oci/registry.ts";
import { ensureRegistry, type Launch, plannedLaunch, planReset, registryStatus, stopAllRegistries, stopRegistry } from "../lib/registry-server.ts";
import { portTakenHint, startRegistryHint } from "../lib/step/advice.ts";
import { shellLine } from "../lib/step/output.ts";
import { confirm, isMain, main, type Step, type StepContext } from "../lib/step/run.ts";

/** A registry's start command as a line to paste: its settings, the command, where its output goes. */
const launchLine = ({ env = {}, argv, log }: Launch) =>
  [...Object.entries(env).map(([name, value]) => `${name}=${shellLine([value])}`), shellLine(argv), ...(log ? [`> ${shellLine([log])} 2>&1 &`] : [])].join(" ");

/** Every repository of a registry with its tags. */
async function contents(registry: Registry): Promise<Record<string, string[]>> {
  const names = await collect(registry.catalog());
  return Object.fromEntries(await Promise.all(names.map(async (name) => [name, await collect(registry.repository(name).tags())] as const)));
}

/** Empties the registry make registry started at REGISTRY, after saying what goes and asking. */
async function reset({ options, out, client }: StepContext) {
  const plan = await planReset(options.registry);
  const held = plan.running ? await contents(client) : undefined;
  out.line(`This empties the registry at ${options.registry}, ${plan.what}.`);
  if (held) {
    const tags = Object.values(held).flat().length;
    out.line(`It removes ${Object.keys(held).length} repositories and ${tags} tags:`);
    for (const [name, tagged] of Object.entries(held)) out.line(`  ${name}: ${tagged.join(", ") || "no tags"}`);
  }
  await confirm(out, "Empty it?");
  out.ok(await plan.reset());
  if (options.json) out.json({ reset: options.registry, removed: held ?? null });
}

export const step: Step = {
  name: "registry",
  section: "Prerequisite: a registry",
  runs: "docker run -d -p 5000:5000 registry:2 (one container per address; Debian's docker-registry where no Docker engine runs)",
  async preview({ options, positionals: [action = "start"] }) {
    const launch = action === "start" ? await plannedLaunch(options.registry) : undefined;
    return launch ? [launchLine(launch)] : [];
  },
  options: ["registry"],
  example: "make registry REGISTRY=localhost:5001   (make reset REGISTRY=localhost:5001 YES=1 empties it)",
  usage: "start|stop|status|reset|stop-all ",
  async body(context) {
    const { options, positionals: [action = "start", ...extra], out } = context;
    if (extra.length > 0 || !["start", "stop", "status", "reset", "stop-all"].includes(action)) {
      throw new UsageError(`unknown action ${JSON.stringify([action, ...extra].join(" "))}`, "Use start, stop, status, reset or stop-all.");
    }
    if (action === "start") {
      const started = await ensureRegistry(options.registry);
      if (started.launch) out.command(launchLine(started.launch));
      out.ok(started.detail);
      if (options.json) out.json(started);
    } else if (action === "stop") {
      const stopped = await stopRegistry(options.registry);
      out.ok(stopped);
      if (options.json) out.json({ stopped });
    } else if (action === "reset") {
      await reset(context);
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
