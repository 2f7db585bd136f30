// `make bench`: how fast Phase 3 runs against honest baselines, how our client carries a fleet of
// agent cards, how fast discovery finds cards among them, and how long `make run` takes from the
// registry to a healthy agent. Every variant of every run gets a
// registry of its own (fresh storage, free port); figures are medians with min and max over the
// runs; every ratio is taken within one run, and the variants take turns going first.
import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { chmod, mkdir, mkdtemp, open, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { env } from "../lib/env.ts";
import { CliError, EnvironmentError, UsageError } from "../lib/errors.ts";
import { findOnPath } from "../lib/executables.ts";
import { terminate } from "../lib/agents/process.ts";
import { AgentRuns } from "../lib/agents/runs.ts";
import { sha256Digest } from "../lib/oci/digest.ts";
import { artifactManifest, EMPTY_BLOB, encodeManifest, MEDIA_TYPE } from "../lib/oci/manifest.ts";
import { Registry } from "../lib/oci/registry.ts";
import { createOutput } from "../lib/step/output.ts";
import { measureSigning, printSigning, SIGNED_CARDS } from "./signing.ts";
import { freePort, type RegistryProcess, startTestRegistry } from "../lib/registry-server.ts";
import { WORKSHOP_EPOCH } from "../lib/step/options.ts";
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
} from "../lib/fleet.ts";

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
/** Where the figures are printed. */
const out = createOutput({ stdout: process.stdout, stderr: process.stderr, color: !env.noColor });

const PARTS = ["walkthrough", "fleet", "discovery", "history", "service", "signing", "run"] as const;
type Part = typeof PARTS[number];

const USAGE = `Usage: make bench   or   node_modules/.bin/deno run -A scripts/bench.ts   or   node --import tsx scripts/bench.ts

Times seven parts, in this order:
  walkthrough  the six make targets (push list manifest pull verify copy) under Deno and
               Node, against bench/baseline.sh (bash + curl, the fewest requests that make
               our checks), bench/floor.ts (the same requests with the runtime's own HTTP
               client, in one process and in one process per step) and bench/empty.ts (the
               runtime's start alone)
  fleet        N cards pushed, listed, pulled and verified by one process of this runtime,
               against bench/floor.ts (the same with the bare client) and bench/skopeo-loop.sh (one
               skopeo process per card, ${LOOP_CARDS} cards)
  discovery    N cards found by \`discover --skill SKILL\` five ways, one process of this runtime
               each, its start included: crawled with an empty cache and with the last crawl's,
               the index alone with its shards fetched and from the cache, and the index checked
               against the registry; \`discover --refresh\`, which writes the index, timed once
  history      the walkthrough's make targets, discover and publish on a fresh registry against
               the same on registries with a history: after 80 cards of 900 KB, after a fleet of
               N cards with its index, after ten walkthroughs; and the discovery cache's size
  service      make serve over N fleet cards (and over 1,000 as well, from N=10000) against nginx
               serving the same answers as files, both loaded by ab (AB_N requests, 50 at once):
               a 100-card /agents page by skill and by text, one card, the card's 304; start-up,
               CPU per request, memory, the slowest request while a publish is taken in, and how
               many manifest GETs discover --refresh made per card
  signing      ${SIGNED_CARDS} fleet cards signed, verified, and verified again once changed, in this
               process, with an ES256 key and an EdDSA key (bench/signing.ts)
  run          \`make run AGENT=plan\` under this runtime, from the registry to a healthy agent:
               with the package unpacked already (a warm cache) and without, RUNS times each,
               split into the tag resolved (and the pull), the trust check, the agent's start
               to healthy, and the rest (make, the runtime's start, loading the step)
Prints medians (min-max) and writes what it measured to tmp/bench/results.json; the defaults
take a few minutes.

Environment:
  PART=all      one part (walkthrough, fleet, discovery, history, service, signing, run) or several, comma-separated
  N=500         fleet size, of the fleet, discovery, history and service
  RUNS=5        walkthrough and history runs, rounds of ab per service size, and make run runs (each warm and cold)
  FLEET_RUNS=3  fleet, discovery and signing runs (1 when N is 10000 or more)
  SCALE=1       (yes or no) also one fleet of 100 and one of 1,000 cards (and 10,000 from N=10000)
  SKILL=review_change  the skill discovery and the service look for
  AB_N=5000     requests per ab run of the service part

Examples: make bench N=10000 SCALE=1    make bench PART=discovery N=10000    make bench PART=history,service N=10000`;

interface Settings {
  parts: Part[];
  n: number;
  runs: number;
  fleetRuns: number;
  scale: boolean;
  skill: string;
  abRequests: number;
}

function readSettings(): Settings {
  const invalid = (name: string, wanted: string, text: string) =>
    new UsageError(`${name} must be ${wanted}, not ${JSON.stringify(text)}`, "See scripts/bench.ts --help.");
  const wholeNumber = (name: string, fallback: number) => {
    const text = env.option(name);
    if (text === undefined) return fallback;
    if (!/^[1-9]\d*$/.test(text)) throw invalid(name, "a whole number from 1", text);
    return Number(text);
  };
  const part = env.option("PART") ?? "all";
  const named = part === "all" ? PARTS : part.split(",");
  if (!named.every((name) => PARTS.includes(name as Part))) throw invalid("PART", `all, or one or more of ${PARTS.join(",")} joined by commas`, part);
  const n = wholeNumber("N", 500);
  return {
    parts: PARTS.filter((name) => named.includes(name)),
    n,
    runs: wholeNumber("RUNS", 5),
    fleetRuns: wholeNumber("FLEET_RUNS", n >= 10_000 ? 1 : 3),
    scale: env.boolean("SCALE"),
    skill: env.option("SKILL") ?? "review_change",
    abRequests: wholeNumber("AB_N", 5000),
  };
}

// What this run started, so that an error or an interrupt can stop it and leave nothing behind.
let scratch: string | undefined;
let stopping = false;
const children = new Set<ChildProcess>();
/** Agents `make run` started: detached, they are stopped by pid. */
const agents = new Set<number>();
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
  for (const pid of agents) await terminate(pid);
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

/** Runs a command to completion: its wall seconds, its stdout and its stderr. */
function timed([command, ...args]: string[], extraEnv: Record<string, string> = {}): Promise<{ seconds: number; stdout: string; stderr: string }> {
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
      if (code === 0) return resolve({ seconds, stdout, stderr });
      const said = stderr.trim().split("\n").map((line) => line.trim()).filter(Boolean).join(" / ").slice(0, 300);
      reject(new Error(`${[command, ...args].map((arg) => path.basename(arg)).join(" ")} failed (${signal ?? `exit ${code}`})${said ? `: ${said}` : ""}`));
    });
  });
}

const make = (...args: string[]) => ["make", "-s", "--no-print-directory", ...args];

/**
 * The command that starts `script` the way the Makefile starts a step under `runtime` (its
 * $(call step,NAME), say `node dist/NAME.mjs`), with `v8Flags` (a Makefile expression) as its
 * V8_FLAGS: where the Makefile runs steps compiled to JavaScript, a step of scripts/ is run from
 * dist/, and another `script` is compiled first, as the Makefile compiles them.
 */
