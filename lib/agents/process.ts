// An agent as a process: the Deno permissions it runs with, starting it in a session of its own,
// telling whether it still runs (and is the one we started), stopping it, and asking it for its card.
import { execFileSync, spawn } from "node:child_process";
import { closeSync, openSync } from "node:fs";
import net from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { canonicalJson } from "../compare.ts";
import { isObject } from "../oci/json.ts";
import { RUNS_TESTS } from "./package.ts";

/** Where an agent may reach and what it may read and run: Deno flags, and the same in words. */
export function permissions(p: { port: number; dir: string; needs: string[]; workspace: string; deno: string }): { flags: string[]; may: string } {
  const runsTests = p.needs.includes(RUNS_TESTS);
  return {
    flags: [
      `--allow-net=127.0.0.1:${p.port}`,
      `--allow-read=${[p.dir, ...(runsTests ? [p.workspace] : [])].join(",")}`,
      ...(runsTests ? [`--allow-run=${p.deno}`] : []),
    ],
    may: `listen on 127.0.0.1:${p.port}; read its package${runsTests ? "; read the workspace; run deno test" : ""}`,
  };
}

/**
 * Starts `deno run` of an unpacked package in a session of its own (it outlives `make run`), its
 * output appended to `log`, with nothing of our environment: it may not read it anyway.
 */
export function launch(deno: string, args: string[], cwd: string, log: string): { argv: string[]; pid: number; exited: Promise<number | null> } {
  const argv = ["run", "--no-prompt", "--no-config", "--no-lock", "--no-remote", "--no-npm", ...args];
  const fd = openSync(log, "a");
  const child = spawn(deno, argv, {
    cwd,
    detached: true,
    env: { NO_COLOR: "1" },
    stdio: ["ignore", fd, fd],
  });
  closeSync(fd);
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  child.unref();
  return { argv, pid: child.pid!, exited };
}

/** The command line of the process `pid`, undefined when none runs (a zombie has finished too). */
export function commandLine(pid: number): string | undefined {
  try {
    const [state, ...args] = execFileSync("ps", ["-ww", "-o", "stat=,args=", "-p", String(pid)], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim().split(/\s+/);
    return state.startsWith("Z") ? undefined : args.join(" ");
  } catch {
    return undefined;
  }
}

/** How long an agent has to exit on SIGTERM before SIGKILL. */
const GRACE_MS = 5000;

/**
 * Stops an agent's whole process group (the test agent's tests with it): SIGTERM, then SIGKILL
 * after GRACE_MS; then waits until nothing listens on its `port`. A process whose main thread has
 * exited shows as a zombie while its other threads still close its sockets.
 */
export async function terminate(pid: number, port?: number): Promise<void> {
  const signal = (name: NodeJS.Signals) => {
    try {
      process.kill(-pid, name);
    } catch {
      // gone already
    }
  };
  signal("SIGTERM");
  const deadline = Date.now() + GRACE_MS;
  for (; commandLine(pid) !== undefined; await sleep(20)) {
    if (Date.now() > deadline) signal("SIGKILL");
  }
  while (port !== undefined && await portTaken(port) && Date.now() < deadline + GRACE_MS) await sleep(10);
}

/** The bytes served at `base`/.well-known/agent-card.json, or undefined when nothing answers with 200 in time. */
export async function liveCard(base: string, timeoutMs = 1000): Promise<Uint8Array | undefined> {
  try {
    const response = await fetch(new URL("/.well-known/agent-card.json", base), { signal: AbortSignal.timeout(timeoutMs) });
    const bytes = new Uint8Array(await response.arrayBuffer());
    return response.ok ? bytes : undefined;
  } catch {
    return undefined;
  }
}

/** Whether something listens on 127.0.0.1:`port` (or on every address, which includes it). */
export function portTaken(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = net.createServer();
    probe.once("error", () => resolve(true));
    probe.listen(port, "127.0.0.1", () => probe.close(() => resolve(false)));
  });
}

export const sameBytes = (a: Uint8Array | undefined, b: Uint8Array) => a !== undefined && a.byteLength === b.byteLength && a.every((byte, i) => byte === b[i]);

/** A card's content without its signatures, as canonical JSON; undefined when it is no JSON object. */
function unsignedContent(card: Uint8Array): string | undefined {
  try {
    const parsed = JSON.parse(new TextDecoder().decode(card));
    if (!isObject(parsed)) return undefined;
    const { signatures: _signatures, ...content } = parsed;
    return canonicalJson(content);
  } catch {
    return undefined;
  }
}

/**
 * Whether two cards say the same, their signatures aside: a package's card is the published card
 * with its publisher's signature added, and an agent serving either is no drift.
 */
export function sameCard(a: Uint8Array | undefined, b: Uint8Array): boolean {
  if (a === undefined || sameBytes(a, b)) return a !== undefined;
  const content = unsignedContent(a);
  return content !== undefined && content === unsignedContent(b);
}

/**
 * Waits until `base` serves exactly `card` (healthy), the process exits, or `timeoutMs` passes;
 * says which, with the exit code.
 */
export async function waitHealthy(base: string, card: Uint8Array, exited: Promise<number | null>, timeoutMs: number): Promise<{ healthy: true } | { healthy: false; why: string }> {
  let exit: { code: number | null } | undefined;
  exited.then((code) => (exit = { code }));
  for (const deadline = Date.now() + timeoutMs; Date.now() < deadline; await sleep(10)) {
    if (exit) return { healthy: false, why: `it exited with code ${exit.code}` };
    if (sameBytes(await liveCard(base, 500), card)) return { healthy: true };
  }
  return { healthy: false, why: `its card URL did not serve its card within ${timeoutMs / 1000} s` };
}
