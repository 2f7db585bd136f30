/**
 * The `$ oras …` lines README.md and docs/ show, and a world to run them in as written: the
 * registries, CA files and Docker config their addresses and paths stand for, each started by
 * the test on loopback. scripts/oras.ts runs them in this process (runBuiltin), the real oras
 * as a process (reference-tools.ts); tests/integration/oras-cli.test.ts and oras-real.test.ts use both.
 */
import { copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { Clients } from "../lib/oci/client.ts";
import { errorText, runOras } from "../lib/oras/main.ts";
import { splitWords } from "../lib/oras/words.ts";
import { freePort, type RegistryProcess, startTestRegistry } from "../lib/registry-server.ts";
import { type FaultProxy, PROJECT_ROOT, type Run, startFaultProxy } from "./helpers.ts";
import { createPki, type SecureRegistry, startBasicAuthRegistry } from "./servers.ts";

export interface ShownCommand {
  page: string;
  line: number;
  text: string;
  /** The directory of a `(cd DIR && oras …)` line. */
  dir?: string;
  args: string;
  /** Between `<!-- troubleshooting:start -->` and `:end -->`: shows a failure on purpose. */
  troubleshooting: boolean;
}

/** README.md first (its walkthrough puts the cards in the registry), then every docs/*.md in name order. */
export const PAGES = ["README.md", ...readdirSync(path.join(PROJECT_ROOT, "docs")).filter((name) => name.endsWith(".md")).sort().map((name) => `docs/${name}`)];

/** Every `$ oras …` and `$ (cd DIR && oras …)` line in a page's code blocks (``` and ~~~), in order. */
export function shownCommands(page: string): ShownCommand[] {
  const commands: ShownCommand[] = [];
  let fence: string | undefined;
  let troubleshooting = false;
  readFileSync(path.join(PROJECT_ROOT, page), "utf8").split("\n").forEach((text, i) => {
    if (text.includes("<!-- troubleshooting:start -->")) troubleshooting = true;
    if (text.includes("<!-- troubleshooting:end -->")) troubleshooting = false;
    const opening = text.match(/^(```|~~~)/)?.[1];
    if (opening) fence = fence === undefined ? opening : fence === opening ? undefined : fence;
    const match = fence !== undefined && (text.match(/^\$ \(cd (\S+) && oras (.+)\)$/) ?? text.match(/^\$ ()oras (.+)$/));
    if (match) commands.push({ page, line: i + 1, text, dir: match[1] || undefined, args: match[2], troubleshooting });
  });
  return commands;
}

/** The command's name: `push`, or two words for `repo ls`, `manifest fetch` … */
export const commandName = (args: string) => splitWords(args).slice(0, /^(repo|manifest) /.test(args) ? 2 : 1).join(" ");

/** The password of `alice` on the TLS registry, which the pages' `oras login --password-stdin` reads. */
export const PASSWORD = "s3cret-Pa55-docs";

/** One oras command as scripts/oras.ts runs it, in this process: exit 1 with oras's error text on stderr on failure. */
export async function runBuiltin(args: string[], options: { cwd: string; input?: string }): Promise<Run> {
  let stdout = "";
  let stderr = "";
  try {
    await runOras(args, {
      cwd: options.cwd,
      out: (text) => (stdout += text),
      err: (text) => (stderr += text),
      stdin: options.input === undefined ? undefined : () => Promise.resolve(options.input!),
      clients: new Clients(10_000),
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    return { code: 1, stdout, stderr: stderr + errorText(error) };
  }
}

export interface DocsWorld {
  work: string;
  /** The Docker config dir that `oras login` writes and later commands read. */
  dockerConfig: string;
  /** What each address and file the pages name stands for here, for `page`. */
  substitutions(page: string): [shown: string, here: string][];
  stop(): Promise<void>;
}

/**
 * The pages' registries: Distribution over plain HTTP (localhost:5000; localhost:5001 of
 * docs/discovery.md; 127.0.0.1:46699), Distribution over TLS with htpasswd (127.0.0.1:39485, its
 * CA tmp/registry-ca.pem; tmp/target-ca.pem a CA that did not sign it), a proxy refusing the
 * catalog (127.0.0.1:32905), and nothing at all (localhost:5001 of docs/troubleshooting.md).
 */
export async function startDocsWorld(): Promise<DocsWorld> {
  const work = mkdtempSync(path.join(os.tmpdir(), "pallet-docs-"));
  cpSync(path.join(PROJECT_ROOT, "fixtures"), path.join(work, "fixtures"), { recursive: true });
  const dockerConfig = path.join(work, "docker");
  mkdirSync(dockerConfig);
  const otherCa = path.join(work, "other-ca");
  mkdirSync(otherCa);
  let registry: RegistryProcess | undefined;
  let secure: SecureRegistry | undefined;
  let noCatalog: FaultProxy | undefined;
  const stop = async () => {
    await Promise.all([registry?.stop(), secure?.stop(), noCatalog?.stop()]);
    rmSync(work, { recursive: true, force: true });
  };
  try {
    [registry, secure] = await Promise.all([startTestRegistry(), startBasicAuthRegistry({ alice: PASSWORD })]);
    noCatalog = await startFaultProxy(registry.address);
    noCatalog.fail("GET", /^\/v2\/_catalog/, 404);
    const targetCa = (await createPki(otherCa)).caFile;
    const nothing = `localhost:${await freePort()}`;
    const local = registry.address.replace("127.0.0.1", "localhost");
    const [plain, tls, proxy] = [registry.address, secure.address, noCatalog.address];
    return {
      work,
      dockerConfig,
      substitutions: (page) => [
        ["localhost:5000", local],
        ["localhost:5001", page === "docs/troubleshooting.md" ? nothing : local],
        ["127.0.0.1:46699", plain],
        ["127.0.0.1:39485", tls],
        ["127.0.0.1:32905", proxy],
        ["tmp/registry-ca.pem", secure!.caFile],
        ["tmp/target-ca.pem", targetCa],
      ],
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** A shown command's argv in `world`, its working directory, and what it reads on stdin. */
export function prepare(command: ShownCommand, world: DocsWorld): { args: string[]; cwd: string; input?: string } {
  const args = splitWords(command.args).map((arg) =>
    world.substitutions(command.page).reduce((text, [shown, here]) => text.replaceAll(shown, here), arg)
  );
  const cwd = path.join(world.work, command.dir ?? ".");
  mkdirSync(cwd, { recursive: true });
  // Files a capture directory of a page held (/tmp/capture/…, tmp/packages/…) are stood in for:
  // a card by a fixture card, an agent's module (docs/phase5.md) by an empty one.
  for (const file of args.filter((arg) => /^\w[\w.-]*\.(json|js)(:|$)/.test(arg)).map((arg) => arg.split(":")[0])) {
    if (existsSync(path.join(cwd, file))) continue;
    if (file.endsWith(".js")) writeFileSync(path.join(cwd, file), "export {};\n");
    else copyFileSync(path.join(PROJECT_ROOT, "fixtures/agent_cards/plan_agent_card.json"), path.join(cwd, file));
  }
  return { args, cwd, input: args.includes("--password-stdin") ? PASSWORD : undefined };
}
