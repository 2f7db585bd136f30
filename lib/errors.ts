import { OciError } from "./oci/errors.ts";

/**
 * Every failure a user can meet is one of these. The exit code tells scripts and CI what kind
 * of failure it was: 2 for usage and environment problems (fix the command, the input or the
 * machine), 1 for content that failed a check (verification, missing or hostile artifacts).
 */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: 1 | 2,
    /** What to do about it, printed under the message. */
    readonly hint?: string,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/** Bad options or bad input files: nothing was sent to a registry. */
export class UsageError extends CliError {
  constructor(message: string, hint?: string) {
    super(message, 2, hint);
  }
}

/** The machine is not ready: registry unreachable, a tool missing, a directory not writable. */
export class EnvironmentError extends CliError {
  constructor(message: string, hint?: string) {
    super(message, 2, hint);
  }
}

/** Content that failed a check: a mismatch, a missing artifact, a blob that lies about itself. */
export class ContentError extends CliError {
  constructor(message: string, hint?: string) {
    super(message, 1, hint);
  }
}

/** 1 for content that failed a check, 2 for usage and environment problems. */
export function exitCodeOf(error: unknown): 1 | 2 {
  if (error instanceof CliError) return error.exitCode;
  if (error instanceof OciError) return ["not-found", "invalid-content", "too-large", "rejected"].includes(error.kind) ? 1 : 2;
  return 1;
}

/** A failure of the content itself (missing, changed, hostile): a verification reports it and goes on. */
export const isContentFailure = (error: unknown): error is OciError | CliError =>
  (error instanceof OciError || error instanceof CliError) && exitCodeOf(error) === 1;
