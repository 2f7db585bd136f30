// What a step prints, through an output channel it is handed: a process's stdout and stderr, or
// whatever a test passes. Nothing here runs at import.
import { AsyncLocalStorage } from "node:async_hooks";
import defaultChalk, { Chalk } from "chalk";

import { mapLimit } from "../concurrency.ts";

/** Where text goes: process.stdout, or a test's collector. */
export interface Sink {
  write(text: string): unknown;
}

export interface OutputOptions {
  stdout: Sink;
  stderr: Sink;
  /** stdout carries only the JSON result; everything for people goes to stderr. */
  json?: boolean;
  /** false: no colour (NO_COLOR); else colour where the terminal has it. */
  color?: boolean;
}

/** Items run side by side by `inTurn`: which one this is, and what the others wait to print. */
interface Turn {
  index: number;
  shared: { printing: number; held: [Sink, string][][] };
}

/** Quotes only what a POSIX shell would misread, so printed commands stay readable ("…" stands for what a run fills in). */
export const shellLine = (args: string[]) =>
  args.map((arg) => (/^[A-Za-z0-9_\/:.,=@%+…-]+$/.test(arg) ? arg : `'${arg.replaceAll("'", `'\\''`)}'`)).join(" ");

export type Output = ReturnType<typeof createOutput>;

export function createOutput({ stdout, stderr, json = false, color = true }: OutputOptions) {
  const chalk = color ? defaultChalk : new Chalk({ level: 0 });
  const human = json ? stderr : stdout;
  const turns = new AsyncLocalStorage<Turn>();

  /** Written now, unless an item run by `inTurn` writes it while an earlier item still prints. */
  const emit = (sink: Sink, text: string) => {
    const turn = turns.getStore();
    if (!turn || turn.shared.printing === turn.index) sink.write(text);
    else turn.shared.held[turn.index].push([sink, text]);
  };
  const write = (text: string) => emit(human, text + "\n");

  return {
    banner: (title: string) => write("\n" + chalk.bold.cyan(`== ${title} ==`)),
    /** The command a person could paste to do this step by hand. */
    command: (line: string) => write(chalk.yellow("$ " + line)),
    line: (text = "") => write(text),
    /** Text exactly as a command printed it (it brings its own newlines). */
    text: (text: string) => emit(human, text),
    ok: (text: string) => write(chalk.green("✓ ") + text),
    fail: (text: string) => write(chalk.red("✗ ") + text),
    /** Warnings go to stderr, like errors, so they never mix into a command's output. */
    warn: (text: string) => emit(stderr, chalk.yellow("! ") + text + "\n"),
    note: (text: string) => write(chalk.dim(text)),
    /** Problems always go to stderr, even without --json. */
    error: (text: string) => emit(stderr, chalk.red("✗ " + text) + "\n"),
    hint: (text: string) => emit(stderr, chalk.dim("  " + text.replaceAll("\n", "\n  ")) + "\n"),

    table(headers: string[], rows: string[][]) {
      const widths = headers.map((header, i) => Math.max(header.length, ...rows.map((row) => row[i].length)));
      const format = (cells: string[]) => "| " + cells.map((cell, i) => cell.padEnd(widths[i])).join(" | ") + " |";
      write(chalk.bold(format(headers)));
      write("|" + widths.map((width) => "-".repeat(width + 2)).join("|") + "|");
      for (const row of rows) write(format(row));
    },

    /** The step's result, on stdout. */
    json: (value: unknown) => stdout.write(JSON.stringify(value, null, 2) + "\n"),

    /**
     * `work` over every item, up to `limit` at once, printed as if one ran after another: the first
     * item prints as it goes, each later one holds its lines until those before it are done. After a
     * failure no new item starts; the ones started finish before that failure is thrown.
     */
    async inTurn<T, R>(items: readonly T[], limit: number, work: (item: T) => Promise<R>): Promise<R[]> {
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
            for (const [sink, text] of shared.held[next]) sink.write(text);
            shared.held[next] = [];
            if (!done[next]) break;
          }
        }
      });
      if (failure) throw failure.error;
      return results as R[];
    },
  };
}
