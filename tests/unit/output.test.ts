import assert from "node:assert/strict";
import { test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { inTurn, say } from "../../lib/step/output.ts";

/** Catches the lines these tests print on stdout; the test runner's own output passes by. */
function catchLines(lines: string[]): () => void {
  const write = process.stdout.write;
  process.stdout.write = function (this: unknown, chunk: unknown, ...rest: unknown[]) {
    if (typeof chunk === "string" && /^(\d|first|second) /.test(chunk)) return lines.push(chunk.trim()), true;
    return (write as (...args: unknown[]) => boolean).call(this, chunk, ...rest);
  } as typeof process.stdout.write;
  return () => (process.stdout.write = write);
}

/** What `work` writes to stdout, line by line, in the order it reaches the stream. */
async function printed(work: () => Promise<unknown>): Promise<{ lines: string[]; result: PromiseSettledResult<unknown> }> {
  const lines: string[] = [];
  const release = catchLines(lines);
  try {
    const [result] = await Promise.allSettled([work()]);
    return { lines, result };
  } finally {
    release();
  }
}

test("inTurn prints each item's lines whole and in item order, whichever finishes first", async () => {
  const { lines, result } = await printed(() =>
    inTurn([3, 1, 2], 8, async (n) => {
      say.line(`${n} starts`);
      await sleep(n * 20);
      say.line(`${n} ends`);
      return n * 10;
    })
  );
  assert.deepEqual(result, { status: "fulfilled", value: [30, 10, 20] });
  assert.deepEqual(lines, ["3 starts", "3 ends", "1 starts", "1 ends", "2 starts", "2 ends"]);
});

test("inTurn lets the first item print as it goes, and holds back the others", async () => {
  let firstRunning: () => void = () => {};
  const firstMayEnd = new Promise<void>((resolve) => (firstRunning = resolve));
  const lines: string[] = [];
  const release = catchLines(lines);
  try {
    const running = inTurn(["first", "second"], 8, async (name) => {
      say.line(`${name} starts`);
      if (name === "first") await firstMayEnd;
      say.line(`${name} ends`);
    });
    await sleep(20);
    // The second item has ended by now; only the first one's live line is out.
    assert.deepEqual(lines, ["first starts"]);
    firstRunning();
    await running;
  } finally {
    release();
  }
  assert.deepEqual(lines, ["first starts", "first ends", "second starts", "second ends"]);
});

test("inTurn starts nothing new after a failure, lets the started items finish, then throws that failure", async () => {
  const started: number[] = [];
  const { lines, result } = await printed(() =>
    inTurn([1, 2, 3, 4], 2, async (n) => {
      started.push(n);
      say.line(`${n} starts`);
      if (n === 1) throw new Error("item 1 failed");
      await sleep(20);
      say.line(`${n} ends`);
    })
  );
  assert.equal(result.status, "rejected");
  assert.equal((result as PromiseRejectedResult).reason.message, "item 1 failed");
  assert.deepEqual(started, [1, 2]);
  assert.deepEqual(lines, ["1 starts", "2 starts", "2 ends"]);
});
