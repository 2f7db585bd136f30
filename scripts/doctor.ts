// make doctor: is this machine ready for Phase 3? One line per requirement, ✓ or ✗ with the fix.
// Exits 0 when everything required is there, 2 otherwise; optional tools never fail it.
import { execFile } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import tls from "node:tls";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { findOnPath } from "../lib/executables.ts";
import { portTakenHint, startRegistryHint } from "../lib/step/advice.ts";
import { ORAS_INSTALL_HINT } from "../lib/step/oras.ts";
import { hintFor, isMain, main, type StepContext, type Step } from "../lib/step/run.ts";
import { env } from "../lib/env.ts";
import { findRegistryBinary } from "../lib/registry-server.ts";
import { parseChallenge } from "../lib/oci/auth.ts";
import { dockerCredential } from "../lib/oci/credentials.ts";
import { isOciError, OciError } from "../lib/oci/errors.ts";
import type { Registry } from "../lib/oci/registry.ts";
import type { HttpResponse } from "../lib/oci/transport.ts";

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

/** The certificate a TLS server shows, read without judging it: its subject, issuer and end of validity. */
function peerCertificate(registry: string): Promise<tls.PeerCertificate | undefined> {
  const url = new URL(`https://${registry}`);
  return new Promise((resolve) => {
    const socket = tls.connect({ host: url.hostname.replace(/^\[|\]$/g, ""), port: Number(url.port || 443), rejectUnauthorized: false }, () => {
      resolve(socket.getPeerCertificate());
      socket.destroy();
    });
    socket.setTimeout(2000, () => socket.destroy());
    socket.once("error", () => resolve(undefined));
    socket.once("close", () => resolve(undefined));
  });
}

const commonName = (name: tls.Certificate | undefined) => name?.CN ?? Object.values(name ?? {}).join(", ");

/** What GET /v2/ says about the registry: who answers, and how it wants to be logged in to. */
function describeAnswer(response: HttpResponse): { registry: boolean; wants?: string } {
  const header = response.headers.get("www-authenticate");
  const apiVersion = response.headers.get("docker-distribution-api-version");
  if (response.status === 200) return { registry: apiVersion !== null || response.headers.get("content-type")?.includes("json") === true };
  if (response.status !== 401 || !header) return { registry: false };
  const { scheme, params } = parseChallenge(header);
  return {
    registry: true,
    wants: scheme === "bearer" ? `a token from ${params.realm ?? "its token service"}` : `${scheme === "basic" ? "Basic" : scheme} credentials${params.realm ? ` (realm "${params.realm}")` : ""}`,
  };
}

/**
 * The largest catalog page the registry serves: pages of 1,000 when it takes them, else the
 * largest `n` it accepts, found by halving (Distribution refuses an n above catalog.maxentries).
 */
async function catalogPageLimit(registry: Registry): Promise<number> {
  const accepts = async (n: number) => {
    const response = await registry.request(`/v2/_catalog?n=${n}`, { scope: "registry:catalog:*", accept: [400] });
    await response.body?.cancel();
    return response.status !== 400;
  };
  if (await accepts(1000)) return 1000;
  let [low, high] = [0, 1000];
  while (high - low > 1) {
    const middle = Math.floor((low + high) / 2);
    if (await accepts(middle)) low = middle;
    else high = middle;
  }
  return low;
}

/**
 * What really answers at REGISTRY, and what a user needs to reach it: a registry (wanting
 * credentials or not), over which TLS and whose CA; the credentials found and whether they are
 * accepted; whether the catalog is offered, and its page limit. Or what answers instead: nothing,
 * something silent, something that is not a registry, TLS spoken the other way.
 */
