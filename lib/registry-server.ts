/**
 * Local Docker Distribution registries: throwaway ones for tests and benchmarks, and the
 * persistent ones behind `make registry`, each address with its own state in
 * tmp/registry/<host>_<port>/.
 */
import { spawn } from "node:child_process";
import { closeSync, existsSync, mkdirSync, openSync } from "node:fs";
import { mkdtemp, readdir, readFile, rename, rm, stat, unlink, writeFile } from "node:fs/promises";
import http from "node:http";
import { type AddressInfo, connect, createServer } from "node:net";
import os from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { EnvironmentError, UsageError } from "./errors.ts";
import { findOnPath } from "./executables.ts";
import { isLoopbackHost } from "./oci/reference.ts";

export interface RegistryProcess {
  /** host:port as clients use it: "127.0.0.1:PORT" or "localhost:5000". */
  address: string;
  pid: number;
  storageDir: string;
  logFile: string;
  /** How it was started. */
  launch: Launch;
  /** Ends the process and waits until it has exited. */
  stop(): Promise<void>;
}

export type RegistryStatus =
  | { state: "answering"; startedByUs: boolean; how?: "docker-registry" | "docker" }
  /** Nothing listens there. */
  | { state: "down" }
  /** Something accepts connections there but does not answer as a registry. */
  | { state: "taken" };

export const DEFAULT_CONFIG_FILE = fileURLToPath(new URL("../fixtures/registry/config.yml", import.meta.url));
const DEFAULT_STATE_ROOT = fileURLToPath(new URL("../tmp/registry/", import.meta.url));

const STARTUP_TIMEOUT_MS = 10_000;
/** Pulling the registry:2 image can take a while on a slow line. */
const DOCKER_RUN_TIMEOUT_MS = 300_000;
/** No start takes longer: a start lock older than this was left by a run that died. */
const LONGEST_START_MS = DOCKER_RUN_TIMEOUT_MS + STARTUP_TIMEOUT_MS;
const INSTALL_HINT = "Get a registry: `sudo apt-get install docker-registry` (Debian/Ubuntu), " +
  "or with a Docker engine `docker run -d -p 5000:5000 --name registry registry:2`.";

/** Debian names the binary docker-registry; upstream builds and Homebrew call it registry. */
export const findRegistryBinary = () => findOnPath("docker-registry", "registry");

/** zx's `$`, loaded on first use: importing it costs Node about 180 ms, and most runs never start a process. */
const commands = async () => (await import("zx")).$({ nothrow: true, quiet: true });

/** A loopback port nothing listens on right now (the OS picks it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/**
 * The status of GET /v2/, or undefined when nothing answers HTTP there in time. node:http, not
 * fetch: Node 20 spends about 300 ms loading its fetch before the first request.
 */
function probe(address: string, timeoutMs: number): Promise<number | undefined> {
  return new Promise((resolve) => {
    const request = http.get(`http://${address}/v2/`, (response) => {
      response.resume();
      resolve(response.statusCode);
    });
    const timer = setTimeout(() => request.destroy(), timeoutMs);
    request.once("close", () => clearTimeout(timer));
    request.once("error", () => resolve(undefined));
  });
}

/** 401 counts: a registry with auth is still a registry. */
export async function registryAnswers(address: string, timeoutMs = 1000): Promise<boolean> {
  const status = await probe(address, timeoutMs);
  return status === 200 || status === 401;
}

/** Whether anything accepts TCP connections at address, HTTP or not. */
function portTaken(address: string, timeoutMs = 1000): Promise<boolean> {
  const { host, port } = splitAddress(address);
  return new Promise((resolve) => {
    const socket = connect({ host, port, timeout: timeoutMs });
    const done = (taken: boolean) => {
      socket.destroy();
      resolve(taken);
    };
    socket.once("connect", () => done(true));
    socket.once("error", () => done(false));
    socket.once("timeout", () => done(false));
  });
}

