// `make bench`: how fast Phase 3 runs against honest baselines, and how our client carries a
// fleet of agent cards. Every variant of every run gets a registry of its own (fresh storage,
// free port); figures are medians with min and max over the runs; every ratio is taken within
// one run, and the variants take turns going first.
import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { env } from "../lib/env.ts";
import { CliError, EnvironmentError, UsageError } from "../lib/errors.ts";
import { findOnPath } from "../lib/executables.ts";
import { sha256Digest } from "../lib/oci/digest.ts";
import { artifactManifest, EMPTY_BLOB, encodeManifest, MEDIA_TYPE } from "../lib/oci/manifest.ts";
import { Registry } from "../lib/oci/registry.ts";
import { say, table } from "../lib/step/output.ts";
import { type RegistryProcess, startTestRegistry } from "../lib/registry-server.ts";
import {
  DEFAULT_CONCURRENCY,
  FLEET_CREATED,
  FLEET_NAMESPACE,
  fleetArtifact,
  fleetCard,
  fleetOriginal,
  listRepositories,
  pullAndVerify,
  pushFleet,
} from "./fleet.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const RESULTS = path.join(ROOT, "tmp/bench/results.json");
const STEPS = ["push", "list", "manifest", "pull", "verify", "copy"] as const;
/** The steps #9 wants within 30 ms of the runtime's bare start. */
const LIGHT_STEPS = ["list", "manifest", "pull", "copy"] as const;
const RUNTIMES = ["deno", "node"] as const;
type Runtime = typeof RUNTIMES[number];
/** The runtime this process runs under: the Makefile's RUNTIME, which the fleet is measured in. */
const RUNTIME: Runtime = "Deno" in globalThis ? "deno" : "node";
/** The Makefile's defaults, the same for every variant whatever the caller's environment says. */
const WALKTHROUGH = { AGENTS: "plan,build,test", TAG: "v1", TO_TAG: "v2", CARDS_DIR: "fixtures/agent_cards" };
/** One skopeo process per card costs about half a second here, so a few cards give its rate. */
const LOOP_CARDS = 20;

const USAGE = `make bench   or   deno run -A scripts/bench.ts   or   node --import tsx scripts/bench.ts

Times Phase 3 against honest baselines, then a fleet of generated agent cards:
  walkthrough  the six make targets (push list manifest pull verify copy) under Deno and
               Node, against bench/baseline.sh (bash + curl, the fewest requests that make
               our checks), bench/floor.ts (the same requests with the runtime's own HTTP
               client, in one process and in one process per step) and bench/empty.ts (the
               runtime's start alone)
  fleet        N cards pushed, listed, pulled and verified by one process of this runtime,
               against bench/floor.ts (the same with the bare client) and bench/skopeo-loop.sh (one
               skopeo process per card, ${LOOP_CARDS} cards)
Prints medians (min-max) and writes tmp/bench/results.json; the defaults take a few minutes.

Environment:
  N=500         fleet size
  RUNS=5        walkthrough runs
  FLEET_RUNS=3  fleet runs (1 when N is 10000 or more)
  SCALE=1       also one fleet of 100 and one of 1,000 cards (and 10,000 from N=10000)

Example: make bench N=10000 SCALE=1`;

interface Settings {
  n: number;
  runs: number;
  fleetRuns: number;
  scale: boolean;
}

function readSettings(): Settings {
  const wholeNumber = (name: string, fallback: number) => {
    const text = env.option(name);
    if (text === undefined) return fallback;
    if (!/^[1-9]\d*$/.test(text)) throw new UsageError(`${name} must be a whole number from 1, not ${JSON.stringify(text)}`, "See scripts/bench.ts --help.");
    return Number(text);
  };
  const scale = env.option("SCALE") ?? "0";
  if (scale !== "0" && scale !== "1") throw new UsageError(`SCALE must be 1 or 0, not ${JSON.stringify(scale)}`, "See scripts/bench.ts --help.");
  const n = wholeNumber("N", 500);
  return { n, runs: wholeNumber("RUNS", 5), fleetRuns: wholeNumber("FLEET_RUNS", n >= 10_000 ? 1 : 3), scale: scale === "1" };
}

// What this run started, so that an error or an interrupt can stop it and leave nothing behind.
let scratch: string | undefined;
let stopping = false;
const children = new Set<ChildProcess>();
const registries = new Set<Promise<RegistryProcess>>();

