import { UsageError } from "../errors.ts";

/**
 * Splits a command line into words the way a POSIX shell does (white space separates, quotes
 * and backslashes keep text together), but expands nothing: `$x`, `*` and backquotes stay as
 * they are. This is how `make oras ARGS='…'` gets its argv without ever handing ARGS to a shell.
 */
export function splitWords(line: string): string[] {
  const words: string[] = [];
  let word: string | undefined;
  let quote: "'" | '"' | undefined;
  for (let i = 0; i < line.length; i++) {
    const char = line[i];
    if (quote === "'") {
      if (char === "'") quote = undefined;
      else word += char;
    } else if (quote === '"') {
      if (char === '"') quote = undefined;
      else if (char === "\\" && '"\\$`'.includes(line[i + 1] ?? "")) word += line[++i];
      else word += char;
    } else if (/\s/.test(char)) {
      if (word !== undefined) words.push(word);
      word = undefined;
    } else {
      word ??= "";
      if (char === "'" || char === '"') quote = char;
      else if (char === "\\" && i + 1 < line.length) word += line[++i];
      else word += char;
    }
  }
  if (quote) throw new UsageError(`unterminated ${quote} quote in ${JSON.stringify(line)}`, "Close the quote, or quote the whole ARGS value differently.");
  if (word !== undefined) words.push(word);
  return words;
}
