// The test agent (run_tests): runs the node:test suites below project_path and reports what
// passed and what failed. They run under Deno, which runs TypeScript as it is, with read access to
// that project and nothing else (no network, no writes, no environment): code handed to an agent
// is as untrusted as the agent itself is to us. Other frameworks would run outside any such
// sandbox, so they are refused.
import path from "node:path";
import { Refused, serveAgent, type Skill } from "./serve.ts";
import { tapResults } from "./tap.ts";

interface TestInput {
  project_path: string;
  framework?: string;
  filter?: string;
  timeout_seconds?: number;
}

/** Deno's own API: Node's child_process, under Deno, reads the environment (NODE_V8_COVERAGE), which this agent may not. */
declare const Deno: {
  Command: new (command: string, options: { args: string[]; clearEnv: boolean; env: Record<string, string>; signal: AbortSignal }) => {
    output(): Promise<{ code: number; signal: string | null; stdout: Uint8Array; stderr: Uint8Array }>;
  };
};

const runTests: Skill = async (input, { workspace, deno }) => {
  const { project_path, framework = "node-test", filter, timeout_seconds = 300 } = input as unknown as TestInput;
  if (framework !== "node-test") throw new Refused(`this agent runs node-test suites only, under Deno's sandbox; ${framework} would run unsandboxed`);
  if (!workspace || !deno) throw new Error("this agent was started without --workspace and --deno, so it cannot run tests");
  const project = path.resolve(workspace, project_path);
  if (project !== workspace && !project.startsWith(workspace + path.sep)) throw new Refused(`project_path ${project_path} is outside the workspace ${workspace}`);
  const started = performance.now();
  const args = ["test", "--no-prompt", "--no-config", "--reporter=tap", `--allow-read=${project}`, ...(filter ? ["--filter", filter] : []), project];
  // An environment of its own: this agent may not read its own (it has no --allow-env).
  const ran = await new Deno.Command(deno, { args, clearEnv: true, env: { NO_COLOR: "1" }, signal: AbortSignal.timeout(timeout_seconds * 1000) }).output();
  if (ran.signal) throw new Error(`the tests did not finish within ${timeout_seconds} s`);
  const [tap, errors] = [ran.stdout, ran.stderr].map((bytes) => new TextDecoder().decode(bytes));
  const results = tapResults(tap);
  if (ran.code !== 0 && results.failed === 0) throw new Error(`deno test exited ${ran.code}: ${errors.trim().split("\n").slice(-3).join(" ")}`);
  return { ...results, duration_ms: Math.round(performance.now() - started) };
};

serveAgent("run_tests", runTests);
