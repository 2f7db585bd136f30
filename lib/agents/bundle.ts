// An agent's implementation as one file: its source in agents/ and the official A2A SDK, bundled
// into one ES module with its card's skill schemas compiled in as standalone validators. The
// package then runs on nothing but Deno, and the agent starts without compiling a schema (Ajv
// takes about 200 ms to load and compile the two schemas of a skill).
import standaloneCode from "ajv/dist/standalone/index.js";
import { build } from "esbuild";
import { PROJECT_ROOT } from "../executables.ts";
import { RUNS_TESTS } from "./package.ts";
import { skillValidators } from "./skills.ts";

/** What each implementation needs beyond its port and its own files: the test agent runs tests. */
export const NEEDS: Record<string, string[]> = { plan: [], build: [], test: [RUNS_TESTS] };

/** agents/<agent>.ts bundled for `card`: the bytes of the package's implementation layer. */
export async function bundleAgent(agent: string, card: Record<string, unknown>): Promise<Uint8Array> {
  const validators = standaloneCode.default(skillValidators(card, true).ajv, { input: "input", output: "output" });
  const result = await build({
    entryPoints: [`agents/${agent}.ts`],
    absWorkingDir: PROJECT_ROOT,
    bundle: true,
    format: "esm",
    platform: "node",
    target: "es2022",
    write: false,
    logLevel: "warning",
    banner: { js: `// The ${agent} agent of pallet-registry: agents/${agent}.ts and @a2a-js/sdk, bundled by make packages.` },
    plugins: [{
      name: "skill-validators",
      setup(build) {
        build.onResolve({ filter: /^pallet:skill-validators$/ }, () => ({ path: "skill-validators.js", namespace: "pallet" }));
        build.onLoad({ filter: /.*/, namespace: "pallet" }, () => ({ contents: validators, resolveDir: PROJECT_ROOT, loader: "js" }));
      },
    }],
  });
  return result.outputFiles[0].contents;
}