async function cleanUp() {
  stopping = true;
  // Each timed command leads a process group of its own: the group goes with it.
  for (const child of children) {
    try {
      process.kill(-child.pid!, "SIGTERM");
    } catch {
      // already gone
    }
  }
  // A registry still starting is waited for, then stopped: it would outlive us otherwise.
  await Promise.all([...registries].map((starting) => starting.then((registry) => registry.stop()).catch(() => {})));
  if (scratch) await rm(scratch, { recursive: true, force: true });
}

async function withRegistry<T>(work: (registry: RegistryProcess) => Promise<T>): Promise<T> {
  const starting = startTestRegistry();
  registries.add(starting);
  try {
    return await work(await starting);
  } finally {
    registries.delete(starting);
    await starting.then((registry) => registry.stop(), () => {});
  }
}

/** The environment of every command we time: no parent make's flags, no presenter pauses, no colours. */
function commandEnv(extra: Record<string, string> = {}): Record<string, string> {
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([name]) => !["MAKEFLAGS", "MFLAGS", "MAKELEVEL", "PAUSE"].includes(name)));
  return { ...inherited as Record<string, string>, NO_COLOR: "1", ...extra };
}

/** Runs a command to completion: its wall seconds and its stdout. */
function timed([command, ...args]: string[], extraEnv: Record<string, string> = {}): Promise<{ seconds: number; stdout: string }> {
  return new Promise((resolve, reject) => {
    if (stopping) return reject(new Error("stopping"));
    const started = performance.now();
    // Spawned directly, not through a shell, so no shell start is counted.
    const child = spawn(command, args, { cwd: ROOT, env: commandEnv(extraEnv), stdio: ["ignore", "pipe", "pipe"], detached: true });
    children.add(child);
    let [stdout, stderr] = ["", ""];
    child.stdout!.on("data", (chunk) => (stdout += chunk));
    child.stderr!.on("data", (chunk) => (stderr += chunk));
    child.on("error", (error) => {
      children.delete(child);
      reject(new EnvironmentError(`could not run ${command}: ${error.message}`));
    });
    child.on("close", (code, signal) => {
      children.delete(child);
      const seconds = (performance.now() - started) / 1000;
      if (code === 0) return resolve({ seconds, stdout });
      const said = stderr.trim().split("\n").map((line) => line.trim()).filter(Boolean).join(" / ").slice(0, 300);
      reject(new Error(`${[command, ...args].map((arg) => path.basename(arg)).join(" ")} failed (${signal ?? `exit ${code}`})${said ? `: ${said}` : ""}`));
    });
  });
}

const make = (...args: string[]) => ["make", "-s", "--no-print-directory", ...args];

/**
 * The command that starts `script` the way the Makefile starts a step under `runtime` (its
 * $(call step,NAME), say `node dist/NAME.mjs`): where the Makefile runs
 * steps compiled to JavaScript, `script` is compiled first, as the Makefile compiles them.
 */
async function startedLikeAStep(runtime: Runtime, script: string): Promise<string[]> {
  const { stdout } = await timed(make("--eval", "bench-print-step: ; @echo $(call step,NAME)", "bench-print-step", `RUNTIME=${runtime}`));
  const words = stdout.trim().split(/\s+/);
  const at = words.findIndex((word) => /(^|\/)NAME\.[cm]?[jt]s$/.test(word));
  if (at < 0) throw new Error(`cannot tell how the Makefile starts a step under ${runtime}: ${stdout.trim()}`);
  let started = script;
  if (!words[at].endsWith(".ts")) {
    started = path.join(scratch!, runtime, path.basename(script).replace(/\.ts$/, ".mjs"));
    await timed(["node_modules/.bin/esbuild", script, "--bundle", "--platform=node", "--format=esm", "--target=node20", "--packages=external", `--outfile=${started}`, "--log-level=warning"]);
  }
  return [...words.slice(0, at), started, ...words.slice(at + 1)];
}

/** The floor and the empty script under each runtime, after `make setup` (which builds what its steps run). */
async function prepare(): Promise<Record<Runtime, { floor: string[]; empty: string[] }>> {
  const commands = {} as Record<Runtime, { floor: string[]; empty: string[] }>;
  for (const runtime of RUNTIMES) {
    await timed(make("setup", `RUNTIME=${runtime}`));
    commands[runtime] = { floor: await startedLikeAStep(runtime, "bench/floor.ts"), empty: await startedLikeAStep(runtime, "bench/empty.ts") };
  }
  return commands;
}