async function startedLikeAStep(runtime: Runtime, script: string, v8Flags = ""): Promise<string[]> {
  const { stdout } = await timed(make("--eval", `bench-print-step: V8_FLAGS = ${v8Flags}`, "--eval", "bench-print-step: ; @echo $(call step,NAME)", "bench-print-step", `RUNTIME=${runtime}`));
  const words = stdout.trim().split(/\s+/);
  const at = words.findIndex((word) => /(^|\/)NAME\.[cm]?[jt]s$/.test(word));
  if (at < 0) throw new Error(`cannot tell how the Makefile starts a step under ${runtime}: ${stdout.trim()}`);
  let started = script;
  if (!words[at].endsWith(".ts") && script.startsWith("scripts/")) {
    // A step is run from what `make setup` built: its bundle finds the project's packages.
    started = words[at].replace("NAME", path.basename(script, ".ts"));
  } else if (!words[at].endsWith(".ts")) {
    started = path.join(scratch!, runtime, path.basename(script).replace(/\.ts$/, ".mjs"));
    await timed(["node_modules/.bin/esbuild", script, "--bundle", "--platform=node", "--format=esm", "--target=node20", "--packages=external", `--outfile=${started}`, "--log-level=warning"]);
  }
  return [...words.slice(0, at), started, ...words.slice(at + 1)];
}

type Commands = Partial<Record<Runtime, { floor: string[]; empty: string[]; run: string[] }>>;

