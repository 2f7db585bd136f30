// What the test agent reads from `deno test --reporter=tap`: how many tests passed, failed and
// were skipped, and why each failure failed.

interface Failure {
  test: string;
  message: string;
}

/**
 * Counts the tests of Deno's TAP report. A suite is a "# Subtest: name" block whose own line
 * comes after its tests; only tests that are not suites count. A failure's message is the first
 * line of the JSON that follows it.
 */
export function tapResults(tap: string): { passed: number; failed: number; skipped: number; failures: Failure[] } {
  const result = { passed: 0, failed: 0, skipped: 0, failures: [] as Failure[] };
  const suites: { indent: number; name: string }[] = [];
  const lines = tap.split("\n");
  lines.forEach((line, i) => {
    const subtest = /^(\s*)# Subtest: (.*)$/.exec(line);
    if (subtest) return void suites.push({ indent: subtest[1].length, name: subtest[2] });
    const point = /^(\s*)(not )?ok \d+ - (.*?)(\s+# SKIP.*)?$/.exec(line);
    if (!point) return;
    const [, indent, failed, name, skipped] = point;
    const open = suites.at(-1);
    if (open && open.indent === indent.length && open.name === name) return void suites.pop();
    if (skipped) result.skipped++;
    else if (!failed) result.passed++;
    else {
      result.failed++;
      const detail = lines.slice(i + 1, i + 4).find((next) => next.trim().startsWith("{"));
      const message = detail ? String(JSON.parse(detail).message ?? "") : "failed";
      result.failures.push({ test: [...suites.map((suite) => suite.name), name].join(" > "), message: message.split("\n")[0] });
    }
  });
  return result;
}