/** Read by bench() before the first measurement. */
let clockTicksPerS = 100;

/** CPU seconds (user + system) a process has used so far, from /proc: the same measure for us and the registry. */
function cpuSeconds(pid: number | "self"): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
  return (Number(fields[11]) + Number(fields[12])) / clockTicksPerS;
}

const peakRssMb = () => Number(readFileSync("/proc/self/status", "utf8").match(/VmHWM:\s*(\d+)/)![1]) / 1024;

/** Starts a new peak, so each fleet run reports its own; where the kernel refuses, the peak is since start. */
async function resetPeakRss() {
  await writeFile("/proc/self/clear_refs", "5").catch(() => {});
}

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

/** Run `run` of `variants`, each starting in turn, so that none always goes first on a cold machine. */
const inTurn = <T>(variants: readonly T[], run: number) => variants.map((_, i) => variants[(run + i) % variants.length]);

const progress = (text: string) => process.stderr.write(text + "\n");

// The walkthrough. Figures are by step and in total: seconds, and requests the registry answered.
type ByStep = Record<string, number>;

interface Walked {
  seconds: ByStep;
  requests: ByStep;
}

interface WalkthroughVariant {
  name: string;
  /** The command of one step, or with no step the command of the whole variant. */
  command(settings: Record<string, string>, step?: string): string[];
  /** Timed step by step; otherwise once, as a whole. */
  stepwise: boolean;
  needsRegistry: boolean;
}

function walkthroughVariants(commands: Record<Runtime, { floor: string[]; empty: string[] }>): WalkthroughVariant[] {
  // bench/floor.ts walks every step, or only the one it is given.
  const floorWalkthrough = (runtime: Runtime) => (s: Record<string, string>, step?: string) =>
    [...commands[runtime].floor, "walkthrough", s.REGISTRY, s.AGENTS, s.TAG, s.TO_TAG, s.CARDS_DIR, s.OUT_DIR, ...(step ? [step] : [])];
  return [
    ...RUNTIMES.map((runtime) => ({
      name: `make, ${runtime}`,
      command: (_: Record<string, string>, step?: string) => make(step!, `RUNTIME=${runtime}`),
      stepwise: true,
      needsRegistry: true,
    })),
    { name: "bash + curl", command: (_, step) => ["bash", "bench/baseline.sh", step!], stepwise: true, needsRegistry: true },
    ...RUNTIMES.map((runtime) => ({ name: `one process, ${runtime}`, command: floorWalkthrough(runtime), stepwise: false, needsRegistry: true })),
    ...RUNTIMES.map((runtime) => ({ name: `floor per step, ${runtime}`, command: floorWalkthrough(runtime), stepwise: true, needsRegistry: true })),
    ...RUNTIMES.map((runtime) => ({ name: `empty script, ${runtime}`, command: () => commands[runtime].empty, stepwise: false, needsRegistry: false })),
  ];
}

/** One access-log line per answer; "response completed" misses paths the registry has no route for (404 on /referrers/). */
const ACCESS_LOG_LINE = /^\S+ - \S+ \[[^\]]+\] "[A-Z]+ \S+ HTTP\/[\d.]+" \d{3} /gm;

/** Requests the registry has answered so far, from its log, once that has settled: it may log an answer just after giving it. */
async function requestsAnswered(registry: RegistryProcess): Promise<number> {
  for (let last = -1;; await sleep(100)) {
    const count = (await readFile(registry.logFile, "utf8")).match(ACCESS_LOG_LINE)?.length ?? 0;
    if (count === last) return count;
    last = count;
  }
}

