// `make bench`: how fast Phase 3 runs, against the curl floor, and how the client carries a
// fleet of agent cards. Each run gets a registry of its own (fresh storage, free port); every
// figure is the median of the runs with min and max, and each ratio is taken within one run.
//
//   node --import tsx scripts/bench.ts [--large] [--scale]    or    deno run -A scripts/bench.ts …
//   N=1000 (fleet size; --large is N=10000)  RUNS=5 (walkthrough runs)  FLEET_RUNS=3 (1 from N=10000)
//   SCALE=1 (fleets of 100 and 1,000 cards too, and 10,000 from N=10000)  RUNTIME=deno (the Makefile's default)
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { mkdir, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { $, argv } from "zx";
import { fleetCard, fleetOriginal, listRepositories, pullAndVerify, pushFleet } from "../lib/fleet.ts";
import { Registry } from "../lib/oci/registry.ts";
import { say, table } from "../lib/output.ts";
import { startTestRegistry } from "../lib/registry-server.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const OUT = path.join(ROOT, "tmp/bench");
const STEPS = ["push", "list", "manifest", "pull", "verify", "copy"] as const;
const LOOP_CARDS = 100;

const N = Number(process.env.N || (argv.large ? 10_000 : 1000));
const RUNS = Number(process.env.RUNS || 5);
const FLEET_RUNS = Number(process.env.FLEET_RUNS || (N >= 10_000 ? 1 : 3));
const SCALE = Boolean(argv.scale) || process.env.SCALE === "1";
const SCALE_SIZES = N >= 10_000 ? [100, 1000, 10_000] : [100, 1000];
const RUNTIME = process.env.RUNTIME || "deno";
if (![N, RUNS, FLEET_RUNS].every((value) => Number.isInteger(value) && value > 0)) {
  throw new Error("N, RUNS and FLEET_RUNS must be whole numbers from 1");
}
if (RUNTIME !== "node" && RUNTIME !== "deno") throw new Error(`RUNTIME must be node or deno, not ${RUNTIME}`);

const CLOCK_TICKS_PER_S = Number((await $`getconf CLK_TCK`.quiet()).stdout.trim()) || 100;

/** CPU seconds (user + system) a process has used so far, from /proc: the same measure for us and the registry. */
function cpuSeconds(pid: number | "self"): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_S;
}

const peakRssMb = () => Number(readFileSync("/proc/self/status", "utf8").match(/VmHWM:\s*(\d+)/)![1]) / 1024;

/** Starts a new peak, so each fleet run reports its own; where the kernel refuses, the peak is since start. */
async function resetPeakRss() {
  await writeFile("/proc/self/clear_refs", "5").catch(() => {});
}

const progress = (text: string) => process.stderr.write(text + "\n");

interface Spread {
  median: number;
  min: number;
  max: number;
}

function spread(values: number[]): Spread {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  const median = sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
  return { median, min: sorted[0], max: sorted[sorted.length - 1] };
}

/** Wall seconds of one command run to completion; its stderr is the error when it fails. */
function timed(command: string, args: string[], env: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    // Spawned directly, not through zx's shell, so no extra bash start is counted in any step.
    const child = spawn(command, args, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (chunk) => (stderr += chunk));
    child.on("error", reject);
    child.on("close", (code) => {
      if (code === 0) resolve((performance.now() - started) / 1000);
      else reject(new Error(`${command} ${args.join(" ")} exited with ${code}:\n${stderr}`));
    });
  });
}

// Each step as the Makefile runs it, and the curl floor doing the same requests.
const V8_FLAGS = process.env.V8_FLAGS ? [process.env.V8_FLAGS] : [];
const VARIANTS = {
  node: (step: string) => ["node", [...V8_FLAGS, "--import", "tsx", `scripts/${step}.ts`]],
  deno: (step: string) => [
    path.join(ROOT, "node_modules/.bin/deno"),
    ["run", "-A", "--quiet", ...V8_FLAGS.map((flags) => `--v8-flags=${flags}`), `scripts/${step}.ts`],
  ],
  curl: (step: string) => ["bash", ["bench/baseline.sh", step]],
} as const satisfies Record<string, (step: string) => [string, string[]]>;
type Variant = keyof typeof VARIANTS;

