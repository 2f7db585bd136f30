// What a person can do about a failure, in this project's words: the one place that turns an
// OciError's kind and reason into advice. lib/oci says what went wrong; this says what to do.
// Every command suggested carries the settings the person gave that matter for it.
import { UntrustedPackage } from "../agents/trust.ts";
import { CliError } from "../errors.ts";
import { type ErrorKind, OciError, type Reason } from "../oci/errors.ts";
import type { CardTrust, Policy } from "../trust/signatures.ts";
import type { Location } from "../trust/store.ts";
import { isLoopbackHost } from "../oci/reference.ts";
import { DEFAULT_REGISTRY } from "./options.ts";
import { shellLine } from "./output.ts";

/** What the step knows besides the error: the registry it talked to and how, and what exists where something was missing. */
export interface AdviceContext {
  registry?: string;
  /** How REGISTRY was reached: its CA file, --insecure, plain HTTP. */
  remote?: { caFile?: string; insecure?: boolean; plainHttp?: boolean };
  /** For a missing artifact: the repository, and its tags (none: it does not exist). */
  missing?: { repository: string; tags: string[] };
}

type Context = AdviceContext & { registry: string };

/**
 * `make TARGET` as this person runs it: with REGISTRY (unless it is the default) and, unless
 * `tls` is false (make registry reads no TLS settings), how REGISTRY is reached; then `more`,
 * as written (`TAG=…` is for the person to fill in).
 */
function makeCommand(target: string, { registry = DEFAULT_REGISTRY, remote = {} }: AdviceContext, { tls = true } = {}, ...more: string[]): string {
  const settings = [
    ...(registry === DEFAULT_REGISTRY ? [] : [`REGISTRY=${registry}`]),
    ...(tls && remote.caFile !== undefined ? [`REGISTRY_CA_FILE=${remote.caFile}`] : []),
    ...(tls && remote.insecure ? ["REGISTRY_INSECURE=1"] : []),
    ...(tls && remote.plainHttp && !isLoopbackHost(registry) ? ["PLAIN_HTTP=1"] : []),
  ];
  return [shellLine(["make", ...target.split(" "), ...settings]), ...more].join(" ");
}

/** What to do where no registry answers: start one here, or, for another machine's, check it. */
export function startRegistryHint(context: AdviceContext): string {
  const registry = context.registry ?? DEFAULT_REGISTRY;
  return isLoopbackHost(registry)
    ? `Start one with \`${makeCommand("registry", context, { tls: false })}\`, or point REGISTRY at a running one.`
    : `Nothing answers at ${registry}: check that its registry runs and the address is right (\`${makeCommand("doctor", context)}\` says what answers).`;
}

/** What to do where something holds REGISTRY's port but does not answer like a registry. */
export function portTakenHint(context: AdviceContext): string {
  return `Stop what holds ${context.registry ?? DEFAULT_REGISTRY}, or use another address (\`make registry REGISTRY=localhost:5002\` starts one there).`;
}

/** Why a card verify passed shows "Verified no", and how its records come to count. */
export const unprovenRecordsHint = (context: AdviceContext, cards: number) =>
  `${cards === 1 ? "1 card has" : `${cards} cards have`} verification records that do not count: a record counts only when a key of the trust store signed it. ` +
  `Sign them with \`${makeCommand("verify", context, {}, "KEY=keys/publisher.key.pem")}\` (\`${makeCommand("keygen", context, { tls: false })}\` makes that key and trusts it; docs/trust.md#what-discovery-proves).`;

/** How to bring the discovery index up to date. */
export const rebuildIndexHint = (context: AdviceContext) =>
  `Rebuild it with \`${makeCommand("discover", context, {}, "REFRESH=1")}\`; until then \`${makeCommand("discover", context, {}, "CRAWL=1")}\` finds every card.`;

const HOSTILE = "The artifact is hostile or broken; nothing was written.";
const startOver = (context: Context) => `start over with \`${makeCommand("reset registry push", context)}\` (reset asks first).`;

const login = (context: Context) =>
  `${makeCommand("login", context, {}, "REGISTRY_USERNAME=<user>")} (the password is read from stdin or REGISTRY_PASSWORD)`;

type Advise = (error: OciError, context: Context) => string | undefined;