async function dockerEngineAnswers(): Promise<boolean> {
  const $ = await commands();
  return (await $`docker info`.timeout(3000)).ok;
}

function splitAddress(address: string): { host: string; port: number } {
  const match = /^(\[[^\]]+\]|[^:]+):(\d+)$/.exec(address);
  if (!match) throw new UsageError(`registry address must be host:port, got "${address}"`, "For example localhost:5000.");
  return { host: match[1].replace(/^\[|\]$/g, ""), port: Number(match[2]) };
}

function joinHostPort(host: string, port: number): string {
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}

async function logTail(logFile: string, lines = 10): Promise<string> {
  const text = await readFile(logFile, "utf8").catch(() => "");
  return text.trimEnd().split("\n").slice(-lines).join("\n");
}

/** Polls until address answers as a registry; `failure` reports a start that already went wrong. */
async function waitUntilAnswers(
  address: string,
  failure: () => string | undefined,
  answers: (address: string) => Promise<boolean> = (address) => registryAnswers(address, 500),
): Promise<string | undefined> {
  const deadline = Date.now() + STARTUP_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (failure()) return failure();
    if (await answers(address)) return undefined;
    await sleep(25);
  }
  return `no answer from http://${address}/v2/ within ${STARTUP_TIMEOUT_MS / 1000} s`;
}

/**
 * Whether pid is a live registry process: a pid file can outlive a reboot and its number be
 * reused. A zombie has an empty command line (Linux) or a "(name)" (ps on macOS).
 */
async function isRegistryProcess(pid: number): Promise<boolean> {
  let executable;
  if (existsSync("/proc/self")) {
    executable = (await readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => "")).split("\0")[0];
  } else {
    const $ = await commands();
    executable = (await $`ps -o comm= -p ${pid}`.timeout(2000)).stdout.trim();
  }
  return ["docker-registry", "registry"].includes(path.basename(executable));
}

/** Returns false when the process is already gone. */
function signal(pid: number, name: NodeJS.Signals | 0): boolean {
  try {
    process.kill(pid, name);
    return true;
  } catch (error) {
    if ((error as { code?: string }).code === "ESRCH") return false;
    throw error;
  }
}

/**
 * SIGTERM, then SIGKILL if it lingers; resolves once the registry has exited. A zombie counts
 * as exited: an orphan waits for init to reap it, which takes seconds in some sandboxes.
 */
async function terminate(pid: number): Promise<void> {
  for (const [name, graceMs] of [["SIGTERM", 5000], ["SIGKILL", 2000]] as const) {
    if (!signal(pid, name)) return;
    const deadline = Date.now() + graceMs;
    while (Date.now() < deadline) {
      if (!(await isRegistryProcess(pid))) return;
      await sleep(25);
    }
  }
  throw new EnvironmentError(`process ${pid} did not exit after SIGKILL`);
}

/** A command that starts a registry, as a person could type it: its settings, its argv, and where its output goes. */
export interface Launch {
  env?: Record<string, string>;
  argv: string[];
  log?: string;
}

/** How docker-registry is started to serve `address` from `storageDir`. */
function distributionLaunch(address: string, storageDir: string, logFile: string, configFile = DEFAULT_CONFIG_FILE): Launch {
  const binary = findRegistryBinary();
  if (!binary) throw new EnvironmentError("no docker-registry (or registry) binary on PATH", INSTALL_HINT);
  return {
    // The registry parses these as YAML: quoting keeps "[::1]:5000" and odd paths strings.
    env: { REGISTRY_HTTP_ADDR: JSON.stringify(address), REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY: JSON.stringify(shown(path.resolve(storageDir))) },
    argv: [path.basename(binary), "serve", shown(configFile)],
    log: shown(logFile),
  };
}

