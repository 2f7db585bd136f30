// The oras CLI's commands, done by the built-in OCI client: the same argv, the same output.
import { STATUS_CODES } from "node:http";
import { CliError, UsageError } from "../errors.ts";
import { OciError } from "../oci/errors.ts";
import { type Command, helpText, type OrasIO, type OrasResult, REGISTRY_PREFIX, runCommand } from "./command.ts";

/** A command, loaded when it runs: a step that pushes loads push alone, not the other ten. */
type Load = () => Promise<Command>;

const resolve: Load = async () => (await import("./resolve.ts")).resolve;
const copy: Load = async () => (await import("./copy.ts")).copy;
const repoLs: Load = async () => (await import("./repo.ts")).repoLs;
const repoTags: Load = async () => (await import("./repo.ts")).repoTags;
const manifestFetch: Load = async () => (await import("./manifest.ts")).manifestFetch;

/** Commands by name, with oras's aliases; a group (repo, manifest) maps its subcommands. */
export const COMMANDS: Record<string, Load | Record<string, Load>> = {
  push: async () => (await import("./push.ts")).push,
  pull: async () => (await import("./pull.ts")).pull,
  attach: async () => (await import("./attach.ts")).attach,
  discover: async () => (await import("./discover.ts")).discover,
  resolve,
  digest: resolve,
  cp: copy,
  copy,
  tag: async () => (await import("./tag.ts")).tag,
  login: async () => (await import("./login.ts")).loginCommand,
  logout: async () => (await import("./login.ts")).logoutCommand,
  repo: { ls: repoLs, list: repoLs, tags: repoTags, "show-tags": repoTags },
  manifest: { fetch: manifestFetch, get: manifestFetch, show: manifestFetch },
};

const isCommand = (entry: Load | Record<string, Load>): entry is Load => typeof entry === "function";

const OVERVIEW = [
  ["push", "Push files to a registry"],
  ["pull", "Pull files from a registry"],
  ["attach", "Attach files to an existing artifact"],
  ["discover", "[Preview] Discover referrers of a manifest in a registry"],
  ["resolve", "[Preview] Resolves digest of the target artifact"],
  ["cp", "Copy artifacts from one target to another"],
  ["tag", "Tag a manifest in a registry"],
  ["repo ls", "List the repositories under the registry"],
  ["repo tags", "Show tags of the target repository"],
  ["manifest fetch", "Fetch manifest of the target artifact"],
  ["login", "Log in to a remote registry"],
  ["logout", "Log out from a remote registry"],
];

const USAGE = [
  "The oras commands of this project's built-in OCI client: the argv of oras 1.3, its output,",
  "and byte-identical manifests, for machines without the oras CLI.",
  "",
  "Usage:",
  "  oras [command]",
  "",
  "Available Commands:",
  ...OVERVIEW.map(([name, what]) => `  ${name.padEnd(16)}${what}`),
  "",
  "Example - Push a file, then list the tags it is under:",
  "  oras push --artifact-type application/vnd.example+type localhost:5000/hello:v1 hi.txt",
  "  oras repo tags localhost:5000/hello",
  "",
  'Use "oras [command] --help" for more information about a command.',
  "Run it as one of (docs/oras.md):",
  "  make oras ARGS='repo ls localhost:5000'",
  "  npx oras-lite repo ls localhost:5000",
  "  node_modules/.bin/deno run -A scripts/oras.ts repo ls localhost:5000",
  "  node --import tsx scripts/oras.ts repo ls localhost:5000",
  "",
].join("\n");

export async function runOras(argv: string[], io: OrasIO): Promise<OrasResult> {
  const [name, ...rest] = argv;
  if (name === undefined || name === "help" && rest.length === 0 || name === "--help" || name === "-h") {
    io.out(USAGE);
    return {};
  }
  if (name === "help") return await runOras([...rest, "--help"], io);
  const entry = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (!entry) throw new UsageError(`unknown command ${JSON.stringify(name)} for "oras"`, "Run 'oras --help' for usage.");
  if (isCommand(entry)) return await runCommand(await entry(), rest, io);
  const [subname, ...args] = rest;
  const subcommand = Object.hasOwn(entry, subname ?? "") ? entry[subname] : undefined;
  if (subcommand) return await runCommand(await subcommand(), args, io);
  // As cobra does for a group, anything else shows the group's help.
  const loads = Object.values(entry).filter((load, i, all) => all.indexOf(load) === i);
  io.out((await Promise.all(loads.map((load) => load()))).map(helpText).join("\n"));
  return {};
}

/** A JSON value as Go's %v prints what encoding/json decoded it into (oras-go's error detail). */
function goValue(value: unknown): string {
  if (value === null) return "<nil>";
  if (Array.isArray(value)) return `[${value.map(goValue).join(" ")}]`;
  if (typeof value === "object") return `map[${Object.keys(value).sort().map((key) => `${key}:${goValue((value as Record<string, unknown>)[key])}`).join(" ")}]`;
  return String(value);
}

/**
 * A registry's refusal in oras-go's words: the errors its answer listed (`name unknown: repository
 * name not known to registry: map[name:agents/ghost]`), else the request and its status. A
 * manifest or blob that is not there is `<reference>: not found`, as the message says already.
 */
function refusal({ details }: OciError): string | undefined {
  const { request, status, errors } = details;
  if (!request || status === undefined || (status === 404 && /^\w+ \S+\/v2\/.+\/(manifests|blobs)\//.test(request))) return undefined;
  if (!errors) {
    const [method, url] = request.split(" ");
    return `${REGISTRY_PREFIX} ${method} ${JSON.stringify(url)}: response status code ${status}: ${STATUS_CODES[status] ?? ""}`;
  }
  const words = errors.map(({ code, message, detail }) =>
    [code.toLowerCase().replaceAll("_", " "), ...(message ? [message] : []), ...(message && detail !== undefined ? [goValue(detail)] : [])].join(": ")
  );
  return `${REGISTRY_PREFIX} ${words.join("; ")}`;
}

/**
 * A failure as oras prints it on stderr: `Error: …`, or `Error response from registry: …` for
 * the registry's own refusals, then what to do about it, when known.
 */
export function errorText(error: unknown): string {
  if (!(error instanceof OciError || error instanceof CliError)) return `Error: ${(error as Error)?.stack ?? error}\n`;
  const registrySaid = error instanceof OciError ? refusal(error) : undefined;
  if (registrySaid) return `${registrySaid}\n`;
  const message = error.message.startsWith(REGISTRY_PREFIX) ? error.message : `Error: ${error.message}`;
  const hint = error instanceof CliError ? error.hint : undefined;
  return `${message}\n${hint ? `${hint}\n` : ""}`;
}