async function timeWalkthrough(variant: WalkthroughVariant, outDir: string): Promise<Walked> {
  if (!variant.needsRegistry) return { seconds: { total: (await timed(variant.command({}))).seconds }, requests: {} };
  return await withRegistry(async (registry) => {
    // Every variant walks the same agents and tags; ORAS_BACKEND=builtin times our client, never an oras on PATH.
    const settings = { REGISTRY: registry.address, ...WALKTHROUGH, OUT_DIR: outDir, ORAS_BACKEND: "builtin" };
    const [seconds, requests]: ByStep[] = [{}, {}];
    for (const part of variant.stepwise ? STEPS : ["total"]) {
      const before = await requestsAnswered(registry);
      seconds[part] = (await timed(variant.command(settings, variant.stepwise ? part : undefined), settings)).seconds;
      requests[part] = await requestsAnswered(registry) - before;
    }
    if (variant.stepwise) {
      for (const figure of [seconds, requests]) figure.total = STEPS.reduce((sum, step) => sum + figure[step], 0);
    }
    return { seconds, requests };
  });
}

async function measureWalkthrough(variants: WalkthroughVariant[], settings: Settings) {
  const runs: Record<string, Walked>[] = [];
  for (let run = 0; run < settings.runs; run++) {
    const order = inTurn(variants, run);
    progress(`walkthrough run ${run + 1}/${settings.runs}: ${order.map((variant) => variant.name).join("; ")}`);
    // Sources changed since the last run are compiled now, not in the first step timed.
    for (const runtime of RUNTIMES) await timed(make("setup", `RUNTIME=${runtime}`));
    const walked: Record<string, Walked> = {};
    for (const variant of order) walked[variant.name] = await timeWalkthrough(variant, path.join(scratch!, "walkthrough", variant.name.replace(/\W+/g, "-")));
    runs.push(walked);
  }
  const over = (value: (run: Record<string, Walked>) => number) => spread(runs.map(value));
  const seconds = (name: string) => (run: Record<string, Walked>) => run[name].seconds;
  const makeSeconds = (runtime: Runtime) => seconds(`make, ${runtime}`);
  const figure = (kind: keyof Walked) =>
    Object.fromEntries(variants.map(({ name }) => [name, Object.fromEntries(Object.keys(runs[0][name][kind]).map((part) => [part, over((run) => run[name][kind][part])]))]));
  const msOverEmpty = (of: (run: Record<string, Walked>) => Record<string, number>, runtime: Runtime) =>
    Object.fromEntries(LIGHT_STEPS.map((step) => [step, over((run) => (of(run)[step] - seconds(`empty script, ${runtime}`)(run).total) * 1000)]));
  const byRuntime = <T>(value: (runtime: Runtime) => T) => Object.fromEntries(RUNTIMES.map((runtime) => [runtime, value(runtime)])) as Record<Runtime, T>;
  return {
    runs,
    seconds: figure("seconds"),
    requests: figure("requests"),
    toCurl: byRuntime((runtime) => over((run) => makeSeconds(runtime)(run).total / seconds("bash + curl")(run).total)),
    toFloor: byRuntime((runtime) => over((run) => makeSeconds(runtime)(run).total / seconds(`one process, ${runtime}`)(run).total)),
    toStepFloor: byRuntime((runtime) => over((run) => makeSeconds(runtime)(run).total / seconds(`floor per step, ${runtime}`)(run).total)),
    /** Milliseconds each light step takes beyond the runtime's bare start: ours, and the floor's. */
    overEmpty: byRuntime((runtime) => msOverEmpty(makeSeconds(runtime), runtime)),
    floorOverEmpty: byRuntime((runtime) => msOverEmpty(seconds(`floor per step, ${runtime}`), runtime)),
    nodeToDeno: over((run) => makeSeconds("node")(run).total / makeSeconds("deno")(run).total),
  };
}

// The fleet: our client in this process, the same requests with the bare client, one skopeo process per card.
interface Phases {
  push_s: number;
  list_s: number;
  pull_verify_s: number;
}

interface OurFleet extends Phases {
  n: number;
  client_cpu_ms_per_card: number;
  registry_cpu_ms_per_card: number;
  peak_rss_mb: number;
}

/** Wall seconds, and CPU seconds of this process and of the registry, while `work` runs. */
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

/** Our client, here in this process: n cards pushed, listed through the catalog, pulled and verified. */
async function ourFleet(n: number): Promise<OurFleet> {
  const pulledDir = path.join(scratch!, "fleet-pulled");
  try {
    return await withRegistry(async (registry) => {
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
        push_s: push.seconds,
        list_s: list.seconds,
        pull_verify_s: pull.seconds,
        client_cpu_ms_per_card: phases.reduce((sum, p) => sum + p.clientCpu, 0) / n * 1000,
        registry_cpu_ms_per_card: phases.reduce((sum, p) => sum + p.registryCpu, 0) / n * 1000,
        peak_rss_mb: peakRssMb(),
      };
    });
  } finally {
    await rm(pulledDir, { recursive: true, force: true });
  }
}

