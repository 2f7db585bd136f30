import { spawn } from "node:child_process";
import { copyFileSync, cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import http from "node:http";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { after, before } from "node:test";
import { fileURLToPath } from "node:url";
import { findOnPath } from "../lib/executables.ts";
import { collect, Registry } from "../lib/oci/registry.ts";
import { type RegistryProcess, startDistribution, startTestRegistry } from "../lib/registry-server.ts";
import { runStep, type Step } from "../lib/step/run.ts";
import { generateKeyFiles, readSigningKey } from "../lib/trust/keys.ts";
import { trustKeys } from "../lib/trust/store.ts";

export const PROJECT_ROOT = fileURLToPath(new URL("..", import.meta.url));

/** Scripts run under the runtime that runs the tests, so `make test` covers Node and Deno. */
export const RUNTIME: "node" | "deno" = "Deno" in globalThis ? "deno" : "node";

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

interface StartOptions {
  env?: Record<string, string>;
  cwd?: string;
  /** What the command reads on stdin; none (an empty stdin) by default. */
  input?: string;
}

/**
 * This process's environment as a user's shell has it: without what a make running the tests hands
 * down (its flags and variables, TESTS=… among them, which a make a test starts would be given
 * too) and without node's test runner telling its children they are its children.
 */
export function userEnv(): Record<string, string> {
  const { MAKEFLAGS: _flags, MFLAGS: _mflags, MAKELEVEL: _level, NODE_TEST_CONTEXT: _context, ...outside } = process.env;
  return outside as Record<string, string>;
}

/** Starts a command, collecting its output; `done` never rejects for a non-zero exit. */
export function start(command: string, args: string[], options: StartOptions = {}) {
  const child = spawn(command, args, {
    cwd: options.cwd ?? PROJECT_ROOT,
    env: { ...userEnv(), NO_COLOR: "1", ...options.env },
    stdio: "pipe",
  });
  child.stdin.end(options.input);
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk) => (stdout += chunk));
  child.stderr.on("data", (chunk) => (stderr += chunk));
  const done = new Promise<Run>((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code, signal) => resolve({ code: code ?? (signal ? -1 : 0), stdout, stderr }));
  });
  return { child, done };
}

/** Runs a command to completion, collecting its output; never throws for a non-zero exit. */
export const run = (command: string, args: string[], options: StartOptions = {}): Promise<Run> =>
  start(command, args, options).done;

/** `scripts/<name>.ts` as a user starts it: a separate process, options as flags and env. */
export function startScript(name: string, args: string[] = [], env: Record<string, string> = {}, cwd?: string) {
  const script = `${PROJECT_ROOT}scripts/${name}.ts`;
  return RUNTIME === "deno"
    ? start(`${PROJECT_ROOT}node_modules/.bin/deno`, ["run", "-A", "--quiet", script, ...args], { env, cwd })
    // tsx by its resolved URL: `--import tsx` would look for it below cwd.
    : start(process.execPath, ["--import", import.meta.resolve("tsx"), script, ...args], { env, cwd });
}

/** Runs `step` in this process with `argv`; what it printed, by stream, and its exit code. */
export async function inProcess(step: Step, argv: string[]): Promise<Run> {
  const printed = { stdout: "", stderr: "" };
  const code = await runStep(step, {
    argv,
    stdout: { write: (text: string) => (printed.stdout += text) },
    stderr: { write: (text: string) => (printed.stderr += text) },
    color: false,
  });
  return { code, ...printed };
}

/** `scripts/<name>.ts` run to completion. */
export const runScript = (name: string, args: string[] = [], env: Record<string, string> = {}, cwd?: string): Promise<Run> =>
  startScript(name, args, env, cwd).done;