/** The floor and the empty script under each of `runtimes`, after `make setup` (which builds what its steps run). */
async function prepare(runtimes: readonly Runtime[]): Promise<Commands> {
  const commands: Commands = {};
  for (const runtime of runtimes) {
    await timed(make("setup", `RUNTIME=${runtime}`));
    commands[runtime] = {
      floor: await startedLikeAStep(runtime, "bench/floor.ts"),
      empty: await startedLikeAStep(runtime, "bench/empty.ts"),
      run: await startedLikeAStep(runtime, "scripts/run.ts"),
    };
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

function walkthroughVariants(commands: Commands): WalkthroughVariant[] {
  // bench/floor.ts walks every step, or only the one it is given.
  const floorWalkthrough = (runtime: Runtime) => (s: Record<string, string>, step?: string) =>
    [...commands[runtime]!.floor, "walkthrough", s.REGISTRY, s.AGENTS, s.TAG, s.TO_TAG, s.CARDS_DIR, s.OUT_DIR, ...(step ? [step] : [])];
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
    ...RUNTIMES.map((runtime) => ({ name: `empty script, ${runtime}`, command: () => commands[runtime]!.empty, stepwise: false, needsRegistry: false })),
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

// Discovery: N fleet cards in a registry of their own, found with a skill filter five ways.
/** Each way, in the order of a run, and what of the cache it starts without ("": all of it). */
const DISCOVERY_MODES = {
  /** Every repository, tag, manifest and card. */
  "crawl, cold": { args: ["--crawl"], forget: "" },
  /** The same with the cache of the crawl before: manifests only. */
  "crawl, warm": { args: ["--crawl"], forget: undefined },
  /** The index alone, its shards fetched. */
  "index only, first read": { args: ["--index-only"], forget: "shards" },
  /** The same again: the shards come from the cache, one request is left. */
  "index only": { args: ["--index-only"], forget: undefined },
  /** The index, then each selected repository's tags and manifests, and verified status. */
  "index + check": { args: [], forget: undefined },
} as const;
type Mode = keyof typeof DISCOVERY_MODES;
const MODES = Object.keys(DISCOVERY_MODES) as Mode[];

/** `discover --json` as a user runs it under this runtime, with the V8 flags of the fleet. */
const DISCOVER = RUNTIME === "deno"
  ? ["node_modules/.bin/deno", "run", "-A", "--quiet", "--v8-flags=--max-semi-space-size=2", "scripts/discover.ts", "--json"]
  : [process.execPath, "--max-semi-space-size=2", "--import", "tsx", "scripts/discover.ts", "--json"];

/**
 * One `discover`: its wall seconds, its CPU seconds (user and system, from the shell's `times`: on
 * a shared machine the wall clock also counts waiting for a core), and how many cards it found.
 */
async function discover(args: readonly string[], discoverEnv: Record<string, string>) {
  // Through a shell for its `times`; its start is counted, a few ms.
  const { seconds, stdout, stderr } = await timed(["sh", "-c", '"$@"; status=$?; times >&2; exit $status', "sh", ...DISCOVER, ...args], discoverEnv);
  // The last line of `times` is the children's user and system time: "0m1.234s 0m0.321s".
  const [user, system] = [...stderr.trim().split("\n").pop()!.matchAll(/(\d+)m([\d.]+)s/g)].map(([, m, sec]) => Number(m) * 60 + Number(sec));
  return { seconds, cpu: user + system, cards: (JSON.parse(stdout).cards as unknown[]).length };
}

interface DiscoveryRun {
  /** The load average (1 min) as the run starts: on a shared machine it says how far to trust the seconds. */
  load: number;
  seconds: Record<Mode, number>;
  cpu_seconds: Record<Mode, number>;
}

async function measureDiscovery(settings: Settings) {
  // A cache of its own: the first way starts without one.
  const cache = path.join(scratch!, "discovery-cache");
  const fleet = await fleetRegistry(settings.n);
  const discoverEnv = { REGISTRY: fleet.registry.address, SKILL: settings.skill, DISCOVERY_CACHE: cache };
  const runs: DiscoveryRun[] = [];
  let found: number | undefined;
  for (let index = 0; index < settings.fleetRuns; index++) {
    const run: DiscoveryRun = { load: os.loadavg()[0], seconds: {} as Record<Mode, number>, cpu_seconds: {} as Record<Mode, number> };
    for (const mode of MODES) {
      const { args, forget } = DISCOVERY_MODES[mode];
      if (forget !== undefined) await rm(path.join(cache, forget), { recursive: true, force: true });
      const result = await discover(args, discoverEnv);
      // Every way must find the same cards, or the fast one is fast for the wrong reason.
      found ??= result.cards;
      if (result.cards !== found) throw new Error(`discovery: ${mode} found ${result.cards} cards, the others ${found}`);
      [run.seconds[mode], run.cpu_seconds[mode]] = [result.seconds, result.cpu];
    }
    runs.push(run);
    progress(`discovery run ${index + 1}/${settings.fleetRuns} (load ${run.load.toFixed(1)}): ${MODES.map((mode) => `${mode} ${run.seconds[mode].toFixed(2)} s`).join(", ")}`);
  }
  const byMode = (value: (run: DiscoveryRun, mode: Mode) => number) =>
    Object.fromEntries(MODES.map((mode) => [mode, spread(runs.map((run) => value(run, mode)))])) as Record<Mode, Spread>;
  return {
    runs,
    found: found!,
    refresh_s: fleet.refresh_s,
    seconds: byMode((run, mode) => run.seconds[mode]),
    cpu_seconds: byMode((run, mode) => run.cpu_seconds[mode]),
    /** The cold crawl's time over each way's, within each run: how many times faster it is. */
    coldCrawlTo: byMode((run, mode) => run.seconds["crawl, cold"] / run.seconds[mode]),
  };
}

// A registry of n fleet cards with the index `discover --refresh` wrote, and the discovery cache
// that wrote it: built once a run for each size, and shared by discovery, history and service.
interface FleetRegistry {
  registry: RegistryProcess;
  cache: string;
  refresh_s: number;
  /** GETs of fleet card manifests while the index was written, per card: 1 is each read once. */
  refresh_reads_per_card: number;
}

const fleets = new Map<number, Promise<FleetRegistry>>();

/** GETs of fleet manifests the registry has answered so far, from its access log. */
const fleetManifestReads = async (registry: RegistryProcess) =>
  (await readFile(registry.logFile, "utf8")).match(/"GET \/v2\/fleet\/[^ ]+\/manifests\/[^ ]+ HTTP/g)?.length ?? 0;

function fleetRegistry(n: number): Promise<FleetRegistry> {
  let made = fleets.get(n);
  if (!made) {
    made = (async () => {
      // Kept until the run ends, when cleanUp stops it with the others.
      const starting = startTestRegistry();
      registries.add(starting);
      const registry = await starting;
      await pushFleet(new Registry(registry.address), n);
      const cache = path.join(scratch!, `fleet-${n}-cache`);
      const before = await fleetManifestReads(registry);
      const refresh = await discover(["--refresh"], { REGISTRY: registry.address, DISCOVERY_CACHE: cache });
      const reads = await fleetManifestReads(registry) - before;
      progress(`fleet of ${n} cards pushed; discover --refresh wrote its index in ${refresh.seconds.toFixed(1)} s`);
      return { registry, cache, refresh_s: refresh.seconds, refresh_reads_per_card: reads / n };
    })();
    fleets.set(n, made);
  }
  return made;
}

/** Bytes below a directory. */
async function sizeOf(dir: string): Promise<number> {
  const { stdout } = await timed(["du", "-sb", dir]).catch(() => ({ stdout: "0" }));
  return Number(stdout.split(/\s/)[0]);
}

// History: the steps of a walkthrough, discover and publish, timed on a fresh registry and on
// registries that have a history, each with the discovery cache that history left.
const HISTORY_STEPS = ["push", "list", "manifest", "pull", "verify", "copy", "discover", "publish"] as const;
/** Cards of 900 KB, as many as issue 17 pushed. */
const LARGE_CARDS = 80;

interface Aged {
  name: string;
  registry: RegistryProcess;
  cache: string;
  /** The cache's bytes once the history was made. */
  cache_bytes: number;
}

async function measureHistory(settings: Settings) {
  const work = path.join(scratch!, "history");
  // Published by every run under a tag of its own: the plan card with another version.
  const published = path.join(work, "publish", "plan_agent_card.json");
  await mkdir(path.dirname(published), { recursive: true });
  const plan = JSON.parse(await readFile(path.join(ROOT, WALKTHROUGH.CARDS_DIR, "plan_agent_card.json"), "utf8"));
  await writeFile(published, JSON.stringify({ ...plan, version: "9.9.9" }, null, 2));
  const stepEnv = (registry: RegistryProcess, cache: string, extra: Record<string, string> = {}) => ({
    REGISTRY: registry.address,
    ...WALKTHROUGH,
    OUT_DIR: path.join(work, "out"),
    ORAS_BACKEND: "builtin",
    DISCOVERY_CACHE: cache,
    SOURCE_DATE_EPOCH: String(WORKSHOP_EPOCH),
    AGENT: "test",
    CARD: published,
    ...extra,
  });
  /** Each step's seconds and the requests the registry answered for it; publish goes to a tag of its own. */
  const walk = async (registry: RegistryProcess, cache: string, tag: string): Promise<Walked> => {
    const [seconds, requests]: ByStep[] = [{}, {}];
    for (const step of HISTORY_STEPS) {
      const before = await requestsAnswered(registry);
      seconds[step] = (await timed(make(step, `RUNTIME=${RUNTIME}`, ...(step === "publish" ? [`TAG=${tag}`] : [])), stepEnv(registry, cache))).seconds;
      requests[step] = await requestsAnswered(registry) - before;
    }
    return { seconds, requests };
  };
  const aged = async (name: string, make: (registry: RegistryProcess, cache: string) => Promise<void>): Promise<Aged> => {
    const starting = startTestRegistry();
    registries.add(starting);
    const registry = await starting;
    const cache = path.join(work, `${name.replace(/\W+/g, "-")}-cache`);
    await make(registry, cache);
    return { name, registry, cache, cache_bytes: await sizeOf(cache) };
  };

  progress(`history: ${LARGE_CARDS} cards of 900 KB pushed; ten walkthroughs; a fleet of ${settings.n} cards`);
  const large = await aged(`after ${LARGE_CARDS} cards of 900 KB`, async (registry, cache) => {
    const dir = path.join(work, "large-cards");
    await mkdir(dir, { recursive: true });
    const agents = Array.from({ length: LARGE_CARDS }, (_, i) => `large${String(i).padStart(2, "0")}`);
    for (const agent of agents) {
      await writeFile(path.join(dir, `${agent}_agent_card.json`), JSON.stringify({ ...plan, name: `${agent}-agent`, description: `A large agent. `.repeat(61_000) }));
    }
    await timed(make("push", `RUNTIME=${RUNTIME}`), stepEnv(registry, cache, { CARDS_DIR: dir, AGENTS: agents.join(",") }));
  });
  const walked = await aged("after ten walkthroughs", async (registry, cache) => {
    for (let i = 0; i < 10; i++) {
      for (const step of STEPS) await timed(make(step, `RUNTIME=${RUNTIME}`), stepEnv(registry, cache));
    }
  });
  const fleet = await fleetRegistry(settings.n);
  const histories: Aged[] = [large, { name: `after a fleet of ${settings.n}`, ...fleet, cache_bytes: await sizeOf(fleet.cache) }, walked];
  // Every registry then holds the walkthrough's cards once, untimed, as the fresh ones will: each
  // run times the same work on each.
  for (const history of histories) await walk(history.registry, history.cache, "first");

  const runs: { fresh: Walked; aged: Record<string, Walked> }[] = [];
  for (let run = 0; run < settings.runs; run++) {
    const order = inTurn(["fresh", ...histories.map((history) => history.name)], run);
    progress(`history run ${run + 1}/${settings.runs}: ${order.join("; ")}`);
    const result = { aged: {} } as typeof runs[number];
    for (const name of order) {
      const history = histories.find((candidate) => candidate.name === name);
      if (history) {
        result.aged[name] = await walk(history.registry, history.cache, `run${run}`);
      } else {
        result.fresh = await withRegistry(async (registry) => {
          const cache = path.join(work, `fresh-cache-${run}`);
          await walk(registry, cache, "first");
          return await walk(registry, cache, `run${run}`);
        });
      }
    }
    runs.push(result);
  }
  const byStep = (value: (run: typeof runs[number], step: string) => number) =>
    Object.fromEntries(HISTORY_STEPS.map((step) => [step, spread(runs.map((run) => value(run, step)))]));
  return {
    runs,
    fresh: byStep((run, step) => run.fresh.seconds[step]),
    fresh_requests: byStep((run, step) => run.fresh.requests[step]),
    aged: Object.fromEntries(histories.map(({ name, cache_bytes }) => [name, {
      cache_bytes,
      seconds: byStep((run, step) => run.aged[name].seconds[step]),
      requests: byStep((run, step) => run.aged[name].requests[step]),
      /** This history's time over the fresh registry's, within each run. */
      toFresh: byStep((run, step) => run.aged[name].seconds[step] / run.fresh.seconds[step]),
    }])),
    cache_bytes_after: Object.fromEntries(await Promise.all(histories.map(async ({ name, cache }) => [name, await sizeOf(cache)]))),
  };
}

// The service: make serve over a fleet against nginx serving the same bytes, both loaded by ab.
interface Loaded {
  per_s: number;
  p50_ms: number;
  longest_ms: number;
}

/** ab's figures for `requests` GETs of a URL, `concurrency` at once. */
async function ab(url: string, requests: number, concurrency: number, headers: string[] = []): Promise<Loaded> {
  const { stdout } = await timed(["ab", "-q", "-n", String(requests), "-c", String(concurrency), ...headers.flatMap((header) => ["-H", header]), url]);
  const figure = (pattern: RegExp) => Number(stdout.match(pattern)?.[1] ?? NaN);
  const failed = figure(/^Failed requests:\s+(\d+)/m);
  if (failed > 0) throw new Error(`ab ${url}: ${failed} of ${requests} requests failed`);
  return { per_s: figure(/^Requests per second:\s+([\d.]+)/m), p50_ms: figure(/^\s+50%\s+(\d+)/m), longest_ms: figure(/^\s+100%\s+(\d+)/m) };
}

const fetchOk = async (url: string, init?: RequestInit) => {
  const response = await fetch(url, init);
  if (response.status !== 200) throw new Error(`GET ${url} answered ${response.status}`);
  return response;
};

/** Polls until `done` says yes; its seconds since `since`. */
async function waitFor(what: string, since: number, done: () => Promise<boolean>): Promise<number> {
  for (let polls = 0; !(await done().catch(() => false)); polls++) {
    if (polls > 6000) throw new Error(`waited 2 minutes for ${what}`);
    await sleep(20);
  }
  return (performance.now() - since) / 1000;
}

/** nginx with one worker, serving the files of `root` on a free port; logs each request, as the service does. */
async function startNginx(root: string) {
  const port = await freePort();
  const dir = path.join(scratch!, "nginx");
  await mkdir(dir, { recursive: true });
  await writeFile(path.join(dir, "nginx.conf"), `worker_processes 1;
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log;
events { worker_connections 1024; }
http {
  access_log ${dir}/access.log;
  types { application/json json; }
  server { listen 127.0.0.1:${port}; root ${root}; }
}
`);
  const nginx = spawn("nginx", ["-c", path.join(dir, "nginx.conf"), "-p", dir], { stdio: "ignore", detached: true });
  children.add(nginx);
  const base = `http://127.0.0.1:${port}`;
  await waitFor("nginx", performance.now(), async () => (await fetch(`${base}/`)).status !== 0);
  return base;
}

/** A 100-card page by skill and one by text, a card, and the card's 304: the routes of issue 20. */
const ROUTES = ["/agents?skill, 100 cards", "/agents?q, 100 cards", "one card", "one card, 304"] as const;
type Route = typeof ROUTES[number];
/** The path of a route on the service, and the file nginx serves its bytes from. */
const routeOf = (route: Route, skill: string) =>
  route === "/agents?skill, 100 cards"
    ? { path: `/agents?skill=${skill}`, file: "skill.json" }
    : route === "/agents?q, 100 cards"
    ? { path: "/agents?q=fleet-001", file: "text.json" }
    : { path: "/agents/fleet/fleet-00042/v1/.well-known/agent-card.json", file: "card.json" };

/**
 * GETs `url` from `clients` loops at once until `until` settles: the slowest answer, and how many.
 * The bench's own client, so it runs as long as the thing it watches.
 */
async function slowestWhile(url: string, clients: number, until: Promise<unknown>) {
  let [done, slowest, answered] = [false, 0, 0];
  until.finally(() => (done = true)).catch(() => {});
  await Promise.all(Array.from({ length: clients }, async () => {
    while (!done) {
      const started = performance.now();
      await (await fetchOk(url)).arrayBuffer();
      slowest = Math.max(slowest, performance.now() - started);
      answered++;
    }
  }));
  return { slowest_ms: slowest, answered };
}

async function serviceAt(n: number, settings: Settings, nginx: { base: string; root: string }, serve: string[]) {
  const fleet = await fleetRegistry(n);
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const log = await open(path.join(scratch!, `serve-${n}.log`), "w");
  const started = performance.now();
  const service = spawn(serve[0], serve.slice(1), {
    cwd: ROOT,
    env: commandEnv({ REGISTRY: fleet.registry.address, DISCOVERY_CACHE: fleet.cache, SERVE_ADDR: `127.0.0.1:${port}` }),
    stdio: ["ignore", log.fd, log.fd],
    detached: true,
  });
  children.add(service);
  try {
    const startup_s = await waitFor("the service's first answer", started, async () => (await fetch(`${base}/agents?limit=1`)).status === 200);
    const checked_s = await waitFor("the service's check of the registry", started, async () => (await (await fetch(`${base}/agents?limit=1`)).json()).source === "index");
    progress(`service over ${n} cards: answered after ${startup_s.toFixed(2)} s, checked the registry after ${checked_s.toFixed(1)} s`);

    // The same bytes for nginx to serve, one file per route; its own ETag for the 304.
    for (const route of ROUTES) {
      const { path: at, file } = routeOf(route, settings.skill);
      await writeFile(path.join(nginx.root, file), new Uint8Array(await (await fetchOk(`${base}${at}`)).arrayBuffer()));
    }
    const etags = {
      ours: (await fetchOk(`${base}${routeOf("one card", settings.skill).path}`)).headers.get("etag")!,
      nginx: (await fetchOk(`${nginx.base}/card.json`)).headers.get("etag")!,
    };
    const target = (server: "ours" | "nginx", route: Route) => {
      const { path: at, file } = routeOf(route, settings.skill);
      return [server === "ours" ? `${base}${at}` : `${nginx.base}/${file}`, route === "one card, 304" ? [`If-None-Match: ${etags[server]}`] : []] as const;
    };

    const rounds = [];
    for (let round = 0; round < settings.runs; round++) {
      const loaded = {} as Record<Route, Record<"ours" | "nginx", Loaded>> & { cpu_ms_per_page: number };
      for (const route of ROUTES) {
        loaded[route] = {} as Record<"ours" | "nginx", Loaded>;
        for (const server of inTurn(["ours", "nginx"] as const, round)) {
          const cpu = cpuSeconds(service.pid!);
          const [url, headers] = target(server, route);
          loaded[route][server] = await ab(url, settings.abRequests, 50, [...headers]);
          if (server === "ours" && route === "/agents?skill, 100 cards") loaded.cpu_ms_per_page = (cpuSeconds(service.pid!) - cpu) / settings.abRequests * 1000;
        }
      }
      rounds.push(loaded);
    }
    const peak_rss_mb = Number(readFileSync(`/proc/${service.pid}/status`, "utf8").match(/VmHWM:\s*(\d+)/)![1]) / 1024;

    // A publish while pages are asked for, ten at a time: the slowest answer until the new card shows.
    const cardDir = path.join(scratch!, `published-${n}`);
    await mkdir(cardDir, { recursive: true });
    const card = JSON.parse(new TextDecoder().decode(fleetCard(0).bytes));
    await writeFile(path.join(cardDir, "fresh_agent_card.json"), JSON.stringify({ ...card, name: "fresh-agent" }));
    const publishStarted = performance.now();
    const visible = (async () => {
      await timed(make("publish", `RUNTIME=${RUNTIME}`), { REGISTRY: fleet.registry.address, DISCOVERY_CACHE: fleet.cache, CARD: path.join(cardDir, "fresh_agent_card.json"), TAG: "v1", ORAS_BACKEND: "builtin" });
      return await waitFor("the published card", publishStarted, async () => (await (await fetch(`${base}/agents?name=fresh`)).json()).total === 1);
    })();
    const during = await slowestWhile(`${base}${routeOf("/agents?skill, 100 cards", settings.skill).path}`, 10, visible);
    return {
      n,
      startup_s,
      checked_s,
      rounds,
      peak_rss_mb,
      during_publish: during,
      publish_visible_s: await visible,
      refresh_s: fleet.refresh_s,
      refresh_reads_per_card: fleet.refresh_reads_per_card,
    };
  } finally {
    children.delete(service);
    process.kill(-service.pid!, "SIGTERM");
    await log.close();
  }
}

async function measureService(settings: Settings) {
  const root = path.join(scratch!, "nginx-root");
  await mkdir(root, { recursive: true });
  // nginx's workers run as another user (www-data) when it is started as root.
  await chmod(scratch!, 0o755);
  const nginx = { base: await startNginx(root), root };
  // With the V8 flags `make serve` gives it.
  const serve = await startedLikeAStep(RUNTIME, "scripts/serve.ts", "$(SERVE_V8_FLAGS)");
  const sizes = settings.n >= 10_000 ? [1000, settings.n] : [settings.n];
  const at = [];
  for (const n of sizes) at.push(await serviceAt(n, settings, nginx, serve));
  const summary = at.map((point) => {
    const over = (value: (round: typeof point.rounds[number]) => number) => spread(point.rounds.map(value));
    return {
      n: point.n,
      ours: Object.fromEntries(ROUTES.map((route) => [route, {
        per_s: over((round) => round[route].ours.per_s),
        nginx_per_s: over((round) => round[route].nginx.per_s),
        toNginx: over((round) => round[route].ours.per_s / round[route].nginx.per_s),
        p50_ms: over((round) => round[route].ours.p50_ms),
      }])) as Record<Route, Record<"per_s" | "nginx_per_s" | "toNginx" | "p50_ms", Spread>>,
      cpu_ms_per_page: over((round) => round.cpu_ms_per_page),
    };
  });
  return { points: at, summary };
}

// make run: from the registry to a healthy agent, with the package unpacked already and without.
const RUN_PARTS = ["fetch", "trust", "start", "rest"] as const;
type RunTimes = Record<"make" | "step" | typeof RUN_PARTS[number], number>;

/** `command` (a make run of plan, or its step with --json) on a free port, then its agent stopped: wall ms, and what it printed. */
async function timeRun(command: string[], runEnv: Record<string, string>) {
  const { seconds, stdout } = await timed([...command], { ...runEnv, PORT: String(await freePort()) });
  const runs = new AgentRuns(runEnv.AGENTS_DIR);
  const { pid } = (await runs.state("plan"))!;
  agents.add(pid);
  await terminate(pid);
  agents.delete(pid);
  await runs.forget("plan");
  return { ms: seconds * 1000, stdout };
}

/**
 * `make run AGENT=plan` timed as a whole, then its step started as the Makefile starts it, with
 * --json, which says how long it took to fetch, check and start the agent: the rest of the step
 * is the runtime's start and loading its modules, and make run's time beyond the step is make's.
 */
async function measureRun(commands: Commands, settings: Settings) {
  return await withRegistry(async (registry) => {
    const runEnv = { REGISTRY: registry.address, ORAS_BACKEND: "builtin", AGENTS_DIR: path.join(scratch!, "agents"), AGENT: "plan", TRUST_STORE: path.join(scratch!, "trust.json") };
    // Signed, as make run requires by default, with a key of its own trusted in a store of its own.
    const key = path.join(scratch!, "publisher.key.pem");
    await timed(make("keygen", `KEY=${key}`, `RUNTIME=${RUNTIME}`), runEnv);
    await timed(make("packages", "AGENTS=plan", `KEY=${key}`, `RUNTIME=${RUNTIME}`), runEnv);
    const step = [...commands[RUNTIME]!.run, "--json"];
    const runs: { warm: RunTimes; cold: RunTimes }[] = [];
    const once = async (warm: boolean) => {
      const cold = () => rm(runEnv.AGENTS_DIR, { recursive: true, force: true });
      if (!warm) await cold();
      const made = await timeRun(make("run", `RUNTIME=${RUNTIME}`), runEnv);
      if (!warm) await cold();
      const stepped = await timeRun(step, runEnv);
      const { fetch, trust, start } = JSON.parse(stepped.stdout).ms;
      return { make: made.ms, step: stepped.ms, fetch, trust, start, rest: stepped.ms - fetch - trust - start };
    };
    for (let run = 0; run < settings.runs; run++) {
      const [cold, warm] = [await once(false), await once(true)];
      runs.push({ warm, cold });
      progress(`make run ${run + 1}/${settings.runs}: warm ${(warm.make / 1000).toFixed(2)} s, cold ${(cold.make / 1000).toFixed(2)} s`);
    }
    const figures = (cache: "warm" | "cold") =>
      Object.fromEntries((["make", "step", ...RUN_PARTS] as const).map((part) => [part, spread(runs.map((run) => run[cache][part]))])) as Record<keyof RunTimes, Spread>;
    return { runs, warm: figures("warm"), cold: figures("cold") };
  });
}

const fixed = (digits: number) => (value: number) => value.toFixed(digits);
const cell = (s: Spread, format = fixed(2), unit = "") => `${format(s.median)}${unit} (${format(s.min)}-${format(s.max)})`;
const verdict = (ok: boolean) => (ok ? "met" : "NOT met");

type Walkthrough = Awaited<ReturnType<typeof measureWalkthrough>>;
type Fleet = Awaited<ReturnType<typeof measureFleet>>;
type Discovery = Awaited<ReturnType<typeof measureDiscovery>>;
type Run = Awaited<ReturnType<typeof measureRun>>;
const walkthroughTargets = (walk: Walkthrough): string[][] => [
  ...RUNTIMES.map((runtime) => [`six make targets <= 0.8x bash + curl (${runtime})`, `${cell(walk.toCurl[runtime])}x`, verdict(walk.toCurl[runtime].median <= 0.8)]),
  ...RUNTIMES.flatMap((runtime) =>
    LIGHT_STEPS.map((step) => {
      const over = walk.overEmpty[runtime][step];
      return [`make ${step} <= 30 ms over an empty script (${runtime})`, cell(over, fixed(0), " ms"), verdict(over.median <= 30)];
    })
  ),
  ["six make targets, node <= 2x deno", `${cell(walk.nodeToDeno)}x`, verdict(walk.nodeToDeno.median <= 2)],
];

const fleetTargets = (fleet: Fleet, n: number): string[][] => [
  ["fleet push per card <= 0.2x one process per card (skopeo)", `${cell(fleet.toSkopeo.push, fixed(3))}x`, verdict(fleet.toSkopeo.push.median <= 0.2)],
  ["fleet pull + verify per card <= 0.2x one process per card", `${cell(fleet.toSkopeo.pull_verify, fixed(3))}x`, verdict(fleet.toSkopeo.pull_verify.median <= 0.2)],
  ["our CPU per card <= half the registry's", `${cell(fleet.cpuShare)}x`, verdict(fleet.cpuShare.median <= 0.5)],
  [`peak RSS < 200 MB (N=${n})`, cell(fleet.ours.peak_rss_mb, fixed(0), " MB"), verdict(fleet.ours.peak_rss_mb.median < 200)],
];

function printWalkthrough(walk: Walkthrough, settings: Settings) {
  out.banner(`Walkthrough, registry up, seconds: median (min-max) of ${settings.runs} runs`);
  const rows = (columns: string[], figure: Record<string, Record<string, Spread>>, format: (figure: Spread) => string) =>
    [...STEPS, "total"].map((step) => [step, ...columns.map((name) => (figure[name][step] ? format(figure[name][step]) : ""))]);
  const timedColumns = ["make, deno", "make, node", "bash + curl", "floor per step, deno", "floor per step, node"];
  out.table(["Step", ...timedColumns], rows(timedColumns, walk.seconds, (figure) => cell(figure)));
  out.line();
  const countedColumns = ["make, deno", "make, node", "bash + curl", "one process, deno"];
  out.table(["Requests answered", ...countedColumns], rows(countedColumns, walk.requests, (figure) => (figure.min === figure.max ? String(figure.median) : cell(figure, fixed(0)))));
  out.line();
  out.table(["The same in one process, and nothing", "deno", "node"], [
    ["one process (bench/floor.ts), all six steps", ...RUNTIMES.map((runtime) => cell(walk.seconds[`one process, ${runtime}`].total))],
    ["empty script (bench/empty.ts)", ...RUNTIMES.map((runtime) => cell(walk.seconds[`empty script, ${runtime}`].total))],
  ]);
  out.line();
  out.table(["Six make targets, within each run", "deno", "node"], [
    ["/ bash + curl", ...RUNTIMES.map((runtime) => `${cell(walk.toCurl[runtime])}x`)],
    ["/ one process", ...RUNTIMES.map((runtime) => `${cell(walk.toFloor[runtime])}x`)],
    ["/ the floor, one process per step", ...RUNTIMES.map((runtime) => `${cell(walk.toStepFloor[runtime])}x`)],
    ...LIGHT_STEPS.flatMap((step) => [
      [`make ${step}, ms over the empty script`, ...RUNTIMES.map((runtime) => cell(walk.overEmpty[runtime][step], fixed(0)))],
      [`  the floor's ${step}, ms over it`, ...RUNTIMES.map((runtime) => cell(walk.floorOverEmpty[runtime][step], fixed(0)))],
    ]),
  ]);
}

const rate = fixed(0);

function printFleet(fleet: Fleet, scale: ReturnType<typeof scalePoint>[] | undefined, settings: Settings) {
  out.banner(`Fleet under ${RUNTIME}: ${settings.n} cards (skopeo: ${LOOP_CARDS}), median (min-max) of ${settings.fleetRuns} runs`);
  out.table(["Figure", "ours, one process", "one process, bare client", "skopeo, one process per card"], [
    ["push, cards/s", cell(fleet.ours.push_per_s, rate), cell(fleet.floor.push_per_s, rate), cell(fleet.skopeo.push_per_s, fixed(1))],
    ["list (catalog, every page), s", cell(fleet.ours.list_s), cell(fleet.floor.list_s), "-"],
    ["pull + verify, cards/s", cell(fleet.ours.pull_verify_per_s, rate), cell(fleet.floor.pull_verify_per_s, rate), cell(fleet.skopeo.pull_verify_per_s, fixed(1))],
  ]);
  out.line();
  out.table(["Our time per card, within each run", "/ bare client", "/ skopeo per card"], [
    ["push", `${cell(fleet.toFloor.push)}x`, `${cell(fleet.toSkopeo.push, fixed(3))}x`],
    ["list", `${cell(fleet.toFloor.list)}x`, "-"],
    ["pull + verify", `${cell(fleet.toFloor.pull_verify)}x`, `${cell(fleet.toSkopeo.pull_verify, fixed(3))}x`],
  ]);
  out.line();
  out.table(["Our client", "Value"], [
    ["CPU per card, ours, ms", cell(fleet.ours.client_cpu_ms_per_card)],
    ["CPU per card, registry, ms", cell(fleet.ours.registry_cpu_ms_per_card)],
    ["peak RSS, MB", cell(fleet.ours.peak_rss_mb, fixed(0))],
  ]);
  if (!scale) return;
  out.banner("Scale: our client, one run per size");
  out.table(
    ["N", "push/s", "list s", "pull+verify/s", "total s", "ms per card"],
    scale.map((p) => [String(p.n), rate(p.n / p.push_s), p.list_s.toFixed(2), rate(p.n / p.pull_verify_s), p.seconds.toFixed(1), p.ms_per_card.toFixed(2)]),
  );
  const [first, last] = [scale[scale.length - 2], scale[scale.length - 1]];
  out.line(`ms per card grows ${(last.ms_per_card / first.ms_per_card).toFixed(2)}x from N=${first.n} to N=${last.n} (1.00x is linear time)`);
}

function printRun(run: Run, settings: Settings) {
  out.banner(`make run AGENT=plan under ${RUNTIME}, registry to healthy agent, ms: median (min-max) of ${settings.runs} runs`);
  const ms = fixed(0);
  out.table(["Part", "warm cache", "cold cache"], [
    ["make run AGENT=plan", cell(run.warm.make, ms), cell(run.cold.make, ms)],
    ["its step alone, started as make starts it", cell(run.warm.step, ms), cell(run.cold.step, ms)],
    ["  the tag resolved; the package pulled (cold)", cell(run.warm.fetch, ms), cell(run.cold.fetch, ms)],
    ["  the trust check (the unpacked files' digests, the card's signature)", cell(run.warm.trust, ms), cell(run.cold.trust, ms)],
    ["  the agent, spawned until it serves its card", cell(run.warm.start, ms), cell(run.cold.start, ms)],
    ["  the rest: the runtime's start, the step's modules", cell(run.warm.rest, ms), cell(run.cold.rest, ms)],
  ]);
}

function printDiscovery(discovery: Discovery, settings: Settings) {
  out.banner(`Discovery under ${RUNTIME}: ${settings.n} cards, --skill ${settings.skill}, median (min-max) of ${settings.fleetRuns} runs`);
  out.line(`${discovery.found} of ${settings.n} cards have the skill; discover --refresh wrote the index in ${discovery.refresh_s.toFixed(2)} s`);
  out.line("Seconds per discover, its process start included:");
  out.table(
    ["How", "seconds", "CPU seconds", "crawl (cold) / this"],
    MODES.map((mode) => [mode, cell(discovery.seconds[mode]), cell(discovery.cpu_seconds[mode]), mode === "crawl, cold" ? "1" : cell(discovery.coldCrawlTo[mode], fixed(1))]),
  );
  out.note(`load average (1 min) at the start of each run: ${discovery.runs.map((run) => run.load.toFixed(1)).join(", ")} on ${os.cpus().length} cores`);
}

type History = Awaited<ReturnType<typeof measureHistory>>;
type Service = Awaited<ReturnType<typeof measureService>>;
const kib = (bytes: number) => `${(bytes / 1024).toLocaleString("en-US", { maximumFractionDigits: 0 })} KiB`;
/** What docs/discovery.md promises of the cache: 64 MiB of card and manifest bytes and 16 MiB of shards at the most. */
const CACHE_LIMIT_BYTES = 80 * 1024 * 1024;

/** The step that grows most after a history, and by how much. */
const worstStep = (toFresh: Record<string, Spread>) => Object.entries(toFresh).sort(([, a], [, b]) => b.median - a.median)[0];

const historyTargets = (history: History): string[][] =>
  Object.entries(history.aged).flatMap(([name, aged]) => {
    const [step, ratio] = worstStep(aged.toFresh);
    const cache = Math.max(aged.cache_bytes, history.cache_bytes_after[name]);
    return [
      [`every step <= 1.2x a fresh registry's time, ${name}`, `${cell(ratio)}x (${step})`, verdict(ratio.median <= 1.2)],
      [`discovery cache < 80 MiB, ${name}`, kib(cache), verdict(cache < CACHE_LIMIT_BYTES)],
    ];
  });

function serviceTargets(service: Service, history?: History): string[][] {
  const largest = service.points[service.points.length - 1];
  const rows = service.summary.flatMap(({ n, ours }) => [
    ...(["one card", "one card, 304"] as const).map((route) => [`${route} >= 0.5x nginx (N=${n})`, `${cell(ours[route].toNginx)}x`, verdict(ours[route].toNginx.median >= 0.5)]),
    ...(["/agents?skill, 100 cards", "/agents?q, 100 cards"] as const).map((route) => [`${route} >= 0.3x nginx (N=${n})`, `${cell(ours[route].toNginx)}x`, verdict(ours[route].toNginx.median >= 0.3)]),
  ]);
  if (service.summary.length > 1) {
    const [small, large] = [service.summary[0], service.summary[service.summary.length - 1]];
    const growth = large.cpu_ms_per_page.median / small.cpu_ms_per_page.median;
    rows.push([`CPU per 100-card page, N=${large.n} / N=${small.n} <= 1.5x`, `${growth.toFixed(2)}x`, verdict(growth <= 1.5)]);
  }
  rows.push(
    [`service peak RSS < 300 MB (N=${largest.n})`, `${largest.peak_rss_mb.toFixed(0)} MB`, verdict(largest.peak_rss_mb < 300)],
    [`start-up to the first answer < 2 s (N=${largest.n})`, `${largest.startup_s.toFixed(2)} s`, verdict(largest.startup_s < 2)],
    ...service.points.map((point) => [`no answer slower than 1 s while a publish is taken in (N=${point.n})`, `${point.during_publish.slowest_ms.toFixed(0)} ms`, verdict(point.during_publish.slowest_ms <= 1000)]),
    ...service.points.map((point) => [`discover --refresh reads each manifest once (N=${point.n})`, `${point.refresh_reads_per_card.toFixed(2)} GETs per card`, verdict(point.refresh_reads_per_card <= 1)]),
  );
  const fleet = history && Object.entries(history.aged).find(([name]) => name.startsWith("after a fleet"));
  if (fleet) {
    for (const step of ["push", "publish"]) rows.push([`${step} <= 1.2x a fresh registry's time, ${fleet[0]}`, `${cell(fleet[1].toFresh[step])}x`, verdict(fleet[1].toFresh[step].median <= 1.2)]);
  }
  return rows;
}

function printHistory(history: History, settings: Settings) {
  out.banner(`History under ${RUNTIME}: seconds per step, median (min-max) of ${settings.runs} runs; each history's time over a fresh registry's, within each run`);
  const names = Object.keys(history.aged);
  out.table(
    ["Step", "fresh registry", ...names.flatMap((name) => [name, "/ fresh"])],
    HISTORY_STEPS.map((step) => [step, cell(history.fresh[step]), ...names.flatMap((name) => [cell(history.aged[name].seconds[step]), `${cell(history.aged[name].toFresh[step])}x`])]),
  );
  out.line();
  const count = (figure: Spread) => (figure.min === figure.max ? String(figure.median) : cell(figure, fixed(0)));
  out.table(
    ["Requests answered", "fresh registry", ...names],
    HISTORY_STEPS.map((step) => [step, count(history.fresh_requests[step]), ...names.map((name) => count(history.aged[name].requests[step]))]),
  );
  out.line();
  out.table(["Discovery cache", "once the history was made", "after the runs"], names.map((name) => [name, kib(history.aged[name].cache_bytes), kib(history.cache_bytes_after[name])]));
}

function printService(service: Service, settings: Settings) {
  out.banner(`Service under ${RUNTIME}: make serve and nginx (one worker) serving the same bytes, ab -n ${settings.abRequests} -c 50, median (min-max) of ${settings.runs} rounds`);
  out.table(
    ["Route", "N", "make serve, req/s", "nginx, req/s", "serve / nginx", "serve p50, ms"],
    service.summary.flatMap(({ n, ours }) =>
      ROUTES.map((route) => [route, String(n), cell(ours[route].per_s, rate), cell(ours[route].nginx_per_s, rate), `${cell(ours[route].toNginx)}x`, cell(ours[route].p50_ms, fixed(0))])
    ),
  );
  out.line();
  const points = service.points;
  out.table(["Figure", ...points.map((point) => `N=${point.n}`)], [
    ["start-up to the first answer, s", ...points.map((point) => point.startup_s.toFixed(2))],
    ["until every repository was checked, s", ...points.map((point) => point.checked_s.toFixed(1))],
    ["CPU per 100-card page (/agents?skill), ms", ...service.summary.map((point) => cell(point.cpu_ms_per_page, fixed(3)))],
    ["peak RSS, MB", ...points.map((point) => point.peak_rss_mb.toFixed(0))],
    ["slowest of the answers while a publish was taken in, ms", ...points.map((point) => `${point.during_publish.slowest_ms.toFixed(0)} (of ${point.during_publish.answered})`)],
    ["the published card shown after, s", ...points.map((point) => point.publish_visible_s.toFixed(2))],
    ["discover --refresh, s", ...points.map((point) => point.refresh_s.toFixed(1))],
    ["  manifest GETs per card", ...points.map((point) => point.refresh_reads_per_card.toFixed(2))],
  ]);
}

async function bench(settings: Settings) {
  const [started, loadBefore] = [performance.now(), os.loadavg()[0]];
  const has = (part: Part) => settings.parts.includes(part);
  if (has("fleet") && !findOnPath("skopeo")) throw new EnvironmentError("skopeo is not on PATH; the fleet's per-card baseline needs it", "sudo apt-get install skopeo");
  if (has("service") && !(findOnPath("nginx") && findOnPath("ab"))) {
    throw new EnvironmentError("nginx or ab is not on PATH; the service's baseline needs both", "make bench installs them; else sudo apt-get install nginx-light apache2-utils");
  }
  scratch = await mkdtemp(path.join(os.tmpdir(), "pallet-bench-"));
  clockTicksPerS = Number((await timed(["getconf", "CLK_TCK"])).stdout.trim()) || clockTicksPerS;
  // The walkthrough runs under both runtimes, the fleet, history, service and make run under this one; discovery needs neither floor.
  const runtimes = has("walkthrough") ? RUNTIMES : ["fleet", "history", "service", "run"].some((part) => has(part as Part)) ? [RUNTIME] : [];
  if (runtimes.length > 0) progress(`preparing: make setup, the floor and the empty script under ${runtimes.join(" and ")}`);
  const commands = await prepare(runtimes);

  const walk = has("walkthrough") ? await measureWalkthrough(walkthroughVariants(commands), settings) : undefined;
  // Smallest first, the fleet in its place among the sizes: a run leaves this process bigger than
  // it found it (see peak RSS), which must not slow a smaller size and flatter the curve.
  const sizes = settings.n >= 10_000 ? [100, 1000, 10_000] : [100, 1000];
  const scaled = settings.scale && has("fleet");
  const smaller = scaled ? await scaleRuns(sizes.filter((n) => n < settings.n)) : [];
  const fleet = has("fleet") ? await measureFleet(commands[RUNTIME]!.floor, settings) : undefined;
  const larger = scaled ? await scaleRuns(sizes.filter((n) => n > settings.n)) : [];
  const scale = scaled && fleet ? [...smaller, ...(sizes.includes(settings.n) ? [scalePoint(fleet.runs[0].ours)] : []), ...larger] : undefined;
  const discovery = has("discovery") ? await measureDiscovery(settings) : undefined;
  const history = has("history") ? await measureHistory(settings) : undefined;
  const service = has("service") ? await measureService(settings) : undefined;
  const signing = has("signing") ? await measureSigning(await mkdtemp(path.join(scratch!, "signing-")), settings.fleetRuns, progress) : undefined;
  const run = has("run") ? await measureRun(commands, settings) : undefined;
  const targets = [
    ...(walk ? walkthroughTargets(walk) : []),
    ...(fleet ? fleetTargets(fleet, settings.n) : []),
    ...(history ? historyTargets(history) : []),
    ...(service ? serviceTargets(service, history) : []),
    ...(run ? [[`make run, warm cache, < 1 s (${RUNTIME})`, cell(run.warm.make, fixed(0), " ms"), verdict(run.warm.make.median < 1000)]] : []),
  ];

  const results = {
    measured_at: new Date().toISOString(),
    settings: { ...settings, loop_cards: LOOP_CARDS, fleet_runtime: RUNTIME },
    // How each runtime started a script, the Makefile's way (compiled ones in the scratch directory).
    commands: Object.fromEntries(Object.entries(commands).map(([runtime, { empty }]) => [runtime, empty.join(" ").replaceAll(scratch!, "<scratch>")])),
    ...(walk && { walkthrough: walk }),
    ...(fleet && { fleet }),
    ...(scale && { scale }),
    ...(discovery && { discovery }),
    ...(history && { history }),
    ...(service && { service }),
    ...(signing && { signing }),
    ...(run && { run }),
    targets: targets.map(([target, measured, met]) => ({ target, measured, met: met === "met" })),
    // Other work on the machine slows both sides of every ratio, but not always equally.
    load_average: { before: loadBefore, after: os.loadavg()[0] },
    cpus: os.cpus().length,
    bench_s: (performance.now() - started) / 1000,
  };
  await mkdir(path.dirname(RESULTS), { recursive: true });
  await writeFile(RESULTS, JSON.stringify(results, null, 2) + "\n");

  out.banner(`make bench: ${settings.parts.join(", ")}`);
  out.line(`${results.measured_at}, ${results.cpus} CPUs, load average ${loadBefore.toFixed(2)} before, ${results.load_average.after.toFixed(2)} after`);
  for (const [runtime, command] of Object.entries(results.commands)) out.line(`${runtime} starts a script as the Makefile does: ${command}`);
  if (walk) printWalkthrough(walk, settings);
  if (fleet) printFleet(fleet, scale, settings);
  if (discovery) printDiscovery(discovery, settings);
  if (history) printHistory(history, settings);
  if (service) printService(service, settings);
  if (signing) printSigning(out, signing, (values, digits) => cell(spread(values), fixed(digits)), RUNTIME);
  if (run) printRun(run, settings);
  if (targets.length > 0) {
    out.banner("Targets (reported, never asserted)");
    out.table(["Target", "Measured", ""], targets);
  }
  out.line(`\nWrote ${path.relative(ROOT, RESULTS)} (${results.bench_s.toFixed(0)} s)`);
}

let interrupted = false;
for (const [signal, code] of [["SIGINT", 130], ["SIGTERM", 143]] as const) {
  process.once(signal, async () => {
    interrupted = true;
    await cleanUp();
    out.error(`interrupted by ${signal}; stopped the registries and commands this run started, removed its scratch directory`);
    process.exit(code);
  });
}

try {
  const args = process.argv.slice(2);
  if (args.includes("--help") || args.includes("-h") || env.boolean("HELP")) {
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
  out.error(error instanceof CliError ? message : `bench failed: ${message}`);
  if (error instanceof CliError && error.hint) out.hint(error.hint);
  process.exitCode = error instanceof CliError ? error.exitCode : 1;
} finally {
  await cleanUp();
}
