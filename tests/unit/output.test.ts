import assert from "node:assert/strict";
import { test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { createOutput, type Output } from "../../lib/step/output.ts";

/** An output channel whose lines land in `lines`, in the order they reach its stream. */
function collecting(lines: string[]) {
  const sink = { write: (text: string) => lines.push(...text.split("\n").filter(Boolean)) };
  return createOutput({ stdout: sink, stderr: sink, color: false });
}

/** What `work` prints through its output channel, line by line, in the order it reaches the stream. */
async function printed(work: (out: Output) => Promise<unknown>): Promise<{ lines: string[]; result: PromiseSettledResult<unknown> }> {
  const lines: string[] = [];
  const [result] = await Promise.allSettled([work(collecting(lines))]);
  return { lines, result };
}

test("inTurn prints each item's lines whole and in item order, whichever finishes first", async () => {
  const { lines, result } = await printed((out) =>
    out.inTurn([3, 1, 2], 8, async (n) => {
      out.line(`${n} starts`);
      await sleep(n * 20);
      out.line(`${n} ends`);
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
  const out = collecting(lines);
  const running = out.inTurn(["first", "second"], 8, async (name) => {
    out.line(`${name} starts`);
    if (name === "first") await firstMayEnd;
    out.line(`${name} ends`);
  });
  await sleep(20);
  // The second item has ended by now; only the first one's live line is out.
  assert.deepEqual(lines, ["first starts"]);
  firstRunning();
  await running;
  assert.deepEqual(lines, ["first starts", "first ends", "second starts", "second ends"]);
});

test("inTurn starts nothing new after a failure, lets the started items finish, then throws that failure", async () => {
  const started: number[] = [];
  const { lines, result } = await printed((out) =>
    out.inTurn([1, 2, 3, 4], 2, async (n) => {
      started.push(n);
      out.line(`${n} starts`);
      if (n === 1) throw new Error("item 1 failed");
      await sleep(20);
      out.line(`${n} ends`);
    })
  );
  assert.equal(result.status, "rejected");
  assert.equal((result as PromiseRejectedResult).reason.message, "item 1 failed");
  assert.deepEqual(started, [1, 2]);
  assert.deepEqual(lines, ["1 starts", "2 starts", "2 ends"]);
});