/** Starts `make serve` on a free port; resolves once it says where it listens. */
export function startService(env: Record<string, string>, args: string[] = []) {
  const service = startScript("serve", ["--addr", "127.0.0.1:0", ...args], env);
  let output = "";
  const url = new Promise<string>((resolve, reject) => {
    service.child.stdout?.on("data", (chunk) => {
      output += chunk;
      const found = output.match(/at (http:\/\/127\.0\.0\.1:\d+)\//);
      if (found) resolve(found[1]);
    });
    service.done.then((result) => reject(new Error(`serve exited ${result.code} before listening:\n${result.stdout}\n${result.stderr}`)));
  });
  return { ...service, url };
}

/** skopeo, the independent OCI client that checks what our scripts wrote. */
export async function skopeo(args: string[]): Promise<string> {
  const result = await run("skopeo", args);
  if (result.code !== 0) throw new Error(`skopeo ${args.join(" ")} failed: ${result.stderr}`);
  return result.stdout;
}

/** Accepts connections and never answers: a hung registry, or something else on its port. */
export async function silentServer(): Promise<{ address: string; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    address: `127.0.0.1:${(server.address() as net.AddressInfo).port}`,
    close: () => {
      for (const socket of sockets) socket.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

/**
 * A copy of the project in `parent` as a fresh clone has it (no tmp/, dist/ or .git), its
 * node_modules linked: where make can run with state of its own.
 */
export function projectCopy(parent: string): string {
  const dir = mkdtempSync(path.join(parent, "project-"));
  for (const entry of readdirSync(PROJECT_ROOT).filter((name) => !["node_modules", "tmp", "dist", ".git"].includes(name))) {
    cpSync(path.join(PROJECT_ROOT, entry), path.join(dir, entry), { recursive: true, preserveTimestamps: true });
  }
  symlinkSync(path.join(PROJECT_ROOT, "node_modules"), path.join(dir, "node_modules"));
  return dir;
}

/** A new directory in `parent`, to use as PATH, that holds only the named programs (links to the ones on PATH). */
export function pathWith(parent: string, programs: string[]): string {
  const dir = mkdtempSync(path.join(parent, "path-"));
  for (const program of programs) {
    const found = findOnPath(program);
    if (!found) throw new Error(`${program} is not on PATH`);
    symlinkSync(found, path.join(dir, program));
  }
  return dir;
}

/** Where Distribution's filesystem driver keeps a blob's bytes (or a manifest's). */
export const blobDataPath = (storageDir: string, digest: string) =>
  path.join(storageDir, "docker/registry/v2/blobs/sha256", digest.slice(7, 9), digest.slice(7), "data");

/** Every file and directory below `dir`, relative to it, sorted: to show that nothing was written. */
export const filesBelow = (dir: string): string[] =>
  existsSync(dir) ? (readdirSync(dir, { recursive: true }) as string[]).sort() : [];

export interface FaultProxy {
  address: string;
  /** Every request that reached the proxy, in order, as "METHOD /path". */
  requests: string[];
  /** How many requests matched. */
  count(method: string, path: RegExp): number;
  /**
   * Answers the next `times` matching requests (all, by default) with `status` instead of
   * forwarding them: with a distribution error body when `code` is given, else plain text.
   */
  fail(method: string, path: RegExp, status: number, times?: number, code?: string): void;
  /** Forwards matching requests, then appends `bytes` spaces to the answer (still the same JSON). */
  pad(method: string, path: RegExp, bytes: number, declareLength: boolean): void;
  /** Holds the next matching request; resolves, once it arrived, to a function that forwards it. */
  hold(method: string, path: RegExp): Promise<() => void>;
  /** Forwards matching requests' headers and first `bytes` bytes, then sends nothing more: a transfer in flight. */
  stall(method: string, path: RegExp, bytes: number): void;
  /**
   * Forwards matching requests' headers without a length, then sends zeros for as long as the
   * client reads, up to `bytes`: a source that sends far more than it announced.
   */
  flood(method: string, path: RegExp, bytes: number): void;
  /** How many bytes the floods sent before their clients stopped reading. */
  flooded(): number;
  /** Forwards matching requests with `Link: <next>; rel="next"`: a list whose pages go on. */
  link(method: string, path: RegExp, next: string): void;
  stop(): Promise<void>;
}

type Fault =
  | { kind: "fail"; status: number; code?: string }
  | { kind: "pad"; bytes: number; declareLength: boolean }
  | { kind: "hold"; arrived: (release: () => void) => void }
  | { kind: "stall"; bytes: number }
  | { kind: "flood"; bytes: number }
  | { kind: "link"; next: string };

/**
 * A fault injector in front of a real registry: forwards every request, except those a rule
 * catches. The Host header goes through unchanged, so the registry's Location headers point
 * back at the proxy. When the registry drops a connection, so does the proxy.
 */
export async function startFaultProxy(target: string): Promise<FaultProxy> {
  const [targetHost, targetPort] = [target.slice(0, target.lastIndexOf(":")), Number(target.slice(target.lastIndexOf(":") + 1))];
  const rules: { method: string; path: RegExp; times: number; fault: Fault }[] = [];
  const requests: string[] = [];
  let flooded = 0;
  const sockets = new Set<net.Socket>();

  const forward = (
    request: http.IncomingMessage,
    response: http.ServerResponse,
    pad?: Extract<Fault, { kind: "pad" }>,
    stall?: Extract<Fault, { kind: "stall" }>,
    flood?: Extract<Fault, { kind: "flood" }>,
  ) => {
    const upstream = http.request(
      { host: targetHost, port: targetPort, method: request.method, path: request.url, headers: request.headers },
      (answer) => {
        if (flood) {
          answer.resume();
          const { "content-length": _, ...headers } = answer.headers;
          response.writeHead(answer.statusCode ?? 502, headers);
          const chunk = Buffer.alloc(64 * 1024);
          let sent = 0;
          const more = () => {
            while (sent < flood.bytes && !response.destroyed) {
              sent += chunk.length;
              flooded += chunk.length;
              if (!response.write(chunk)) return void response.once("drain", more);
            }
            response.end();
          };
          response.on("close", () => (sent = flood.bytes));
          more();
          return;
        }
        if (stall) {
          response.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.once("data", (chunk: Buffer) => response.write(chunk.subarray(0, stall.bytes)));
          return;
        }
        if (!pad) {
          response.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(response);
          return;
        }
        const chunks: Buffer[] = [];
        answer.on("data", (chunk: Buffer) => chunks.push(chunk));
        answer.on("end", () => {
          const body = Buffer.concat([...chunks, Buffer.alloc(pad.bytes, " ")]);
          const { "content-length": _, ...headers } = answer.headers;
          response.writeHead(answer.statusCode ?? 502, pad.declareLength ? { ...headers, "content-length": body.length } : headers);
          response.end(body);
        });
      },
    );
    upstream.on("error", () => request.socket.destroy());
    request.pipe(upstream);
  };

  const server = http.createServer((request, response) => {
    const line = `${request.method} ${request.url}`;
    requests.push(line);
    const rule = rules.find((r) => r.times > 0 && r.method === request.method && r.path.test(request.url ?? ""));
    if (!rule) return forward(request, response);
    rule.times--;
    const { fault } = rule;
    if (fault.kind === "fail") {
      request.resume();
      if (fault.code) {
        response.writeHead(fault.status, { "content-type": "application/json" });
        response.end(JSON.stringify({ errors: [{ code: fault.code, message: `injected ${fault.code}` }] }));
      } else {
        response.writeHead(fault.status, { "content-type": "text/plain" });
        response.end(`injected ${fault.status}\n`);
      }
    } else if (fault.kind === "pad") {
      forward(request, response, fault);
    } else if (fault.kind === "stall") {
      forward(request, response, undefined, fault);
    } else if (fault.kind === "flood") {
      forward(request, response, undefined, undefined, fault);
    } else if (fault.kind === "link") {
      const setHeader = response.setHeader.bind(response);
      response.writeHead = ((status: number, headers?: http.OutgoingHttpHeaders) => {
        for (const [name, value] of Object.entries(headers ?? {})) if (value !== undefined) setHeader(name, value);
        setHeader("link", `<${fault.next}>; rel="next"`);
        return http.ServerResponse.prototype.writeHead.call(response, status);
      }) as typeof response.writeHead;
      forward(request, response);
    } else {
      fault.arrived(() => forward(request, response));
    }
  });
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const add = (method: string, path: RegExp, times: number, fault: Fault) => rules.push({ method, path, times, fault });

  return {
    address: `127.0.0.1:${(server.address() as net.AddressInfo).port}`,
    requests,
    count: (method, pattern) => requests.filter((line) => line.startsWith(`${method} `) && pattern.test(line.slice(method.length + 1))).length,
    fail: (method, path, status, times = Infinity, code) => add(method, path, times, { kind: "fail", status, code }),
    pad: (method, path, bytes, declareLength) => add(method, path, Infinity, { kind: "pad", bytes, declareLength }),
    hold: (method, path) => new Promise((arrived) => add(method, path, 1, { kind: "hold", arrived })),
    stall: (method, path, bytes) => add(method, path, Infinity, { kind: "stall", bytes }),
    flood: (method, path, bytes) => add(method, path, Infinity, { kind: "flood", bytes }),
    flooded: () => flooded,
    link: (method, path, next) => add(method, path, Infinity, { kind: "link", next }),
    stop: () => {
      for (const socket of sockets) socket.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

export const FIXTURE_CARDS = path.join(PROJECT_ROOT, "fixtures/agent_cards");
export const AGENTS = ["plan", "build", "test"];
export const fixtureCard = (agent: string) => readFileSync(path.join(FIXTURE_CARDS, `${agent}_agent_card.json`));

export interface Bench {
  registry: RegistryProcess;
  /** A temp dir for the block's files; the scripts also run in it, so stray writes show up. */
  work: string;
  /** What every step needs: this registry, the fixture cards, OUT_DIR in `work`, the built-in client. */
  env: Record<string, string>;
}

/** Called inside a describe: one registry and one work dir for all its tests, removed after them. */
export function withRegistry(): Bench {
  const bench = {} as Bench;
  before(async () => {
    bench.registry = await startTestRegistry();
    bench.work = mkdtempSync(path.join(os.tmpdir(), "pallet-test-"));
    bench.env = {
      REGISTRY: bench.registry.address,
      CARDS_DIR: FIXTURE_CARDS,
      OUT_DIR: path.join(bench.work, "registry-verify"),
      ORAS_BACKEND: "builtin",
    };
  });
  after(async () => {
    await bench.registry?.stop();
    rmSync(bench.work, { recursive: true, force: true });
  });
  return bench;
}

/** A cards directory: copies of the fixtures, with the given files replaced (null removes one). */
export function cardsDir(parent: string, replaced: Record<string, string | Uint8Array | null> = {}): string {
  const dir = mkdtempSync(path.join(parent, "cards-"));
  for (const agent of AGENTS) copyFileSync(path.join(FIXTURE_CARDS, `${agent}_agent_card.json`), path.join(dir, `${agent}_agent_card.json`));
  for (const [file, content] of Object.entries(replaced)) {
    if (content === null) rmSync(path.join(dir, file));
    else writeFileSync(path.join(dir, file), content);
  }
  return dir;
}

/** SIGKILLs a registry, as a crash would, and waits until the process is gone. */
export async function killRegistry(registry: RegistryProcess): Promise<void> {
  process.kill(registry.pid, "SIGKILL");
  for (;;) {
    try {
      process.kill(registry.pid, 0);
    } catch {
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** A new registry process on the same address and storage: the one given must be gone. */
export function restartRegistry(registry: RegistryProcess): Promise<RegistryProcess> {
  return startDistribution({
    port: Number(registry.address.slice(registry.address.lastIndexOf(":") + 1)),
    storageDir: registry.storageDir,
    logFile: `${registry.logFile}.restarted`,
  });
}

/** The repositories the registry holds, asked directly. */
export const catalog = async (address: string): Promise<string[]> => collect(new Registry(address).catalog());

/** README.md first (its walkthrough puts the cards in the registry), then every docs/*.md in name order. */
export const DOC_PAGES = ["README.md", ...readdirSync(path.join(PROJECT_ROOT, "docs")).filter((name) => name.endsWith(".md")).sort().map((name) => `docs/${name}`)];

/** A command a page shows in a code block, to run as written. */
export interface ShownCommand {
  page: string;
  line: number;
  /** As written: after its `$ ` prompt, or a line of a ```bash block without its `# comment`. */
  command: string;
  /** What the page shows it printing: the lines after it, up to the next command or the end of its block. */
  output: string[];
  /** In a Troubleshooting section (between its markers), whose commands show failures on purpose. */
  troubleshooting: boolean;
  /** In a ~~~ block: a session captured against registries set up for it, whose oras lines are not run. */
  captured: boolean;
}

/** Every command in a page's code blocks, in order: `$ …` lines with what follows them, and the lines of ```bash blocks. */
export function shownCommands(page: string): ShownCommand[] {
  const commands: ShownCommand[] = [];
  let block: string | undefined;
  let troubleshooting = false;
  readFileSync(path.join(PROJECT_ROOT, page), "utf8").split("\n").forEach((text, i) => {
    if (text.includes("<!-- troubleshooting:start -->")) troubleshooting = true;
    if (text.includes("<!-- troubleshooting:end -->")) troubleshooting = false;
    const fence = text.match(/^(```|~~~)(\w*)/);
    if (fence) {
      block = block === undefined ? fence[0] : undefined;
      return;
    }
    if (block === undefined) return;
    const command = text.startsWith("$ ") ? text.slice(2) : block === "```bash" && text.trim() ? text.replace(/\s+# .*$/, "") : undefined;
    if (command !== undefined) commands.push({ page, line: i + 1, command, output: [], troubleshooting, captured: block.startsWith("~") });
    else commands.at(-1)?.output.push(text);
  });
  return commands;
}

/**
 * A signing key in `dir`/keys (made at the first call), trusted for `registry` in
 * `dir`/keys/trust.json, as make keygen leaves them.
 */
export async function trustedKey(dir: string, registry: string): Promise<{ key: string; trust: string; kid: string }> {
  const key = path.join(dir, "keys", "publisher.key.pem");
  const trust = path.join(dir, "keys", "trust.json");
  if (!existsSync(key)) await generateKeyFiles(key, "ES256");
  await trustKeys(trust, path.join(dir, "keys", "publisher.jwks.json"), { registry });
  return { key, trust, kid: (await readSigningKey(key)).kid };
}
