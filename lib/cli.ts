import { CliError } from "./errors.ts";
import { helpText, parseOptions, type StepOptions } from "./options.ts";
import { reserveStdoutForJson, say } from "./output.ts";
import { type Oras, selectBackend } from "./backend.ts";
import { OciError } from "./oci/errors.ts";

export interface Step {
  /** The script's file name without `.ts`, for the help text. */
  script: string;
  summary: string;
  usage?: string;
}

/**
 * Runs one step: options, backend, then the step itself. Failures become a message, a hint
 * and the exit code of their kind, never a stack trace for a problem the user can fix.
 */
export async function runStep(
  step: Step,
  body: (options: StepOptions, oras: Oras, positionals: string[]) => Promise<void>,
) {
  try {
    const { options, help, positionals } = parseOptions(process.argv.slice(2));
    if (help) {
      console.log(helpText(step.script, step.summary, step.usage));
      return;
    }
    if (options.json) reserveStdoutForJson();
    await body(options, selectBackend(options.plainHttp), positionals);
  } catch (error) {
    reportFailure(error);
  }
}

export function reportFailure(error: unknown) {
  if (error instanceof OciError) {
    say.error(error.message);
    process.exitCode = ["not-found", "invalid-content", "too-large"].includes(error.kind) ? 1 : 2;
  } else if (error instanceof CliError) {
    say.error(error.message);
    if (error.hint) say.hint(error.hint);
    process.exitCode = error.exitCode;
  } else {
    say.error(`unexpected failure: ${(error as Error)?.stack ?? error}`);
    process.exitCode = 1;
  }
}