/** bench/floor.ts: the same cards and requests with the runtime's bare client, one process of the same runtime. */
function floorFleet(floor: string[], cardsDir: string): Promise<Phases> {
  const outDir = path.join(scratch!, "floor-pulled");
  return withRegistry(async (registry) => {
    const { stdout } = await timed([...floor, "fleet", registry.address, cardsDir, FLEET_NAMESPACE, FLEET_CREATED, String(DEFAULT_CONCURRENCY), outDir]);
    await rm(outDir, { recursive: true, force: true });
    return JSON.parse(stdout);
  });
}

/** Fleet cards 0 … count-1 as files in dir. */
async function writeCards(dir: string, count: number) {
  await mkdir(dir, { recursive: true });
  for (let index = 0; index < count; index++) {
    const card = fleetCard(index);
    await writeFile(path.join(dir, card.fileName), card.bytes);
  }
  return dir;
}

/** LOOP_CARDS fleet cards as files, and as the OCI layout skopeo copies from: one image per card, named after it. */
async function writeLoopCards(dir: string) {
  const cards = await writeCards(path.join(dir, "cards"), LOOP_CARDS);
  const layout = path.join(dir, "layout");
  const blobs = path.join(layout, "blobs/sha256");
  await mkdir(blobs, { recursive: true });
  const addBlob = async (bytes: Uint8Array) => {
    const digest = sha256Digest(bytes);
    await writeFile(path.join(blobs, digest.slice("sha256:".length)), bytes);
    return { digest, size: bytes.byteLength };
  };
  await addBlob(EMPTY_BLOB);
  const manifests = [];
  for (let index = 0; index < LOOP_CARDS; index++) {
    const card = fleetCard(index);
    await addBlob(card.bytes);
    const { layers, options } = fleetArtifact(card);
    const manifest = await addBlob(encodeManifest(artifactManifest(layers, options)));
    manifests.push({ mediaType: MEDIA_TYPE.ociManifest, ...manifest, annotations: { "org.opencontainers.image.ref.name": card.agent } });
  }
  await writeFile(path.join(layout, "index.json"), JSON.stringify({ schemaVersion: 2, manifests }));
  await writeFile(path.join(layout, "oci-layout"), JSON.stringify({ imageLayoutVersion: "1.0.0" }));
  return { cards, layout };
}

/** bench/skopeo-loop.sh: LOOP_CARDS cards pushed, then pulled and verified, one skopeo process per card. */
function skopeoFleet(loop: { cards: string; layout: string }): Promise<Omit<Phases, "list_s">> {
  const outDir = path.join(scratch!, "skopeo-pulled");
  return withRegistry(async (registry) => {
    const loopEnv = { REGISTRY: registry.address, NAMESPACE: FLEET_NAMESPACE, TAG: "v1" };
    const push = await timed(["bash", "bench/skopeo-loop.sh", "push", loop.cards, loop.layout], loopEnv);
    const pull = await timed(["bash", "bench/skopeo-loop.sh", "pull-verify", loop.cards, outDir], loopEnv);
    await rm(outDir, { recursive: true, force: true });
    return { push_s: push.seconds, pull_verify_s: pull.seconds };
  });
}

interface FleetRun {
  ours: OurFleet;
  floor: Phases;
  skopeo: Omit<Phases, "list_s">;
}

