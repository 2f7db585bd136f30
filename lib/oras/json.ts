/**
 * Re-indents JSON text with two spaces the way Go's json.Indent does: only whitespace between
 * tokens changes, so escapes and number spellings stay exactly as stored.
 */
export function indentJson(text: string): string {
  let out = "";
  let depth = 0;
  let inString = false;
  const newline = () => "\n" + "  ".repeat(depth);
  for (let i = 0; i < text.length; i++) {
    const char = text[i];
    if (inString) {
      out += char;
      if (char === "\\") out += text[++i];
      else if (char === '"') inString = false;
      continue;
    }
    if (char === " " || char === "\t" || char === "\n" || char === "\r") continue;
    if (char === '"') {
      inString = true;
      out += char;
    } else if (char === "{" || char === "[") {
      const close = char === "{" ? "}" : "]";
      let j = i + 1;
      while (" \t\n\r".includes(text[j])) j++;
      if (text[j] === close) {
        out += char + close;
        i = j;
      } else {
        depth++;
        out += char + newline();
      }
    } else if (char === "}" || char === "]") {
      depth--;
      out += newline() + char;
    } else if (char === ",") {
      out += "," + newline();
    } else if (char === ":") {
      out += ": ";
    } else {
      out += char;
    }
  }
  return out;
}
