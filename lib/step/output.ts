import { AsyncLocalStorage } from "node:async_hooks";
import chalk from "chalk";

import { mapLimit } from "../concurrency.ts";
import { env } from "../env.ts";

// chalk alone ignores NO_COLOR (https://no-color.org); honour it.
if (env.noColor) chalk.level = 0;

// A reader that stops early (`make list | head -1`) is not a failure of the step.
process.stdout.on("error", (error: NodeJS.ErrnoException) => {
  if (error.code === "EPIPE") process.exit(0);
  throw error;
});

let humanStream: NodeJS.WriteStream = process.stdout;

/** With --json, stdout carries only the JSON result; everything for people goes to stderr. */
export function reserveStdoutForJson() {
  humanStream = process.stderr;
}

/** Items run side by side by `inTurn`: which one this is, and what the others wait to print. */
interface Turn {
  index: number;
  shared: { printing: number; held: [NodeJS.WriteStream, string][][] };
}
const turns = new AsyncLocalStorage<Turn>();

/** Written now, unless an item run by `inTurn` writes it while an earlier item still prints. */
function emit(stream: NodeJS.WriteStream, text: string) {
  const turn = turns.getStore();
  if (!turn || turn.shared.printing === turn.index) stream.write(text);
  else turn.shared.held[turn.index].push([stream, text]);
}

const write = (text: string) => emit(humanStream, text + "\n");

/**
 * `work` over every item, up to `limit` at once, printed as if one ran after another: the first
 * item prints as it goes, each later one holds its lines until those before it are done. After a
 * failure no new item starts; the ones started finish before that failure is thrown.
 */
export async function inTurn<T, R>(items: readonly T[], limit: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const shared: Turn["shared"] = { printing: 0, held: items.map(() => []) };
  const done = items.map(() => false);
  let failure: { error: unknown } | undefined;
  const results = await mapLimit(items, limit, async (item, index) => {
    try {
      if (!failure) return await turns.run({ index, shared }, () => work(item));
    } catch (error) {
      failure ??= { error };
    } finally {
      done[index] = true;
      // The next item to print gets out what it held, and prints as it goes from now on.
      for (let next = shared.printing; next < items.length; next = ++shared.printing) {
        for (const [stream, text] of shared.held[next]) stream.write(text);
        shared.held[next] = [];
        if (!done[next]) break;
      }
    }
  });
  if (failure) throw failure.error;
  return results as R[];
}

/** Quotes only what a POSIX shell would misread, so printed commands stay readable. */
export const shellLine = (args: string[]) =>
  args.map((arg) => (/^[A-Za-z0-9_\/:.,=@%+-]+$/.test(arg) ? arg : `'${arg.replaceAll("'", `'\\''`)}'`)).join(" ");

export const say = {
  banner: (title: string) => write("\n" + chalk.bold.cyan(`== ${title} ==`)),
  /** The command a person could paste to do this step by hand. */
  command: (line: string) => write(chalk.yellow("$ " + line)),
  line: (text = "") => write(text),
  /** Text exactly as a command printed it (it brings its own newlines). */
  text: (text: string) => emit(humanStream, text),
  ok: (text: string) => write(chalk.green("✓ ") + text),
  fail: (text: string) => write(chalk.red("✗ ") + text),
  /** Warnings go to stderr, like errors, so they never mix into a command's output. */
  warn: (text: string) => emit(process.stderr, chalk.yellow("! ") + text + "\n"),
  note: (text: string) => write(chalk.dim(text)),
  /** Problems always go to stderr, even without --json. */
  error: (text: string) => emit(process.stderr, chalk.red("✗ " + text) + "\n"),
  hint: (text: string) => emit(process.stderr, chalk.dim("  " + text.replaceAll("\n", "\n  ")) + "\n"),
};

export function table(headers: string[], rows: string[][]) {
  const widths = headers.map((header, i) => Math.max(header.length, ...rows.map((row) => row[i].length)));
  const format = (cells: string[]) => "| " + cells.map((cell, i) => cell.padEnd(widths[i])).join(" | ") + " |";
  write(chalk.bold(format(headers)));
  write("|" + widths.map((width) => "-".repeat(width + 2)).join("|") + "|");
  for (const row of rows) write(format(row));
}

export function printJson(value: unknown) {
  process.stdout.write(JSON.stringify(value, null, 2) + "\n");
}