/** Advice by reason, where the reason decides it; typed, so a reason no code raises cannot be listed. */
const BY_REASON: Partial<Record<Reason, Advise>> = {
  "no-credentials": (_, context) => `Log in once: ${login(context)};\nor set REGISTRY_USERNAME and REGISTRY_PASSWORD for this run.`,
  "anonymous-refused": (_, context) => `Log in once: ${login(context)};\nor set REGISTRY_USERNAME and REGISTRY_PASSWORD for this run.`,
  "rejected-credentials": (_, context) => `Check the user name and password (or token), then log in again: ${login(context)}.`,
  "invalid-token": () =>
    "Run again: a new token is fetched each run. If it keeps failing, the token service and the registry disagree\n" +
    "(clocks, or the key the registry trusts): check them.",
  "token-service": (_, context) =>
    `The token service refused or failed: check the credentials (${login(context)}),\nand that the token service named in the error is up.`,
  "docker-config": () => "Fix that file (it must be JSON, as docker and oras write it) or point DOCKER_CONFIG at another directory.",
  "credential-helper": () => "Install the credential helper the Docker config names (docker-credential-<name> on PATH), or remove it from the config.",
  cleartext: () => "Credentials only go over TLS to another machine: drop --plain-http (PLAIN_HTTP) and reach the registry over HTTPS.",
  "cleartext-token-service": () =>
    "The registry sends clients to a token service over plain HTTP, where the password could be read on the way.\n" +
    "Ask the registry's operator for an https:// token realm.",

  "untrusted-certificate": () =>
    "Trust the CA that signed it: --ca-file ca.pem (env REGISTRY_CA_FILE=ca.pem). For a throwaway test registry only,\n" +
    "--insecure (REGISTRY_INSECURE=1) skips the check.",
  "https-server": () =>
    "Reach it over TLS: give its CA with --ca-file (REGISTRY_CA_FILE), which also turns TLS on for loopback\n" +
    "addresses, and drop --plain-http (PLAIN_HTTP) if set.",
  "plain-http-server": () => "It speaks plain HTTP: add --plain-http (PLAIN_HTTP=1) and drop --ca-file/--insecure (REGISTRY_CA_FILE, REGISTRY_INSECURE).",
  "name-mismatch": () => "Use the host name the certificate was issued for in REGISTRY, or have the certificate reissued for this name.",
  expired: () => "The registry's certificate must be renewed (or this machine's clock is wrong).",
  "ca-file": () => "Point --ca-file (REGISTRY_CA_FILE) at the PEM file of the CA that signed the registry's certificate.",

  stalled: (_, context) =>
    `It stopped sending in the middle of an answer: check it with \`${makeCommand("registry-status", context, { tls: false })}\` and its log, then run again;\n` +
    "over a slow link, allow more time with REGISTRY_TIMEOUT=seconds.",

  "unknown-host": (_, { registry }) =>
    `Check the host name in REGISTRY=${registry}: it is not in DNS or /etc/hosts (a registry on this machine is localhost:<port>).`,

  "no-delete": () =>
    "Nothing was removed: this registry keeps what it stores. Distribution deletes only with storage.delete.enabled: true\n" +
    "in its config (fixtures/registry/config.yml, the one make registry starts, has it); ask its operator.",
  "no-catalog": (_, context) => `Name the agent repositories instead: ${makeCommand("list", context, {}, "AGENTS=plan,build,test")} (list then asks for those directly).`,

  "path-traversal": () => `${HOSTILE} Do not pull it with --allow-path-traversal.`,
  "no-title": () => "Push files with `oras push REF FILE`, which names each layer after its file.",
  "digest-mismatch": (_, context) =>
    "The registry's storage is damaged or the artifact was tampered with; nothing was written.\n" +
    `A new push keeps the damaged blob the registry already holds: ${startOver(context)}`,
  truncated: (_, context) =>
    `The registry stopped while sending it, or its storage is damaged: check \`${makeCommand("registry-status", context, { tls: false })}\`;\n` +
    `if it runs and this happens again, ${startOver(context)}`,
  "pagination-loop": () => "The registry's list pages lead back to themselves: tell its operator. Steps that take AGENTS name\nthe agents' repositories directly, without the catalog.",
  "unexpected-media-type": () =>
    "Expected application/vnd.oci.image.manifest.v1+json, the form oras push writes; this reference holds something else.",

  "file-in-the-way": () => "Move the file away, or choose another directory with --out (OUT_DIR).",
  "not-writable": () => "Make the directory writable (chmod u+w) or choose another with --out (OUT_DIR).",
};