async function checkRegistry({ options, client: registry, clients }: StepContext): Promise<Check[]> {
  const host = options.registry;
  const url = `${registry.baseUrl}/v2/`;
  const failed = async (error: unknown, text: string): Promise<Check[]> => {
    if (!(error instanceof OciError)) throw error;
    return [{ ok: false, text, fix: await hintFor(error, options, clients) }];
  };
  let answer;
  try {
    const response = await registry.transport.fetch(url);
    await response.body?.cancel();
    answer = describeAnswer(response);
    if (!answer.registry) {
      const type = response.headers.get("content-type")?.split(";")[0];
      return [{
        ok: false,
        text: `${url} answers HTTP ${response.status}${type ? ` ${type}` : ""}, but not as an OCI registry does`,
        fix: portTakenHint(options),
      }];
    }
  } catch (error) {
    if (isOciError(error, "unreachable")) {
      return [{
        ok: false,
        text: `no registry answers at ${url}`,
        fix: `${findRegistryBinary() ? "" : "sudo apt-get install docker-registry, then: "}${startRegistryHint(options)}`,
      }];
    }
    if (isOciError(error, "timeout")) return await failed(error, `something at ${host} accepts connections but is silent: ${error.message}`);
    return await failed(error, `TLS: ${(error as Error).message}`);
  }
  const checks: Check[] = [{ ok: true, text: `a registry answers at ${url}${answer.wants ? ` and wants ${answer.wants}` : ""}` }];
  if (url.startsWith("https:")) {
    const certificate = await peerCertificate(host);
    checks.push({
      ok: true,
      text: `TLS: the certificate of ${host} (${commonName(certificate?.subject)}, valid until ${certificate?.valid_to}) is issued by ` +
        `${commonName(certificate?.issuer)}, trusted through ${registry.transport.trust}`,
    });
  } else {
    checks.push({ ok: true, optional: true, text: `plain HTTP, no TLS (fine on this machine; another machine's registry is reached over HTTPS)` });
  }
  try {
    const credential = options.remote.credential ?? await dockerCredential(host);
    if (credential) {
      await registry.ping();
      checks.push({ ok: true, text: `credentials for ${host} from ${credential.source}${credential.username ? ` (user ${credential.username})` : ""}, accepted` });
    } else if (answer.wants) {
      const missing = new OciError("unauthorized", "", { reason: "no-credentials", subject: host });
      checks.push({ ok: false, text: `no credentials for ${host} (REGISTRY_USERNAME/REGISTRY_PASSWORD, or the Docker config)`, fix: await hintFor(missing, options, clients) });
      return checks;
    } else {
      checks.push({ ok: true, text: `no credentials for ${host}, and it needs none` });
    }
  } catch (error) {
    return [...checks, ...await failed(error, (error as Error).message)];
  }
  try {
    const limit = await catalogPageLimit(registry);
    checks.push({ ok: true, text: `the catalog is offered, in pages of up to ${limit.toLocaleString("en-US")} repositories` });
  } catch (error) {
    // Many public registries refuse the catalog while everything else works.
    if (!(isOciError(error, "unauthorized") || isOciError(error, "denied") || isOciError(error, "not-found"))) throw error;
    checks.push({ ok: false, optional: true, text: `the catalog is not offered: ${error.message}`, fix: "make list lists the agents named by AGENTS instead" });
  }
  return checks;
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

export const step: Step = {
  name: "doctor",
  section: "Doctor: is this machine ready for Phase 3?",
  runs: "oras version, and a look at everything else Phase 3 needs",
  options: ["registry"],
  example: "make doctor REGISTRY=localhost:5001",
  async body(context) {
    const { out } = context;
    const pkg = JSON.parse(readFileSync(`${ROOT}package.json`, "utf8"));
    const checks = await Promise.all([
      checkNode(Number(pkg.engines.node.match(/\d+/)[0])),
      checkDeno(),
      checkDependencies(pkg),
      checkRegistry(context),
      checkOciClient(env.orasBackend),
      checkOptional("skopeo", "checks what was pushed with an independent client"),
      checkOptional("jq", "the spec's jq commands"),
      checkRegistryBinary(),
    ]);
    for (const check of checks.flat()) {
      (check.ok ? out.ok : out.fail)(check.text);
      if (!check.ok && check.fix) out.note(`  fix: ${check.fix.replaceAll("\n", "\n       ")}`);
    }
    const failed = checks.flat().filter((check) => !check.ok && !check.optional).length;
    out.line();
    out.line(failed === 0 ? "Everything Phase 3 needs is here." : `${failed} required check${failed === 1 ? "" : "s"} failed; fix ${failed === 1 ? "it" : "them"} and run make doctor again.`);
    if (context.options.json) out.json({ ready: failed === 0, checks: checks.flat() });
    return failed === 0 ? 0 : 2;
  },
};

if (isMain(import.meta)) await main(step);
