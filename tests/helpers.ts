import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

export const PROJECT_ROOT = fileURLToPath(new URL("..", import.meta.url));

/** Scripts run under the runtime that runs the tests, so `make test` covers Node and Deno. */
export const RUNTIME: "node" | "deno" = "Deno" in globalThis ? "deno" : "node";

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command to completion, collecting its output; never throws for a non-zero exit. */
export function run(command: string, args: string[], options: { env?: Record<string, string>; cwd?: string } = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: options.cwd ?? PROJECT_ROOT,
      env: { ...process.env, NO_COLOR: "1", ...options.env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk) => (stdout += chunk));
    child.stderr.on("data", (chunk) => (stderr += chunk));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

/** `scripts/<name>.ts` as a user runs it: a separate process, options as flags and env. */
export function runScript(name: string, args: string[] = [], env: Record<string, string> = {}, cwd?: string): Promise<Run> {
  const script = `${PROJECT_ROOT}scripts/${name}.ts`;
  return RUNTIME === "deno"
    ? run(`${PROJECT_ROOT}node_modules/.bin/deno`, ["run", "-A", "--quiet", script, ...args], { env, cwd })
    // tsx by its resolved URL: `--import tsx` would look for it below cwd.
    : run(process.execPath, ["--import", import.meta.resolve("tsx"), script, ...args], { env, cwd });
}

/** skopeo, the independent OCI client that checks what our scripts wrote. */
export async function skopeo(args: string[]): Promise<string> {
  const result = await run("skopeo", args);
  if (result.code !== 0) throw new Error(`skopeo ${args.join(" ")} failed: ${result.stderr}`);
  return result.stdout;
}
