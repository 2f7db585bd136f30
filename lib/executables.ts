import { accessSync, constants, realpathSync, statSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

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

/** The project's directory: this file's parent's, in lib/ and in a bundle in dist/ alike. */
export const PROJECT_ROOT = fileURLToPath(new URL("..", import.meta.url));

/** The project's own Deno (npm's node_modules/.bin/deno), its real path: it runs the agents and their tests. */
export const projectDeno = () => realpathSync(path.join(PROJECT_ROOT, "node_modules/.bin/deno"));
