import { accessSync, constants, statSync } from "node:fs";
import path from "node:path";

/** The first of `names` that is an executable file in a PATH directory, like `command -v`. */
export function findOnPath(...names: string[]): string | undefined {
  const dirs = (process.env.PATH ?? "").split(path.delimiter).filter(Boolean);
  for (const name of names) {
    for (const dir of dirs) {
      const candidate = path.join(dir, name);
      try {
        accessSync(candidate, constants.X_OK);
        if (statSync(candidate).isFile()) return candidate;
      } catch {
        // not in this directory
      }
    }
  }
  return undefined;
}
