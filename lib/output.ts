import chalk from "chalk";

import { env } from "./env.ts";

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

const write = (text: string) => humanStream.write(text + "\n");

/** Quotes only what a POSIX shell would misread, so printed commands stay readable. */
export const shellLine = (args: string[]) =>
  args.map((arg) => (/^[A-Za-z0-9_\/:.,=@%+-]+$/.test(arg) ? arg : `'${arg.replaceAll("'", `'\\''`)}'`)).join(" ");

export const say = {
  banner: (title: string) => write("\n" + chalk.bold.cyan(`== ${title} ==`)),
  /** The command a person could paste to do this step by hand. */
  command: (line: string) => write(chalk.yellow("$ " + line)),
  line: (text = "") => write(text),
  /** Text exactly as a command printed it (it brings its own newlines). */
  text: (text: string) => humanStream.write(text),
  ok: (text: string) => write(chalk.green("✓ ") + text),
  fail: (text: string) => write(chalk.red("✗ ") + text),
  /** Warnings go to stderr, like errors, so they never mix into a command's output. */
  warn: (text: string) => process.stderr.write(chalk.yellow("! ") + text + "\n"),
  note: (text: string) => write(chalk.dim(text)),
  /** Problems always go to stderr, even without --json. */
  error: (text: string) => process.stderr.write(chalk.red("✗ " + text) + "\n"),
  hint: (text: string) => process.stderr.write(chalk.dim("  " + text.replaceAll("\n", "\n  ")) + "\n"),
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
