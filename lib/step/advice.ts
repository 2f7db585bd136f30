// What a person can do about a failure, in this project's words: the one place that turns an
// OciError's kind and reason into advice. lib/oci says what went wrong; this says what to do.
import { CliError } from "../errors.ts";
import { type ErrorKind, OciError, type Reason } from "../oci/errors.ts";
import type { CardTrust, Policy } from "../trust/signatures.ts";
import type { Location } from "../trust/store.ts";

/** What the step knows besides the error: the registry it talked to, and what exists where something was missing. */
export interface AdviceContext {
  registry?: string;
  /** For a missing artifact: the repository, and its tags (none: it does not exist). */
  missing?: { repository: string; tags: string[] };
}

const HOSTILE = "The artifact is hostile or broken; nothing was written.";
const START_OVER = "start over with `make clean registry push`.";

const login = (registry: string) =>
  `make login REGISTRY=${registry} REGISTRY_USERNAME=<user> (the password is read from stdin or REGISTRY_PASSWORD)`;

/** Advice by reason, where the reason decides it; typed, so a reason no code raises cannot be listed. */
const BY_REASON: Partial<Record<Reason, (registry: string) => string>> = {
  "no-credentials": (registry) => `Log in once: ${login(registry)};\nor set REGISTRY_USERNAME and REGISTRY_PASSWORD for this run.`,
  "anonymous-refused": (registry) => `Log in once: ${login(registry)};\nor set REGISTRY_USERNAME and REGISTRY_PASSWORD for this run.`,
  "rejected-credentials": (registry) => `Check the user name and password (or token), then log in again: ${login(registry)}.`,
  "invalid-token": () =>
    "Run again: a new token is fetched each run. If it keeps failing, the token service and the registry disagree\n" +
    "(clocks, or the key the registry trusts): check them.",
  "token-service": (registry) =>
    `The token service refused or failed: check the credentials (${login(registry)}),\nand that the token service named in the error is up.`,
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

  stalled: () =>
    "It stopped sending in the middle of an answer: check it with `make registry-status` and its log, then run again;\n" +
    "over a slow link, allow more time with REGISTRY_TIMEOUT=seconds.",

  "no-catalog": () => "Name the agent repositories instead: make list AGENTS=plan,build,test (list then asks for those directly).",

  "path-traversal": () => `${HOSTILE} Do not pull it with --allow-path-traversal.`,
  "no-title": () => "Push files with `oras push REF FILE`, which names each layer after its file.",
  "digest-mismatch": () =>
    "The registry's storage is damaged or the artifact was tampered with; nothing was written.\n" +
    `A new push keeps the damaged blob the registry already holds: ${START_OVER}`,
  truncated: () =>
    "The registry stopped while sending it, or its storage is damaged: check `make registry-status`;\n" +
    `if it runs and this happens again, ${START_OVER}`,
  "pagination-loop": () => "The registry's list pages lead back to themselves: tell its operator. Steps that take AGENTS name\nthe agents' repositories directly, without the catalog.",
  "unexpected-media-type": () =>
    "Expected application/vnd.oci.image.manifest.v1+json, the form oras push writes; this reference holds something else.",

  "file-in-the-way": () => "Move the file away, or choose another directory with --out (OUT_DIR).",
  "not-writable": () => "Make the directory writable (chmod u+w) or choose another with --out (OUT_DIR).",
};

/** Advice by kind, where no reason decides it. */
const BY_KIND: Record<ErrorKind, (error: OciError, context: AdviceContext & { registry: string }) => string | undefined> = {
  unreachable: () => "Start one with `make registry` (or point REGISTRY at a running one, e.g. REGISTRY=localhost:5000).",
  timeout: () =>
    "Something there accepts connections but does not answer like a registry: check it with `make registry-status`,\n" +
    "start a registry with `make registry` (or point REGISTRY at one), or allow more time with REGISTRY_TIMEOUT=seconds.",
  unavailable: ({ details }) =>
    `It answered ${details.status} ${details.attempts} times in a row: check it with \`make registry-status\` and its log, then run again.`,
  unauthorized: (_, { registry }) => `The registry wants credentials: ${login(registry)}.`,
  denied: () =>
    "The credentials were accepted, but do not allow this: ask the registry's administrator for pull and push\n" +
    "access to the repository, or log in as a user who has it (make login).",
  tls: () => "Check the registry's TLS set-up with `make doctor`; --ca-file (REGISTRY_CA_FILE) trusts a private CA.",
  unsupported: () => undefined,
  "not-a-registry": () =>
    "Point REGISTRY at an OCI registry's host:port (check what answers with `make doctor`), or start one with `make registry`.",
  "too-large": () => "No registry stores anything this big, so the answer is broken or hostile: check that REGISTRY is the registry you meant.",
  "invalid-reference": () => "A reference looks like localhost:5000/agents/plan:v1 (registry/repository:tag or @sha256:…).",
  "file-system": () => "Choose a directory you can write to with --out (OUT_DIR), e.g. OUT_DIR=tmp/registry-verify.",
  "invalid-content": () => HOSTILE,
  "not-found": (_, { missing }) =>
    !missing ? undefined : missing.tags.length === 0
      ? `The repository ${missing.repository} does not exist. Push it first: make push (or check REGISTRY and AGENTS).`
      : `Tags in ${missing.repository}: ${missing.tags.join(", ")}. Push the missing one first (make push TAG=…) or pick one of these.`,
  rejected: () => undefined,
};

/** What to do about `error`: an OciError's by its reason, else its kind; a CliError's own hint. */
export function advice(error: OciError | CliError, context: AdviceContext = {}): string | undefined {
  if (error instanceof CliError) return error.hint;
  const { reason, subject } = error.details;
  // Credentials are for the host that asked for them, which need not be REGISTRY (a token service, a mirror's side).
  const registry = (error.kind === "unauthorized" ? subject : undefined) ?? context.registry ?? "REGISTRY";
  const byReason = reason && BY_REASON[reason];
  return byReason ? byReason(registry) : BY_KIND[error.kind](error, { ...context, registry });
}

/** What to do about a card VERIFY refused, by what its signatures came to. */
export function trustAdvice(trust: CardTrust, policy: Policy, store: string, where: Location): string {
  if (trust.status === "invalid") {
    return "Its signature proves it was changed after it was signed (in the registry, or before the push): do not use it.\n" +
      "Its publisher signs and publishes it again: make publish CARD=… KEY=…";
  }
  if (trust.status === "unsigned") {
    return `VERIFY=${policy} takes signed cards only: its publisher signs it (make sign CARD=… KEY=…),\nor VERIFY=if-present accepts unsigned cards.`;
  }
  if (trust.signatures.some((check) => check.outcome === "partial")) {
    return "Its signature leaves those fields open to change: its publisher signs it in the A2A 1.0 form (make sign CARD=… KEY=…).";
  }
  const scope = where.repository ? `${where.registry}/${where.repository.replace(/\/[^/]+$/, "")}` : where.registry ?? "https://<its provider>";
  return `To trust its publisher, get their public key (a JWKS file) from them directly and add it to ${store}:\n` +
    `{"keys": [{"jwks": "<their file>.jwks.json", "for": "${scope}"}]} (docs/trust.md#the-trust-store).`;
}
