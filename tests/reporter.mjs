// make test's reporter for `node --test`: a dot for each test that passed (x for one that failed),
// then every failure in full, and a closing line CI can read: "N passed, N failed, N skipped".
// Node's own dot and spec reporters end with the failures, without counts. Plain JavaScript:
// node loads a reporter before tsx could compile it.
import { inspect } from "node:util";

const WIDTH = 80;

/** @param {AsyncIterable<{ type: string, data: any }>} source the test runner's events */
export default async function* reporter(source) {
  const started = performance.now();
  const counts = { passed: 0, failed: 0, skipped: 0 };
  /** The names of the tests under way, by file and nesting, to name a failure by its suites. */
  const paths = new Map();
  const failures = [];
  /** Files with a failed test: the file's own failure then says nothing more. */
  const failedIn = new Set();
  /** What each file's process wrote to stderr, shown if the file fails outside its tests. */
  const stderr = new Map();
  let column = 0;
  const mark = (char) => {
    column = (column + 1) % WIDTH;
    return column === 0 ? `${char}\n` : char;
  };

  for await (const { type, data } of source) {
    const path = paths.get(data.file ?? "") ?? [];
    paths.set(data.file ?? "", path);
    if (type === "test:start") path[data.nesting] = data.name;
    if (type === "test:stderr") stderr.set(data.file, (stderr.get(data.file) ?? "") + data.message);
    if ((type !== "test:pass" && type !== "test:fail") || data.details?.type === "suite") continue;
    const error = data.details?.error;
    if (data.skip || data.todo) {
      counts.skipped++;
    } else if (type === "test:pass") {
      counts.passed++;
      yield mark(".");
    } else if (data.nesting === 0 && data.name === data.file) {
      // The file's own run failed: a crash or an error outside its tests, unless a test failed.
      if (!failedIn.has(data.file)) {
        counts.failed++;
        const said = (stderr.get(data.file) ?? "").trimEnd();
        failures.push(`✗ ${data.file} failed outside its tests: it exited ${error?.exitCode ?? error?.signal}${said ? `, saying:\n${said.replace(/^/gm, "  ")}` : ""}`);
      }
    } else if (error?.failureType !== "subtestsFailed") {
      counts.failed++;
      failedIn.add(data.file ?? "");
      const where = data.file ? ` (${data.file}${data.line ? `:${data.line}` : ""})` : "";
      failures.push(`✗ ${[...path.slice(0, data.nesting), data.name].join(" › ")}${where}\n${inspect(error?.cause ?? error).replace(/^/gm, "  ")}`);
      yield mark("x");
    }
  }
  if (column !== 0) yield "\n";
  if (failures.length > 0) yield `\n${failures.join("\n\n")}\n`;
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  yield `\n${counts.passed} passed, ${counts.failed} failed, ${counts.skipped} skipped (${seconds} s)\n`;
}
