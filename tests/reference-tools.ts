/**
 * The reference tools `make go-tools` builds with Go into tmp/tools/bin: the real oras CLI, crane
 * (go-containerregistry's client) and referrers-registry (go-containerregistry's registry with the
 * OCI 1.1 referrers API, tests/tools/referrers-registry). Where one is missing (no Go), the tests
 * that need it are skipped, saying why and how to get it.
 */
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";
import { createInterface } from "node:readline";
import { PROJECT_ROOT, run, type Run } from "./helpers.ts";

export const TOOLS_BIN = path.join(PROJECT_ROOT, "tmp/tools/bin");
export const tool = (name: string) => path.join(TOOLS_BIN, name);

/** PATH with the real oras first: for the processes of a test that wants it, never for the suite. */
export const pathWithOras = () => `${TOOLS_BIN}${path.delimiter}${process.env.PATH}`;

/**
 * The options of a describe whose tests need `names`: skipped, with the reason and the command
 * that gets them, when one is missing (said on stderr too, which Deno shows before its tests).
 */
export function needsTools(...names: string[]): { skip?: string } {
  const missing = names.filter((name) => !existsSync(tool(name)));
  if (missing.length === 0) return {};
  const reason = `SKIPPED: ${missing.join(", ")} not built in tmp/tools/bin (no Go on PATH when make test ran); ` +
    "get them with `make go-tools` (Go 1.22 or later and the Go module proxy), then run the tests again";
  process.stderr.write(`${reason}\n`);
  return { skip: reason };
}

/** The real oras CLI, with its own Docker config dir; never throws for a non-zero exit. */
export const realOras = (args: string[], options: { cwd: string; dockerConfig: string; input?: string }): Promise<Run> =>
  run(tool("oras"), args, { cwd: options.cwd, input: options.input, env: { DOCKER_CONFIG: options.dockerConfig } });

/** crane, go-containerregistry's client: a second OCI client besides skopeo that shares no code with ours. */
export async function crane(args: string[]): Promise<string> {
  const result = await run(tool("crane"), args);
  if (result.code !== 0) throw new Error(`crane ${args.join(" ")} failed: ${result.stderr}`);
  return result.stdout;
}

export interface ReferrersRegistry {
  address: string;
  /** Every request it answered, in order, as "METHOD /path?query" (its log, less status and error words). */
  requests: string[];
  stop(): Promise<void>;
}

/**
 * go-containerregistry's registry with the referrers API, in memory, on a free loopback port;
 * `conformant: false` leaves out the two corrections to distribution-spec 1.1 (see its main.go).
 */
export async function startReferrersRegistry({ conformant = true } = {}): Promise<ReferrersRegistry> {
  const child = spawn(tool("referrers-registry"), ["-addr", "127.0.0.1:0", `-conformant=${conformant}`], { stdio: ["ignore", "pipe", "pipe"] });
  const requests: string[] = [];
  createInterface({ input: child.stderr }).on("line", (line) => requests.push(line.split(" ").slice(0, 2).join(" ")));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const address = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout }).once("line", (line) => resolve(line.replace("listening on ", "")));
    child.once("error", reject);
    child.once("exit", (code) => reject(new Error(`referrers-registry exited with ${code}: ${requests.join("\n")}`)));
  });
  return {
    address,
    requests,
    stop: () => {
      child.kill();
      return exited;
    },
  };
}