/** One walkthrough: every step in order against a registry that is up and empty. */
async function walkthrough(variant: Variant): Promise<Record<string, number>> {
  const registry = await startTestRegistry();
  try {
    const env = {
      REGISTRY: registry.address,
      ORAS_BACKEND: "builtin",
      OUT_DIR: path.join(OUT, "walkthrough", variant),
      NO_COLOR: "1",
    };
    const seconds: Record<string, number> = {};
    for (const step of STEPS) {
      const [command, args] = VARIANTS[variant](step);
      seconds[step] = await timed(command, args, env);
    }
    seconds.total = STEPS.reduce((sum, step) => sum + seconds[step], 0);
    return seconds;
  } finally {
    await registry.stop();
  }
}

async function measureWalkthrough() {
  const variants = Object.keys(VARIANTS) as Variant[];
  const runs: Record<Variant, Record<string, number>>[] = [];
  for (let run = 0; run < RUNS; run++) {
    // Rotated, so that no variant always goes first on a cold machine.
    const order = variants.map((_, i) => variants[(run + i) % variants.length]);
    progress(`walkthrough run ${run + 1}/${RUNS}: ${order.join(", ")}`);
    const results = {} as Record<Variant, Record<string, number>>;
    for (const variant of order) results[variant] = await walkthrough(variant);
    runs.push(results);
  }
  const steps = Object.fromEntries(variants.map((variant) => [
    variant,
    Object.fromEntries([...STEPS, "total"].map((step) => [step, spread(runs.map((run) => run[variant][step]))])),
  ])) as Record<Variant, Record<string, Spread>>;
  const ratio = spread(runs.map((run) => run[RUNTIME as Variant].total / run.curl.total));
  return { steps, ratio };
}

interface FleetFigures {
  n: number;
  push_per_s: number;
  list_s: number;
  pull_verify_per_s: number;
  client_cpu_ms_per_card: number;
  registry_cpu_ms_per_card: number;
  peak_rss_mb: number;
  loop_push_per_s?: number;
  loop_pull_verify_per_s?: number;
}

/** Wall seconds and CPU seconds of this process and of the registry while `work` runs. */
async function phase<T>(registryPid: number, work: () => Promise<T>) {
  const [started, ours, theirs] = [performance.now(), cpuSeconds("self"), cpuSeconds(registryPid)];
  const result = await work();
  return {
    result,
    seconds: (performance.now() - started) / 1000,
    clientCpu: cpuSeconds("self") - ours,
    registryCpu: cpuSeconds(registryPid) - theirs,
  };
}

/** The per-card floor: the curl baseline, one card at a time, into `loop/`. */
async function loopBaseline(address: string, cardsDir: string) {
  const env = { REGISTRY: address };
  const pushS = await timed("bash", ["bench/baseline.sh", "loop-push", cardsDir, "loop"], env);
  const pullS = await timed("bash", ["bench/baseline.sh", "loop-pull-verify", cardsDir, "loop", path.join(OUT, "loop-pulled")], env);
  await rm(path.join(OUT, "loop-pulled"), { recursive: true, force: true });
  return { loop_push_per_s: LOOP_CARDS / pushS, loop_pull_verify_per_s: LOOP_CARDS / pullS };
}

/** One fleet run of n cards on a registry of its own: push, list, pull and verify. */
async function fleetRun(n: number, loopCardsDir?: string): Promise<FleetFigures> {
  const registry = await startTestRegistry();
  const pulledDir = path.join(OUT, "fleet-pulled");
  try {
    const loop = loopCardsDir ? await loopBaseline(registry.address, loopCardsDir) : {};
    const client = new Registry(registry.address);
    await resetPeakRss();
    const push = await phase(registry.pid, () => pushFleet(client, n));
    const list = await phase(registry.pid, () => listRepositories(client));
    if (list.result.length !== n) throw new Error(`the catalog lists ${list.result.length} fleet repositories, not ${n}`);
    const pull = await phase(registry.pid, () => pullAndVerify(client, list.result, pulledDir, { original: fleetOriginal }));
    const { verified, failed } = pull.result;
    if (failed.length > 0) throw new Error(`${failed.length} cards failed verification, e.g. ${JSON.stringify(failed[0])}`);
    if (verified !== n) throw new Error(`verified ${verified} cards, not ${n}`);
    const phases = [push, list, pull];
    return {
      n,
      push_per_s: n / push.seconds,
      list_s: list.seconds,
      pull_verify_per_s: n / pull.seconds,
      client_cpu_ms_per_card: phases.reduce((sum, p) => sum + p.clientCpu, 0) / n * 1000,
      registry_cpu_ms_per_card: phases.reduce((sum, p) => sum + p.registryCpu, 0) / n * 1000,
      peak_rss_mb: peakRssMb(),
      ...loop,
    };
  } finally {
    await registry.stop();
    await rm(pulledDir, { recursive: true, force: true });
  }
}