async function measureFleet(floor: string[], settings: Settings) {
  const loop = await writeLoopCards(path.join(scratch!, "loop"));
  const cards = await writeCards(path.join(scratch!, "fleet-cards"), settings.n);
  const variants = {
    ours: () => ourFleet(settings.n),
    floor: () => floorFleet(floor, cards),
    skopeo: () => skopeoFleet(loop),
  };
  const runs: FleetRun[] = [];
  for (let index = 0; index < settings.fleetRuns; index++) {
    const order = inTurn(Object.keys(variants) as (keyof FleetRun)[], index);
    progress(`fleet run ${index + 1}/${settings.fleetRuns}: ${order.join(", ")} (${settings.n} cards; skopeo ${LOOP_CARDS})`);
    const results = {} as Record<keyof FleetRun, unknown>;
    for (const variant of order) results[variant] = await variants[variant]();
    runs.push(results as FleetRun);
  }
  const over = (value: (run: FleetRun) => number) => spread(runs.map(value));
  const n = settings.n;
  return {
    runs,
    ours: {
      push_per_s: over((run) => n / run.ours.push_s),
      list_s: over((run) => run.ours.list_s),
      pull_verify_per_s: over((run) => n / run.ours.pull_verify_s),
      client_cpu_ms_per_card: over((run) => run.ours.client_cpu_ms_per_card),
      registry_cpu_ms_per_card: over((run) => run.ours.registry_cpu_ms_per_card),
      peak_rss_mb: over((run) => run.ours.peak_rss_mb),
    },
    floor: {
      push_per_s: over((run) => n / run.floor.push_s),
      list_s: over((run) => run.floor.list_s),
      pull_verify_per_s: over((run) => n / run.floor.pull_verify_s),
    },
    skopeo: {
      push_per_s: over((run) => LOOP_CARDS / run.skopeo.push_s),
      pull_verify_per_s: over((run) => LOOP_CARDS / run.skopeo.pull_verify_s),
    },
    // Time per card, ours / theirs: below 1 we are faster.
    toFloor: {
      push: over((run) => run.ours.push_s / run.floor.push_s),
      list: over((run) => run.ours.list_s / run.floor.list_s),
      pull_verify: over((run) => run.ours.pull_verify_s / run.floor.pull_verify_s),
    },
    toSkopeo: {
      push: over((run) => (run.ours.push_s / n) / (run.skopeo.push_s / LOOP_CARDS)),
      pull_verify: over((run) => (run.ours.pull_verify_s / n) / (run.skopeo.pull_verify_s / LOOP_CARDS)),
    },
    cpuShare: over((run) => run.ours.client_cpu_ms_per_card / run.ours.registry_cpu_ms_per_card),
  };
}

async function scaleRuns(sizes: number[]) {
  const points = [];
  for (const n of sizes) {
    progress(`scale: ${n} cards`);
    points.push(scalePoint(await ourFleet(n)));
  }
  return points;
}

function scalePoint(figures: OurFleet) {
  const seconds = figures.push_s + figures.list_s + figures.pull_verify_s;
  return { ...figures, seconds, ms_per_card: seconds / figures.n * 1000 };
}

const fixed = (digits: number) => (value: number) => value.toFixed(digits);
const cell = (s: Spread, format = fixed(2), unit = "") => `${format(s.median)}${unit} (${format(s.min)}-${format(s.max)})`;
const verdict = (ok: boolean) => (ok ? "met" : "NOT met");

