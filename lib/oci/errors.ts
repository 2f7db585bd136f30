/**
 * What went wrong talking to a registry, as a kind a caller can act on. These carry no advice:
 * the command layer turns a kind into an exit code and a hint, as oras's CLI does.
 */
export type ErrorKind =
  /** A manifest, blob, tag or repository the registry does not have (404). */
  | "not-found"
  /** Credentials are missing or wrong (401), or the token service refused them. */
  | "unauthorized"
  /** The credentials are good but do not allow this (403). */
  | "denied"
  /** No connection: refused, reset, unknown host. */
  | "unreachable"
  /** Connected, but no answer within the time limit. */
  | "timeout"
  /** TLS failed: an untrusted or mismatched certificate, or TLS spoken to plain HTTP (or the reverse). */
  | "tls"
  /** Something answers, but not like an OCI registry (a web server, a proxy's HTML page). */
  | "not-a-registry"
  /** The registry kept failing (5xx, 408, 429) after every retry. */
  | "unavailable"
  /** The registry does not offer this operation (no catalog, no referrers API). */
  | "unsupported"
  /** Bytes that are not what they claim: a digest or size mismatch, a malformed or hostile manifest. */
  | "invalid-content"
  /** An answer larger than anything a registry stores for it. */
  | "too-large"
  /** A reference that breaks the OCI grammar. */
  | "invalid-reference"
  /** Any other refusal by the registry (400, 405, …). */
  | "rejected"
  /** A local file or directory that cannot be written (pulls write files). */
  | "file-system";

/** A finer cause within a kind, for whoever turns errors into advice. */
export type Reason =
  // unauthorized
  | "no-credentials" | "anonymous-refused" | "rejected-credentials" | "bad-username" | "invalid-token" | "insufficient-scope"
  | "token-service" | "unsupported-challenge" | "docker-config" | "credential-helper" | "cleartext" | "cleartext-token-service"
  // tls
  | "untrusted-certificate" | "https-server" | "plain-http-server" | "name-mismatch" | "expired" | "handshake" | "ca-file"
  // unreachable
  | "unknown-host"
  // timeout
  | "stalled"
  // unsupported
  | "no-catalog" | "no-delete"
  // invalid-content
  | "path-traversal" | "no-title" | "duplicate-title" | "digest-mismatch" | "oversized-blob" | "truncated"
  | "unexpected-media-type" | "malformed-manifest" | "not-an-index" | "pagination-loop"
  // file-system
  | "file-in-the-way" | "not-writable" | "cannot-create";

/** One entry of a distribution error body's `errors`. */
export interface RegistryErrorBody {
  code: string;
  message?: string;
  detail?: unknown;
}

export class OciError extends Error {
  constructor(
    readonly kind: ErrorKind,
    message: string,
    readonly details: {
      /** The HTTP status, when the registry answered. */
      status?: number;
      /** The distribution error code, e.g. MANIFEST_UNKNOWN. */
      code?: string;
      /** The request the registry refused, e.g. `GET http://localhost:5000/v2/_catalog`. */
      request?: string;
      /** Every error the registry's answer listed, as it sent them. */
      errors?: RegistryErrorBody[];
      /** What the request was about, e.g. "localhost:5000/agents/plan:v9". */
      subject?: string;
      /** How many attempts were made before giving up. */
      attempts?: number;
      /** A finer cause within the kind, for advice. */
      reason?: Reason;
    } = {},
  ) {
    super(message);
    this.name = "OciError";
  }
}

export const isOciError = (error: unknown, kind?: ErrorKind): error is OciError =>
  error instanceof OciError && (kind === undefined || error.kind === kind);
