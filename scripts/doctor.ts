// make doctor: is this machine ready for Phase 3? One line per requirement, ✓ or ✗ with the fix.
// Exits 0 when everything required is there, 2 otherwise; optional tools never fail it.
import { execFile } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { findOnPath } from "../lib/executables.ts";
import { ORAS_INSTALL_HINT } from "../lib/oras.ts";
import { runStep } from "../lib/step.ts";
import { env } from "../lib/env.ts";
import { say } from "../lib/output.ts";
import { findRegistryBinary, registryAnswers } from "../lib/registry-server.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const DENO = `${ROOT}node_modules/.bin/deno`;
const MIN_DENO_MAJOR = 2;

interface Check {
  ok: boolean;
  /** Optional tools are reported, but never make the doctor fail. */
  optional?: boolean;
  text: string;
  fix?: string;
}

/** The first line a `--version` prints, without build details, or undefined when the program is missing or fails. */
async function versionOf(program: string, args = ["--version"]): Promise<string | undefined> {
  // Run directly, not through a shell: the doctor must work where little is installed.
  const result = await promisify(execFile)(program, args).catch(() => undefined);
  return result?.stdout.trim().split("\n")[0].replace(/\s*\(.*\)$/, "");
}

const major = (version: string | undefined) => Number(version?.match(/(\d+)\./)?.[1] ?? 0);

async function checkNode(minimum: number): Promise<Check> {
  const version = await versionOf("node");
  return major(version) >= minimum
    ? { ok: true, text: `Node ${version} (${minimum} or later needed)` }
    : {
      ok: false,
      text: version ? `Node ${version} is too old (${minimum} or later needed)` : "Node is not on PATH",
      fix: `install Node ${minimum} or later (https://nodejs.org, or your package manager)`,
    };
}

async function checkDeno(): Promise<Check> {
  const version = existsSync(DENO) ? await versionOf(DENO) : undefined;
  return major(version) >= MIN_DENO_MAJOR
    ? { ok: true, text: `${version} (node_modules/.bin/deno)` }
    : {
      ok: false,
      text: version ? `${version} is too old (${MIN_DENO_MAJOR} or later needed)` : "Deno is not installed in node_modules/.bin",
      fix: "npm ci (the deno npm package brings it), or make setup",
    };
}

function checkDependencies(pkg: { dependencies?: object; devDependencies?: object }): Check {
  const names = [...Object.keys(pkg.dependencies ?? {}), ...Object.keys(pkg.devDependencies ?? {})];
  const missing = names.filter((name) => !existsSync(`${ROOT}node_modules/${name}/package.json`));
  return missing.length === 0
    ? { ok: true, text: `npm dependencies: all ${names.length} installed` }
    : { ok: false, text: `npm dependencies missing: ${missing.join(", ")}`, fix: "npm ci, or make setup" };
}

async function checkRegistry(registry: string): Promise<Check> {
  if (await registryAnswers(registry, 2000)) return { ok: true, text: `a registry answers at http://${registry}/v2/` };
  return {
    ok: false,
    text: `no registry answers at http://${registry}/v2/`,
    fix: findRegistryBinary()
      ? "make registry (or point REGISTRY at a running one, e.g. REGISTRY=localhost:5000)"
      : "sudo apt-get install docker-registry, then make registry (or point REGISTRY at a running one)",
  };
}

async function checkOciClient(wanted: string): Promise<Check> {
  const oras = findOnPath("oras");
  if (oras && wanted !== "builtin") {
    return { ok: true, text: `${await versionOf(oras, ["version"]) ?? "oras"} (${oras}) runs the commands` };
  }
  if (wanted === "oras") return { ok: false, text: "ORAS_BACKEND=oras, but the oras CLI is not on PATH", fix: ORAS_INSTALL_HINT };
  return {
    ok: true,
    text: `the built-in OCI client runs the oras commands (${oras ? "ORAS_BACKEND=builtin" : "oras is not on PATH"})`,
  };
}

async function checkOptional(program: string, use: string): Promise<Check> {
  const version = await versionOf(program);
  return version
    ? { ok: true, optional: true, text: `${version.startsWith(program) ? "" : `${program} `}${version} (optional: ${use})` }
    : { ok: false, optional: true, text: `${program} is not on PATH (optional: ${use})`, fix: `sudo apt-get install ${program}` };
}

function checkRegistryBinary(): Check {
  const binary = findRegistryBinary();
  return binary
    ? { ok: true, optional: true, text: `${binary} (optional: what make registry starts)` }
    : {
      ok: false,
      optional: true,
      text: "no docker-registry binary (optional: what make registry starts)",
      fix: "sudo apt-get install docker-registry, or run a Docker engine",
    };
}

await runStep({
  name: "doctor",
  section: "Doctor: is this machine ready for Phase 3?",
  runs: "oras version, and a look at everything else Phase 3 needs",
  options: ["registry"],
  example: "make doctor REGISTRY=localhost:5001",
}, async ({ options }) => {
  const pkg = JSON.parse(readFileSync(`${ROOT}package.json`, "utf8"));
  const checks = await Promise.all([
    checkNode(Number(pkg.engines.node.match(/\d+/)[0])),
    checkDeno(),
    checkDependencies(pkg),
    checkRegistry(options.registry),
    checkOciClient(env.orasBackend),
    checkOptional("skopeo", "checks what was pushed with an independent client"),
    checkOptional("jq", "the spec's jq commands"),
    checkRegistryBinary(),
  ]);
  for (const check of checks) {
    (check.ok ? say.ok : say.fail)(check.text);
    if (!check.ok && check.fix) say.note(`  fix: ${check.fix.replaceAll("\n", "\n       ")}`);
  }
  const failed = checks.filter((check) => !check.ok && !check.optional).length;
  say.line();
  say.line(failed === 0 ? "Everything Phase 3 needs is here." : `${failed} required check${failed === 1 ? "" : "s"} failed; fix ${failed === 1 ? "it" : "them"} and run make doctor again.`);
  process.exitCode = failed === 0 ? 0 : 2;
});