/** Advice by kind, where no reason decides it. */
const BY_KIND: Record<ErrorKind, Advise> = {
  unreachable: (_, context) => startRegistryHint(context),
  timeout: (_, context) =>
    `Something at ${context.registry} accepts connections but is silent: it is no registry that works.\n` +
    `${portTakenHint(context)}\nA registry that is only slow: allow more time with REGISTRY_TIMEOUT=seconds.`,
  unavailable: ({ details }, context) =>
    `It answered ${details.status} ${details.attempts} times in a row: check it with \`${makeCommand("registry-status", context, { tls: false })}\` and its log, then run again.`,
  unauthorized: (_, context) => `The registry wants credentials: ${login(context)}.`,
  denied: (_, context) =>
    "The credentials were accepted, but do not allow this: ask the registry's administrator for pull and push\n" +
    `access to the repository, or log in as a user who has it (${makeCommand("login", context)}).`,
  tls: (_, context) => `Check the registry's TLS set-up with \`${makeCommand("doctor", context)}\`; --ca-file (REGISTRY_CA_FILE) trusts a private CA.`,
  unsupported: () => undefined,
  "not-a-registry": (_, context) =>
    `Point REGISTRY at an OCI registry's host:port (\`${makeCommand("doctor", context)}\` says what answers there).`,
  "too-large": () => "No registry stores anything this big, so the answer is broken or hostile: check that REGISTRY is the registry you meant.",
  "invalid-reference": () => "A reference looks like localhost:5000/agents/plan:v1 (registry/repository:tag or @sha256:…).",
  "file-system": () => "Choose a directory you can write to with --out (OUT_DIR), e.g. OUT_DIR=tmp/registry-verify.",
  "invalid-content": () => HOSTILE,
  "not-found": (_, context) => {
    const { missing } = context;
    if (!missing) return undefined;
    return missing.tags.length === 0
      ? `The repository ${missing.repository} does not exist. Push it first: ${makeCommand("push", context)} (or check REGISTRY and AGENTS).`
      : `Tags in ${missing.repository}: ${missing.tags.join(", ")}. Push the missing one first (${makeCommand("push", context, {}, "TAG=…")}) or pick one of these.`;
  },
  rejected: () => undefined,
};

/** What to do about `error`: an OciError's by its reason, else its kind; a CliError's own hint. */
export function advice(error: OciError | CliError, context: AdviceContext = {}): string | undefined {
  if (error instanceof UntrustedPackage) {
    const { signature, policy } = error;
    return trustAdvice(signature, policy.verify, policy.store.path, policy.where, REFUSED_PACKAGE);
  }
  if (error instanceof CliError) return error.hint;
  const { reason, subject } = error.details;
  // Credentials are for the host that asked for them, which need not be REGISTRY (a token service, a mirror's side).
  const asked = error.kind === "unauthorized" && subject !== undefined && subject !== context.registry;
  const full: Context = asked ? { registry: subject } : { ...context, registry: context.registry ?? DEFAULT_REGISTRY };
  const byReason = reason && BY_REASON[reason];
  return (byReason || BY_KIND[error.kind])(error, full);
}

/** What was refused, for the advice: a card, or an agent package about to run (whose card carries the signatures). */
export interface Refused {
  what: "cards" | "packages";
  /** How its publisher signs it. */
  sign: string;
  /** How its publisher publishes it again, signed. */
  again: string;
  /** What takes it unsigned, and signed by a key not trusted here. */
  unsigned: string;
  untrusted?: string;
}

export const REFUSED_CARD: Refused = {
  what: "cards",
  sign: "make sign CARD=… KEY=…",
  again: "make publish CARD=… KEY=…",
  unsigned: "VERIFY=if-present accepts unsigned cards",
};

export const REFUSED_PACKAGE: Refused = {
  what: "packages",
  sign: "make keygen makes a key once, make packages KEY=keys/publisher.key.pem publishes the packages signed with it",
  again: "make packages KEY=…",
  unsigned: "VERIFY=if-present runs unsigned code knowingly",
  untrusted: "VERIFY=if-present runs it knowingly",
};

/** What to do about a card, or a package's card, VERIFY refused, by what its signatures came to. */
export function trustAdvice(trust: CardTrust, policy: Policy, store: string, where: Location, refused = REFUSED_CARD): string {
  if (trust.status === "invalid") {
    return `Its signature proves it was changed after it was signed (in the registry, or before the push): do not use it.\nIts publisher signs and publishes it again: ${refused.again}`;
  }
  if (trust.status === "unsigned") return `VERIFY=${policy} takes signed ${refused.what} only: its publisher signs it (${refused.sign}),\nor ${refused.unsigned}.`;
  if (trust.signatures.some((check) => check.outcome === "partial")) {
    return `Its signature leaves those fields open to change: its publisher signs it in the A2A 1.0 form (${refused.sign}).`;
  }
  const scope = where.repository ? `${where.registry}/${where.repository.replace(/\/[^/]+$/, "")}` : where.registry ?? "https://<its provider>";
  return `To trust its publisher, get their public key (a JWKS file) from them directly and add it to ${store}:\n` +
    `{"keys": [{"jwks": "<their file>.jwks.json", "for": "${scope}"}]} (docs/trust.md#the-trust-store)` +
    (refused.untrusted ? `;\nor ${refused.untrusted}.` : ".");
}