async function writeLoopCards(): Promise<string> {
  const dir = path.join(OUT, "loop-cards");
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  for (let index = 0; index < LOOP_CARDS; index++) {
    const card = fleetCard(index);
    await writeFile(path.join(dir, card.fileName), card.bytes);
  }
  return dir;
}

async function measureFleet() {
  const loopCards = await writeLoopCards();
  const runs: FleetFigures[] = [];
  for (let run = 0; run < FLEET_RUNS; run++) {
    progress(`fleet run ${run + 1}/${FLEET_RUNS}: ${LOOP_CARDS} cards one at a time with curl, then ${N} cards`);
    runs.push(await fleetRun(N, loopCards));
  }
  const figure = (key: keyof FleetFigures) => spread(runs.map((run) => run[key] as number));
  const keys = Object.keys(runs[0]).filter((key) => key !== "n") as (keyof FleetFigures)[];
  return {
    figures: Object.fromEntries(keys.map((key) => [key, figure(key)])) as Record<keyof FleetFigures, Spread>,
    pushVsLoop: spread(runs.map((run) => run.push_per_s / run.loop_push_per_s!)),
    pullVsLoop: spread(runs.map((run) => run.pull_verify_per_s / run.loop_pull_verify_per_s!)),
    cpuShare: spread(runs.map((run) => run.client_cpu_ms_per_card / run.registry_cpu_ms_per_card)),
    runs,
  };
}

function scalePoint(figures: FleetFigures) {
  const seconds = figures.n / figures.push_per_s + figures.list_s + figures.n / figures.pull_verify_per_s;
  return { ...figures, seconds, ms_per_card: seconds / figures.n * 1000 };
}

async function scaleRuns(sizes: number[]) {
  const points = [];
  for (const n of sizes) {
    progress(`scale: ${n} cards`);
    points.push(scalePoint(await fleetRun(n)));
  }
  return points;
}

const fixed = (digits: number) => (value: number) => value.toFixed(digits);
const cell = (s: Spread, format = fixed(2)) => `${format(s.median)} (${format(s.min)}-${format(s.max)})`;

await mkdir(OUT, { recursive: true });
const [started, loadBefore] = [performance.now(), os.loadavg()[0]];
const walk = await measureWalkthrough();
// Smallest first, the fleet in its place among the sizes: a run leaves this process bigger than
// it found it (see peak RSS), which must not slow a smaller size and flatter the curve.
const smaller = SCALE ? await scaleRuns(SCALE_SIZES.filter((n) => n < N)) : [];
const fleet = await measureFleet();
const larger = SCALE ? await scaleRuns(SCALE_SIZES.filter((n) => n > N)) : [];
const scale = SCALE ? [...smaller, ...(SCALE_SIZES.includes(N) ? [scalePoint(fleet.runs[0])] : []), ...larger] : undefined;