/** The container a Docker engine runs for `address`: published on loopback only, since the registry has no auth. */
function dockerLaunch(address: string, stateDir: string): Launch {
  const { host, port } = splitAddress(address);
  return { argv: ["docker", "run", "-d", "-p", `${joinHostPort(host === "localhost" ? "127.0.0.1" : host, port)}:5000`, "--name", containerName(stateDir), "registry:2"] };
}

/**
 * Starts docker-registry serving host:port with its blobs in storageDir, and waits until it
 * answers. `detached` lets it outlive this process (and a Ctrl-C in the terminal).
 */
export async function startDistribution(opts: {
  host?: string;
  port: number;
  storageDir: string;
  logFile: string;
  configFile?: string;
  detached?: boolean;
  /** Whether it is up; by default GET http://address/v2/ answering 200 or 401 (a TLS registry needs its own check). */
  answers?: (address: string) => Promise<boolean>;
}): Promise<RegistryProcess> {
  const address = joinHostPort(opts.host ?? "127.0.0.1", opts.port);
  const launch = distributionLaunch(address, opts.storageDir, opts.logFile, opts.configFile);
  const [binary, ...args] = launch.argv;
  // Otherwise a registry already there would pass for ours while ours fails to bind.
  if (await portTaken(address)) throw new EnvironmentError(`${address} is already in use`, "Pick another port.");

  mkdirSync(opts.storageDir, { recursive: true });
  mkdirSync(path.dirname(opts.logFile), { recursive: true });
  const log = openSync(opts.logFile, "w");
  const child = spawn(findRegistryBinary()!, args, { detached: opts.detached ?? false, stdio: ["ignore", log, log], env: { ...process.env, ...launch.env } });
  closeSync(log);
  let ended: string | undefined;
  child.once("error", (error) => (ended = error.message));
  child.once("exit", (code, sig) => (ended = `it exited with ${sig ?? `code ${code}`}`));
  const { pid } = child;
  if (pid === undefined) throw new EnvironmentError(`could not run ${binary}`, "Check that it is executable.");
  if (opts.detached) child.unref();

  const problem = await waitUntilAnswers(address, () => ended, opts.answers);
  if (problem) {
    await terminate(pid);
    throw new EnvironmentError(
      `${path.basename(binary)} did not come up at ${address}: ${problem}. Last lines of its log:\n` +
        await logTail(opts.logFile),
      `The whole log is ${opts.logFile}.`,
    );
  }
  return { address, pid, storageDir: opts.storageDir, logFile: opts.logFile, launch, stop: () => terminate(pid) };
}

