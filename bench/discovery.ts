// Discovery at fleet scale: N generated agent cards in a registry of its own, found with a skill
// filter five ways, each as a user runs it (`discover`, one process of this runtime):
//   crawl, cold             every repository, tag, manifest and card (an empty cache)
//   crawl, warm             the same with the cache of the run before: manifests only
//   index only, first read  the index alone (--index-only), its shards fetched
//   index only              the same again: the shards come from the cache, one request is left
//   index + check           the index, then each selected repository's tags and manifests, and
//                           verified status
// Every figure is the median (min-max) of RUNS runs; each ratio is taken within one run. The
// index is written once, by `discover --refresh`, which is timed too. The machine's load is
// recorded with each run: on a shared machine it says how far to trust the seconds.
//
//   deno run -A bench/discovery.ts     or   node --import tsx bench/discovery.ts
//   N=1000 (cards; the target is N=10000)   RUNS=3   SKILL=review_change
import { spawn } from "node:child_process";
import { mkdir, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { env } from "../lib/env.ts";
import { UsageError } from "../lib/errors.ts";
import { Registry } from "../lib/oci/registry.ts";
import { say, table } from "../lib/step/output.ts";
import { startTestRegistry } from "../lib/registry-server.ts";
import { reportFailure } from "../lib/step/run.ts";
import { pushFleet } from "./fleet.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const OUT = path.join(ROOT, "tmp/bench");
/** Each way, in the order of a run, and what of the cache it starts without. */
const MODES = {
  "crawl, cold": { args: ["--crawl"], forget: "" },
  "crawl, warm": { args: ["--crawl"], forget: undefined },
  "index only, first read": { args: ["--index-only"], forget: "shards" },
  "index only": { args: ["--index-only"], forget: undefined },
  "index + check": { args: [], forget: undefined },
} as const;
type Mode = keyof typeof MODES;

const wholeNumber = (name: string, fallback: number) => {
  const text = env.option(name) ?? String(fallback);
  if (!/^[1-9]\d*$/.test(text)) throw new UsageError(`${name} must be a whole number from 1, not ${JSON.stringify(text)}`);
  return Number(text);
};

/**
 * `discover` as the Makefile's runtime runs it: its wall seconds, its CPU seconds (user and
 * system, from the shell's `times`: on a shared machine the wall clock also counts waiting for
 * a core), and how many cards it found.
 */
function discover(args: readonly string[], extraEnv: Record<string, string>): Promise<{ seconds: number; cpu: number; cards: number }> {
  const command = "Deno" in globalThis
    ? [path.join(ROOT, "node_modules/.bin/deno"), "run", "-A", "--quiet", "--v8-flags=--max-semi-space-size=2", "scripts/discover.ts"]
    : [process.execPath, "--max-semi-space-size=2", "--import", "tsx", "scripts/discover.ts"];
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn("sh", ["-c", '"$@"; status=$?; times >&2; exit $status', "sh", ...command, "--json", ...args], {
      cwd: ROOT,
      env: { ...process.env, NO_COLOR: "1", ...extraEnv },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let [stdout, stderr] = ["", ""];
    child.stdout.on("data", (chunk) => (stdout += chunk));
    child.stderr.on("data", (chunk) => (stderr += chunk));
    child.on("error", reject);
    child.on("close", (code) => {
      const seconds = (performance.now() - started) / 1000;
      if (code !== 0) return reject(new Error(`discover ${args.join(" ")} exited ${code}:\n${stderr}`));
      // The last line of `times` is the children's user and system time: "0m1.234s 0m0.321s".
      const [user, system] = [...stderr.trim().split("\n").pop()!.matchAll(/(\d+)m([\d.]+)s/g)].map(([, m, sec]) => Number(m) * 60 + Number(sec));
      resolve({ seconds, cpu: user + system, cards: JSON.parse(stdout).cards.length });
    });
  });
}

function spread(values: number[]) {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  const median = sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
  return { median, min: sorted[0], max: sorted[sorted.length - 1] };
}

const shown = ({ median, min, max }: ReturnType<typeof spread>, digits = 2) =>
  `${median.toFixed(digits)} (${min.toFixed(digits)}-${max.toFixed(digits)})`;

try {
  if (process.argv.includes("--help")) {
    console.log("Discovery at fleet scale; see the head of bench/discovery.ts.\n\nExample: N=10000 deno run -A bench/discovery.ts");
  } else {
    const n = wholeNumber("N", 1000);
    const runs = wholeNumber("RUNS", 3);
    const skill = env.option("SKILL") ?? "review_change";
    const runtime = "Deno" in globalThis ? "deno" : "node";
    const registry = await startTestRegistry();
    try {
      say.banner(`Discovery: ${n.toLocaleString("en-US")} cards, --skill ${skill}, ${runs} runs, ${runtime}`);
      const pushStarted = performance.now();
      await pushFleet(new Registry(registry.address), n);
      say.note(`pushed ${n} cards in ${((performance.now() - pushStarted) / 1000).toFixed(1)} s`);
      await mkdir(OUT, { recursive: true });
      const cache = path.join(OUT, "discovery-cache");
      const base = { REGISTRY: registry.address, SKILL: skill, DISCOVERY_CACHE: cache };

      await rm(cache, { recursive: true, force: true });
      const refresh = await discover(["--refresh"], base);
      say.note(`discover --refresh (crawl, then the index written) took ${refresh.seconds.toFixed(2)} s`);
      const modes = Object.keys(MODES) as Mode[];
      const seconds = Object.fromEntries(modes.map((mode) => [mode, [] as number[]])) as Record<Mode, number[]>;
      const cpu = Object.fromEntries(modes.map((mode) => [mode, [] as number[]])) as Record<Mode, number[]>;
      const load: number[] = [];
      let found: number | undefined;
      for (let run = 1; run <= runs; run++) {
        load.push(os.loadavg()[0]);
        for (const mode of modes) {
          const forget = MODES[mode].forget;
          if (forget !== undefined) await rm(path.join(cache, forget), { recursive: true, force: true });
          const result = await discover(MODES[mode].args, base);
          // Every way must find the same cards, or the fast one is fast for the wrong reason.
          found ??= result.cards;
          if (result.cards !== found) throw new Error(`${mode} found ${result.cards} cards, the others ${found}`);
          seconds[mode].push(result.seconds);
          cpu[mode].push(result.cpu);
        }
        say.note(`run ${run} (load ${load[run - 1].toFixed(1)}): ${modes.map((mode) => `${mode} ${seconds[mode][run - 1].toFixed(2)} s`).join(", ")}`);
      }
      const ratio = (mode: Mode) => spread(seconds[mode].map((value, run) => seconds["crawl, cold"][run] / value));
      say.line(`\n${found} of ${n} cards have the skill ${skill}; seconds per discover, including the process start:`);
      table(
        ["How", "seconds", "CPU seconds", "crawl (cold) / this"],
        modes.map((mode) => [mode, shown(spread(seconds[mode])), shown(spread(cpu[mode])), mode === "crawl, cold" ? "1" : shown(ratio(mode), 1)]),
      );
      say.note(`load average (1 min) at the start of each run: ${load.map((value) => value.toFixed(1)).join(", ")} on ${os.cpus().length} cores`);
      const results = { n, runs, skill, runtime, found, refreshSeconds: refresh.seconds, seconds, cpuSeconds: cpu, load };
      await writeFile(path.join(OUT, "discovery.json"), JSON.stringify(results, null, 2) + "\n");
      say.note(`written to ${path.relative(ROOT, path.join(OUT, "discovery.json"))}`);
    } finally {
      await registry.stop();
    }
  }
} catch (error) {
  await reportFailure(error);
}