async function bench(settings: Settings) {
  const [started, loadBefore] = [performance.now(), os.loadavg()[0]];
  if (!findOnPath("skopeo")) throw new EnvironmentError("skopeo is not on PATH; the fleet's per-card baseline needs it", "sudo apt-get install skopeo");
  scratch = await mkdtemp(path.join(os.tmpdir(), "pallet-bench-"));
  clockTicksPerS = Number((await timed(["getconf", "CLK_TCK"])).stdout.trim()) || clockTicksPerS;
  progress("preparing: make setup, the floor and the empty script under each runtime");
  const commands = await prepare();

  const walk = await measureWalkthrough(walkthroughVariants(commands), settings);
  // Smallest first, the fleet in its place among the sizes: a run leaves this process bigger than
  // it found it (see peak RSS), which must not slow a smaller size and flatter the curve.
  const sizes = settings.n >= 10_000 ? [100, 1000, 10_000] : [100, 1000];
  const smaller = settings.scale ? await scaleRuns(sizes.filter((n) => n < settings.n)) : [];
  const fleet = await measureFleet(commands[RUNTIME].floor, settings);
  const larger = settings.scale ? await scaleRuns(sizes.filter((n) => n > settings.n)) : [];
  const scale = settings.scale ? [...smaller, ...(sizes.includes(settings.n) ? [scalePoint(fleet.runs[0].ours)] : []), ...larger] : undefined;

  const targets = [
    ...RUNTIMES.map((runtime) => [`six make targets <= 0.8x bash + curl (${runtime})`, `${cell(walk.toCurl[runtime])}x`, verdict(walk.toCurl[runtime].median <= 0.8)]),
    ...RUNTIMES.flatMap((runtime) =>
      LIGHT_STEPS.map((step) => {
        const over = walk.overEmpty[runtime][step];
        return [`make ${step} <= 30 ms over an empty script (${runtime})`, cell(over, fixed(0), " ms"), verdict(over.median <= 30)];
      })
    ),
    ["six make targets, node <= 2x deno", `${cell(walk.nodeToDeno)}x`, verdict(walk.nodeToDeno.median <= 2)],
    ["fleet push per card <= 0.2x one process per card (skopeo)", `${cell(fleet.toSkopeo.push, fixed(3))}x`, verdict(fleet.toSkopeo.push.median <= 0.2)],
    ["fleet pull + verify per card <= 0.2x one process per card", `${cell(fleet.toSkopeo.pull_verify, fixed(3))}x`, verdict(fleet.toSkopeo.pull_verify.median <= 0.2)],
    ["our CPU per card <= half the registry's", `${cell(fleet.cpuShare)}x`, verdict(fleet.cpuShare.median <= 0.5)],
    [`peak RSS < 200 MB (N=${settings.n})`, cell(fleet.ours.peak_rss_mb, fixed(0), " MB"), verdict(fleet.ours.peak_rss_mb.median < 200)],
  ];

  const results = {
    measured_at: new Date().toISOString(),
    settings: { ...settings, loop_cards: LOOP_CARDS, fleet_runtime: RUNTIME },
    // How each runtime started a script, the Makefile's way (compiled ones in the scratch directory).
    commands: Object.fromEntries(RUNTIMES.map((runtime) => [runtime, commands[runtime].empty.join(" ").replaceAll(scratch!, "<scratch>")])),
    walkthrough: walk,
    fleet,
    ...(scale && { scale }),
    targets: targets.map(([target, measured, met]) => ({ target, measured, met: met === "met" })),
    // Other work on the machine slows both sides of every ratio, but not always equally.
    load_average: { before: loadBefore, after: os.loadavg()[0] },
    cpus: os.cpus().length,
    bench_s: (performance.now() - started) / 1000,
  };
  await mkdir(path.dirname(RESULTS), { recursive: true });
  await writeFile(RESULTS, JSON.stringify(results, null, 2) + "\n");

  say.banner("make bench");
  say.line(`${results.measured_at}, ${results.cpus} CPUs, load average ${loadBefore.toFixed(2)} before, ${results.load_average.after.toFixed(2)} after`);
  for (const runtime of RUNTIMES) say.line(`${runtime} starts a script as the Makefile does: ${results.commands[runtime]}`);

  say.banner(`Walkthrough, registry up, seconds: median (min-max) of ${settings.runs} runs`);
  const steps = walk.seconds;
  const columns = ["make, deno", "make, node", "bash + curl", "floor per step, deno", "floor per step, node"];
  table(["Step", ...columns], [...STEPS, "total"].map((step) => [step, ...columns.map((name) => cell(steps[name][step]))]));
  say.line();
  const requests = walk.requests;
  const count = (figure: Spread | undefined) => (!figure ? "" : figure.min === figure.max ? String(figure.median) : cell(figure, fixed(0)));
  table(
    ["Requests answered", "make, deno", "make, node", "bash + curl", "one process, deno"],
    [...STEPS, "total"].map((step) => [step, ...["make, deno", "make, node", "bash + curl", "one process, deno"].map((name) => count(requests[name][step]))]),
  );
  say.line();
  table(["The same in one process, and nothing", "deno", "node"], [
    ["one process (bench/floor.ts), all six steps", ...RUNTIMES.map((runtime) => cell(steps[`one process, ${runtime}`].total))],
    ["empty script (bench/empty.ts)", ...RUNTIMES.map((runtime) => cell(steps[`empty script, ${runtime}`].total))],
  ]);
  say.line();
  table(["Six make targets, within each run", "deno", "node"], [
    ["/ bash + curl", ...RUNTIMES.map((runtime) => `${cell(walk.toCurl[runtime])}x`)],
    ["/ one process", ...RUNTIMES.map((runtime) => `${cell(walk.toFloor[runtime])}x`)],
    ["/ the floor, one process per step", ...RUNTIMES.map((runtime) => `${cell(walk.toStepFloor[runtime])}x`)],
    ...LIGHT_STEPS.flatMap((step) => [
      [`make ${step}, ms over the empty script`, ...RUNTIMES.map((runtime) => cell(walk.overEmpty[runtime][step], fixed(0)))],
      [`  the floor's ${step}, ms over it`, ...RUNTIMES.map((runtime) => cell(walk.floorOverEmpty[runtime][step], fixed(0)))],
    ]),
  ]);

  const rate = fixed(0);
  say.banner(`Fleet under ${RUNTIME}: ${settings.n} cards (skopeo: ${LOOP_CARDS}), median (min-max) of ${settings.fleetRuns} runs`);
  table(["Figure", "ours, one process", "one process, bare client", "skopeo, one process per card"], [
    ["push, cards/s", cell(fleet.ours.push_per_s, rate), cell(fleet.floor.push_per_s, rate), cell(fleet.skopeo.push_per_s, fixed(1))],
    ["list (catalog, every page), s", cell(fleet.ours.list_s), cell(fleet.floor.list_s), "-"],
    ["pull + verify, cards/s", cell(fleet.ours.pull_verify_per_s, rate), cell(fleet.floor.pull_verify_per_s, rate), cell(fleet.skopeo.pull_verify_per_s, fixed(1))],
  ]);
  say.line();
  table(["Our time per card, within each run", "/ bare client", "/ skopeo per card"], [
    ["push", `${cell(fleet.toFloor.push)}x`, `${cell(fleet.toSkopeo.push, fixed(3))}x`],
    ["list", `${cell(fleet.toFloor.list)}x`, "-"],
    ["pull + verify", `${cell(fleet.toFloor.pull_verify)}x`, `${cell(fleet.toSkopeo.pull_verify, fixed(3))}x`],
  ]);
  say.line();
  table(["Our client", "Value"], [
    ["CPU per card, ours, ms", cell(fleet.ours.client_cpu_ms_per_card)],
    ["CPU per card, registry, ms", cell(fleet.ours.registry_cpu_ms_per_card)],
    ["peak RSS, MB", cell(fleet.ours.peak_rss_mb, fixed(0))],
  ]);

  if (scale) {
    say.banner("Scale: our client, one run per size");
    table(
      ["N", "push/s", "list s", "pull+verify/s", "total s", "ms per card"],
      scale.map((p) => [String(p.n), rate(p.n / p.push_s), p.list_s.toFixed(2), rate(p.n / p.pull_verify_s), p.seconds.toFixed(1), p.ms_per_card.toFixed(2)]),
    );
    const [first, last] = [scale[scale.length - 2], scale[scale.length - 1]];
    say.line(`ms per card grows ${(last.ms_per_card / first.ms_per_card).toFixed(2)}x from N=${first.n} to N=${last.n} (1.00x is linear time)`);
  }

  say.banner("Targets (reported, never asserted)");
  table(["Target", "Measured", ""], targets);
  say.line(`\nWrote ${path.relative(ROOT, RESULTS)} (${results.bench_s.toFixed(0)} s)`);
}

let interrupted = false;
for (const [signal, code] of [["SIGINT", 130], ["SIGTERM", 143]] as const) {
  process.once(signal, async () => {
    interrupted = true;
    await cleanUp();
    say.error(`interrupted by ${signal}; stopped the registries and commands this run started, removed its scratch directory`);
    process.exit(code);
  });
}

try {
  const args = process.argv.slice(2);
  if (args.includes("--help") || args.includes("-h")) {
    console.log(USAGE);
  } else if (args.length > 0) {
    throw new UsageError(`bench takes no arguments, got ${args.join(" ")}`, "Settings are environment variables: see scripts/bench.ts --help.");
  } else {
    await bench(readSettings());
  }
} catch (error) {
  // After an interrupt, failures of what it stopped are no news: its handler has the last word.
  if (interrupted) await new Promise(() => {});
  // One line, whatever failed: what each measured command said is in the message.
  const message = error instanceof Error ? error.message.split("\n")[0] : String(error);
  say.error(error instanceof CliError ? message : `bench failed: ${message}`);
  if (error instanceof CliError && error.hint) say.hint(error.hint);
  process.exitCode = error instanceof CliError ? error.exitCode : 1;
} finally {
  await cleanUp();
}
