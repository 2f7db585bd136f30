// The layers of lib/, bottom to top; an import may only point down (or stay within its layer).
// docs/design.md draws the same picture.
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";
import { PROJECT_ROOT } from "../helpers.ts";

/** Each module's layer, by its path under lib/: the first pattern that matches names it. */
const LAYERS: [layer: string, pattern: RegExp][] = [
  ["base", /^(concurrency|executables)\.ts$/],
  ["oci", /^oci\//],
  ["shared", /^(errors|env)\.ts$/],
  ["domain", /^(cards|compare|verification|mirror|fleet|registry-server)\.ts$|^(agents|discovery|trust|generated)\//],
  ["oras", /^oras\//],
  ["step", /^step\//],
];
const RANK = new Map(LAYERS.map(([layer], rank) => [layer, rank]));

function layerOf(module: string): string | undefined {
  return LAYERS.find(([, pattern]) => pattern.test(module))?.[0];
}

/** Every .ts and .js module under lib/, as a path relative to lib/. */
function modules(dir = path.join(PROJECT_ROOT, "lib")): string[] {
  return readdirSync(dir, { recursive: true, encoding: "utf8" })
    .filter((file) => /\.[jt]s$/.test(file) && !file.endsWith(".d.ts"))
    .map((file) => file.split(path.sep).join("/"))
    .sort();
}

/** The relative imports of a module (static and dynamic), resolved to paths relative to lib/. */
export function importsOf(module: string, text: string): string[] {
  const specifiers = [...text.matchAll(/(?:^|\n)\s*(?:import|export)\b[^;]*?\bfrom\s*"(\.[^"]+)"|\bimport\(\s*"(\.[^"]+)"\s*\)/g)]
    .map((match) => match[1] ?? match[2]);
  return specifiers.map((specifier) => path.posix.normalize(path.posix.join(path.posix.dirname(module), specifier)));
}

/** Imports that point up a layer, or leave lib/ for scripts/, tests/ or bench/. */
export function upwardImports(sources: Map<string, string>): string[] {
  const found: string[] = [];
  for (const [module, text] of sources) {
    const from = layerOf(module)!;
    for (const target of importsOf(module, text)) {
      const to = layerOf(target);
      if (target.startsWith("../")) found.push(`${module} imports ${target}, outside lib/`);
      else if (to !== undefined && RANK.get(to)! > RANK.get(from)!) found.push(`lib/${module} (${from}) imports lib/${target} (${to})`);
    }
  }
  return found;
}

describe("lib/'s layers", () => {
  const sources = new Map(modules().map((module) => [module, readFileSync(path.join(PROJECT_ROOT, "lib", module), "utf8")]));

  it("place every module of lib/ in a layer", () => {
    assert.deepEqual([...sources.keys()].filter((module) => layerOf(module) === undefined), []);
  });

  it("have no import that points up a layer", () => {
    assert.deepEqual(upwardImports(sources), []);
  });

  it("would catch one: discovery importing the step layer, lib/oci importing the oras command", () => {
    const planted = new Map([
      ["discovery/crawl.ts", 'import { isContentFailure } from "../step/run.ts";'],
      ["oci/registry.ts", 'import type { OrasIO } from "../oras/command.ts";\nconst later = await import("../step/output.ts");'],
      ["oci/client.ts", 'import { CARD_TYPE } from "../cards.ts";'],
    ]);
    assert.deepEqual(upwardImports(planted), [
      "lib/discovery/crawl.ts (domain) imports lib/step/run.ts (step)",
      "lib/oci/registry.ts (oci) imports lib/oras/command.ts (oras)",
      "lib/oci/registry.ts (oci) imports lib/step/output.ts (step)",
      "lib/oci/client.ts (oci) imports lib/cards.ts (domain)",
    ]);
  });
});