/** A registry of its own on a free loopback port, in a fresh temp dir that stop() removes. */
export async function startTestRegistry(): Promise<RegistryProcess> {
  const dir = await mkdtemp(path.join(os.tmpdir(), "pallet-registry-"));
  try {
    const registry = await startDistribution({
      port: await freePort(),
      storageDir: path.join(dir, "data"),
      logFile: path.join(dir, "registry.log"),
    });
    return {
      ...registry,
      stop: async () => {
        await registry.stop();
        await rm(dir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}

// The persistent registries of `make registry`, one state directory per address. It holds
// registry.pid (a docker-registry we started) or registry.docker (the id of a container we
// started), registry.log and the previous start's registry.log.1, data/, and start.lock
// while a start is under way.

type Started = { how: "docker-registry"; pid: number } | { how: "docker"; container: string; name: string };

/** tmp/registry/localhost_5000, tmp/registry/__1_5000 for [::1]:5000. */
export const registryStateDir = (address: string, root: string = DEFAULT_STATE_ROOT) =>
  path.join(root, address.replace(/[[\]]/g, "").replace(/[^A-Za-z0-9.-]/g, "_"));

const stateFile = (stateDir: string, name: string) => path.join(stateDir, name);

/** Each address's container has a name of its own: registry-localhost_5000. */
const containerName = (stateDir: string) => `registry-${path.basename(stateDir)}`;

/** What we started earlier and is still there; forgets a pid file whose process is gone. */
async function startedEarlier(stateDir: string): Promise<Started | undefined> {
  const container = await readFile(stateFile(stateDir, "registry.docker"), "utf8").catch(() => undefined);
  if (container) return { how: "docker", container: container.trim(), name: containerName(stateDir) };
  const pidText = await readFile(stateFile(stateDir, "registry.pid"), "utf8").catch(() => undefined);
  if (pidText === undefined) return undefined;
  const pid = Number(pidText.trim());
  if (Number.isInteger(pid) && pid > 0 && await isRegistryProcess(pid)) return { how: "docker-registry", pid };
  await unlink(stateFile(stateDir, "registry.pid")).catch(() => {});
  return undefined;
}

/** Paths below the working directory are shown as the user would type them. */
function shown(file: string): string {
  const relative = path.relative(process.cwd(), file);
  return relative.startsWith("..") ? file : relative;
}

function describeStarted(started: Started): string {
  return started.how === "docker"
    ? `Docker container ${started.name} (${started.container.slice(0, 12)})`
    : `docker-registry (pid ${started.pid})`;
}

/** A start lock is left over when its process is gone, or when it is older than any start takes. */
async function isStaleLock(lock: string): Promise<boolean> {
  try {
    const [pidText, { mtimeMs }] = await Promise.all([readFile(lock, "utf8"), stat(lock)]);
    const pid = Number(pidText);
    // Empty: its owner is writing its pid right now.
    return Date.now() - mtimeMs > LONGEST_START_MS || (pid > 0 && !signal(pid, 0));
  } catch {
    return false; // released meanwhile
  }
}

/**
 * Runs `start` holding the address's start lock, a file created only if it does not exist
 * (O_EXCL): of two `make registry` at once, one starts the registry and the other waits, then
 * finds it answering. The wait is bounded: a lock turns stale after LONGEST_START_MS.
 */
async function withStartLock<T>(stateDir: string, start: () => Promise<T>): Promise<T> {
  const lock = stateFile(stateDir, "start.lock");
  for (;;) {
    try {
      await writeFile(lock, String(process.pid), { flag: "wx" });
      break;
    } catch (error) {
      if ((error as { code?: string }).code !== "EEXIST") throw error;
    }
    if (await isStaleLock(lock)) await unlink(lock).catch(() => {});
    else await sleep(50);
  }
  try {
    return await start();
  } finally {
    await unlink(lock).catch(() => {});
  }
}

interface Ensured {
  reused: boolean;
  how: "docker-registry" | "docker" | "external";
  detail: string;
  /** What was run to start it, when one was started. */
  launch?: Launch;
}

/** A registry answering at address to reuse, undefined when nothing listens there; anything else is refused. */
async function answering(address: string, stateDir: string): Promise<Ensured | undefined> {
  const status = await probe(address, 1000);
  if (status === 200 || status === 401) {
    const started = await startedEarlier(stateDir);
    const detail = started
      ? `registry at ${address} already running: ${describeStarted(started)}, started earlier by us`
      : `a registry already answers at ${address}; using it`;
    return { reused: true, how: started?.how ?? "external", detail };
  }
  if (status !== undefined || await portTaken(address)) {
    throw new EnvironmentError(
      `${address} is taken by something that is not a registry` +
        (status === undefined ? "" : ` (GET /v2/ answered ${status})`),
      "Stop it, or use another address such as localhost:5001. (On macOS the AirPlay Receiver holds port 5000.)",
    );
  }
  return undefined;
}

/**
 * Makes sure a registry answers at address: reuses one that does, else starts one on this
 * machine, in a Docker container if an engine answers, else docker-registry in the background.
 */
export async function ensureRegistry(address: string, root: string = DEFAULT_STATE_ROOT): Promise<Ensured> {
  splitAddress(address); // host:port, or a usage error before anything is tried
  const stateDir = registryStateDir(address, root);
  if (!isLoopbackHost(address)) {
    const found = await answering(address, stateDir);
    if (found) return found;
    throw new EnvironmentError(
      `no registry answers at ${address}`,
      "Only registries on this machine (localhost, 127.0.0.1, ::1) are started for you; " +
        "start that one yourself, or use localhost:5000.",
    );
  }
  mkdirSync(stateDir, { recursive: true });
  return await withStartLock(stateDir, async () => (await answering(address, stateDir)) ?? await start(address, stateDir));
}

/** How a registry is started here now: a Docker container where an engine answers, else docker-registry; or no way. */
async function launchHere(address: string, stateDir: string): Promise<Launch | undefined> {
  if (await dockerEngineAnswers()) return dockerLaunch(address, stateDir);
  return findRegistryBinary() ? distributionLaunch(address, stateFile(stateDir, "data"), stateFile(stateDir, "registry.log")) : undefined;
}

/**
 * What `make registry` would run at address now, for presenter mode to show first; undefined
 * where it runs nothing (a registry answers there, or there is no way to start one).
 */
export async function plannedLaunch(address: string, root: string = DEFAULT_STATE_ROOT): Promise<Launch | undefined> {
  if (!isLoopbackHost(address) || await portTaken(address)) return undefined;
  return await launchHere(address, registryStateDir(address, root));
}

async function start(address: string, stateDir: string): Promise<Ensured> {
  const { host, port } = splitAddress(address);
  const started = await startedEarlier(stateDir);
  if (started) {
    throw new EnvironmentError(
      `the ${describeStarted(started)} we started earlier does not answer at ${address}`,
      `Stop it first (make registry-stop REGISTRY=${address}), then start again.`,
    );
  }

  const launch = await launchHere(address, stateDir);
  if (launch?.argv[0] === "docker") {
    const name = containerName(stateDir);
    const $ = await commands();
    const run = await $`${launch.argv}`.timeout(DOCKER_RUN_TIMEOUT_MS);
    if (!run.ok) {
      throw new EnvironmentError(
        `docker run failed: ${run.stderr.trim()}`,
        `If a container named ${name} exists already: \`docker start ${name}\`, or \`docker rm ${name}\` and try again.`,
      );
    }
    const container = run.stdout.trim();
    await writeFile(stateFile(stateDir, "registry.docker"), `${container}\n`);
    const problem = await waitUntilAnswers(address, () => undefined);
    if (problem) {
      throw new EnvironmentError(`the registry container did not come up: ${problem}`, `See \`docker logs ${name}\`.`);
    }
    return { reused: false, how: "docker", detail: `started ${describeStarted({ how: "docker", container, name })} at ${address}`, launch };
  }

  if (!launch) {
    throw new EnvironmentError(`no registry answers at ${address}, and there is no way here to start one`, INSTALL_HINT);
  }
  const logFile = stateFile(stateDir, "registry.log");
  await rename(logFile, `${logFile}.1`).catch(() => {}); // the previous start's log, for a look after a crash
  // For "localhost" Go listens on 127.0.0.1 (on ::1 only where localhost has no IPv4 address);
  // clients that try ::1 first (Node 20 fetch, Deno, curl, oras) fall back to 127.0.0.1.
  const registry = await startDistribution({ host, port, storageDir: stateFile(stateDir, "data"), logFile, detached: true });
  await writeFile(stateFile(stateDir, "registry.pid"), `${registry.pid}\n`);
  return {
    reused: false,
    how: "docker-registry",
    detail: `started docker-registry (pid ${registry.pid}) at ${address}; log ${shown(logFile)}, data ${shown(registry.storageDir)}`,
    launch: registry.launch,
  };
}

/**
 * Stops what ensureRegistry started with this state directory: what it did, and where the data
 * it leaves is (a container takes its data along); undefined when it started nothing that still runs.
 */
async function stopStarted(stateDir: string): Promise<{ stopped: string; data?: string } | undefined> {
  const started = await startedEarlier(stateDir);
  if (started?.how === "docker") {
    const $ = await commands();
    const removed = await $`docker rm -f ${started.container}`.timeout(30_000);
    if (!removed.ok) {
      throw new EnvironmentError(`could not remove container ${started.container}: ${removed.stderr.trim()}`);
    }
    await unlink(stateFile(stateDir, "registry.docker"));
    return { stopped: `removed ${describeStarted(started)}, and the artifacts stored in it` };
  }
  if (started?.how === "docker-registry") {
    await terminate(started.pid);
    await unlink(stateFile(stateDir, "registry.pid"));
    return { stopped: `stopped ${describeStarted(started)}`, data: shown(stateFile(stateDir, "data")) };
  }
  return undefined;
}

/** Stops only what ensureRegistry started at this address; says what it did. */
export async function stopRegistry(address: string, root: string = DEFAULT_STATE_ROOT): Promise<string> {
  const done = await stopStarted(registryStateDir(address, root));
  if (done) return done.data ? `${done.stopped}; its data stays in ${done.data} (make reset empties it)` : done.stopped;
  return await registryAnswers(address)
    ? `a registry answers at ${address}, but we did not start it; leaving it alone`
    : `no registry runs at ${address}; nothing to stop`;
}

/** Stops every registry ensureRegistry started, at any address (for `make clean`, which then removes their data). */
export async function stopAllRegistries(root: string = DEFAULT_STATE_ROOT): Promise<string[]> {
  const entries = await readdir(root, { withFileTypes: true }).catch(() => []);
  const stopped = [];
  for (const entry of entries) {
    if (!entry.isDirectory()) continue;
    const done = await stopStarted(path.join(root, entry.name));
    if (done) stopped.push(`${done.stopped}, of ${shown(path.join(root, entry.name))}`);
  }
  return stopped;
}

/**
 * What `make reset` empties at this address, and the function that empties it: the registry
 * ensureRegistry started there is stopped, its data removed, and a new one started; data left by
 * one that no longer runs is removed. A registry it did not start is refused, and so is an
 * address with nothing to empty.
 */
export async function planReset(address: string, root: string = DEFAULT_STATE_ROOT): Promise<{ what: string; running: boolean; reset(): Promise<string> }> {
  const stateDir = registryStateDir(address, root);
  const data = stateFile(stateDir, "data");
  const started = await startedEarlier(stateDir);
  if (started) {
    return {
      what: `the ${describeStarted(started)} make registry started${started.how === "docker" ? "" : `, its data in ${shown(data)}`}`,
      running: true,
      async reset() {
        await stopStarted(stateDir);
        await rm(data, { recursive: true, force: true });
        return `emptied: ${(await ensureRegistry(address, root)).detail}`;
      },
    };
  }
  if (await registryAnswers(address)) {
    throw new EnvironmentError(
      `a registry answers at ${address}, but make registry did not start it; make reset empties only the registries it started`,
      `Remove what you pushed there tag by tag: make untag REGISTRY=${address} AGENTS=… TAG=…`,
    );
  }
  if (!existsSync(data)) throw new EnvironmentError(`nothing to reset at ${address}: no registry runs there, and none left data`, `make registry REGISTRY=${address} starts an empty one.`);
  return {
    what: `the data a registry left in ${shown(data)} (it no longer runs)`,
    running: false,
    async reset() {
      await rm(data, { recursive: true, force: true });
      return `removed ${shown(data)}`;
    },
  };
}

export async function registryStatus(address: string, root: string = DEFAULT_STATE_ROOT): Promise<RegistryStatus> {
  if (!(await registryAnswers(address))) return { state: (await portTaken(address)) ? "taken" : "down" };
  const started = await startedEarlier(registryStateDir(address, root));
  return started
    ? { state: "answering", startedByUs: true, how: started.how }
    : { state: "answering", startedByUs: false };
}