const median = (key: keyof FleetFigures) => fleet.figures[key].median;
const results = {
  walkthrough_s: walk.steps[RUNTIME].total.median,
  walkthrough_by_runtime: { node: walk.steps.node.total.median, deno: walk.steps.deno.total.median },
  baseline_s: walk.steps.curl.total.median,
  fleet: {
    n: N,
    push_per_s: median("push_per_s"),
    pull_verify_per_s: median("pull_verify_per_s"),
    list_s: median("list_s"),
    loop_push_per_s: median("loop_push_per_s"),
    loop_pull_verify_per_s: median("loop_pull_verify_per_s"),
    client_cpu_ms_per_card: median("client_cpu_ms_per_card"),
    registry_cpu_ms_per_card: median("registry_cpu_ms_per_card"),
    peak_rss_mb: median("peak_rss_mb"),
    runtime: "Deno" in globalThis ? "deno" : "node",
    push_vs_loop: fleet.pushVsLoop.median,
    pull_verify_vs_loop: fleet.pullVsLoop.median,
    client_to_registry_cpu: fleet.cpuShare.median,
    spread: fleet.figures,
    runs: fleet.runs,
  },
  default_runtime: RUNTIME,
  walkthrough_to_baseline: walk.ratio.median,
  walkthrough_steps: walk.steps,
  runs: { walkthrough: RUNS, fleet: FLEET_RUNS, loop_cards: LOOP_CARDS },
  ...(scale && { scale }),
  measured_at: new Date().toISOString(),
  // Other work on the machine slows both sides of every ratio, but not always equally.
  load_average: { before: loadBefore, after: os.loadavg()[0] },
  bench_s: (performance.now() - started) / 1000,
};
await writeFile(path.join(OUT, "results.json"), JSON.stringify(results, null, 2) + "\n");
for (const scratch of ["walkthrough", "loop-cards"]) await rm(path.join(OUT, scratch), { recursive: true, force: true });

say.banner(`Walkthrough, seconds after the registry is up: median (min-max) of ${RUNS} runs`);
table(
  ["Step", "node", "deno", "bash + curl"],
  [...STEPS, "total"].map((step) => [step, cell(walk.steps.node[step]), cell(walk.steps.deno[step]), cell(walk.steps.curl[step])]),
);

say.banner(`Fleet of ${N} cards under ${results.fleet.runtime}: median (min-max) of ${FLEET_RUNS} runs`);
const rate = fixed(0);
table(["Figure", "Value"], [
  ["push, cards/s", cell(fleet.figures.push_per_s, rate)],
  ["list (catalog, every page), s", cell(fleet.figures.list_s)],
  ["pull + verify, cards/s", cell(fleet.figures.pull_verify_per_s, rate)],
  [`curl one card at a time: push, cards/s (${LOOP_CARDS} cards)`, cell(fleet.figures.loop_push_per_s!, rate)],
  [`curl one card at a time: pull + verify, cards/s`, cell(fleet.figures.loop_pull_verify_per_s!, rate)],
  ["CPU per card, ours, ms", cell(fleet.figures.client_cpu_ms_per_card)],
  ["CPU per card, registry, ms", cell(fleet.figures.registry_cpu_ms_per_card)],
  ["peak RSS, MB", cell(fleet.figures.peak_rss_mb, fixed(0))],
]);

if (scale) {
  say.banner("Scale: one run per size");
  table(
    ["N", "push/s", "list s", "pull+verify/s", "total s", "ms per card"],
    scale.map((p) => [String(p.n), rate(p.push_per_s), p.list_s.toFixed(2), rate(p.pull_verify_per_s), p.seconds.toFixed(1), p.ms_per_card.toFixed(2)]),
  );
  const [first, last] = [scale[scale.length - 2], scale[scale.length - 1]];
  say.line(`ms per card grows ${(last.ms_per_card / first.ms_per_card).toFixed(2)}x from N=${first.n} to N=${last.n} (1.00x is linear time)`);
}

say.banner("Targets (reported, never asserted)");
const verdict = (ok: boolean) => (ok ? "met" : "NOT met");
table(["Target", "Measured", ""], [
  [`walkthrough (${RUNTIME}) <= 1.0 s`, `${results.walkthrough_s.toFixed(2)} s`, verdict(results.walkthrough_s <= 1)],
  ["walkthrough <= 2x bash + curl", `${cell(walk.ratio)}x`, verdict(walk.ratio.median <= 2)],
  ["fleet push >= 5x one card at a time", `${cell(fleet.pushVsLoop, fixed(1))}x`, verdict(fleet.pushVsLoop.median >= 5)],
  ["fleet pull + verify >= 5x one at a time", `${cell(fleet.pullVsLoop, fixed(1))}x`, verdict(fleet.pullVsLoop.median >= 5)],
  ["our CPU per card <= half the registry's", `${cell(fleet.cpuShare)}x`, verdict(fleet.cpuShare.median <= 0.5)],
  [`peak RSS < 200 MB (at N=${N})`, `${results.fleet.peak_rss_mb.toFixed(0)} MB`, verdict(results.fleet.peak_rss_mb < 200)],
]);
say.line(`\nWrote ${path.relative(ROOT, path.join(OUT, "results.json"))}`);
