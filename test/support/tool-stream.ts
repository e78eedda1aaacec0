import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { expect } from "vitest";
import type { CallToolStreamResponse } from "../../gen/mcpclient/v1/session_service_pb.js";
import { repoPath } from "./repo-paths.js";

/** server-everything's tool that reports progress: `steps` steps over `duration` seconds. */
export const longRunningTool = "trigger-long-running-operation";

/** Fails loudly when the installed server-everything renamed its progress tool. */
export function checkLongRunningTool(): void {
  const file = join(
    repoPath("node_modules/@modelcontextprotocol/server-everything/dist/tools/"),
    `${longRunningTool}.js`,
  );
  if (!existsSync(file)) throw new Error(`server-everything has no ${file}`);
  const source = readFileSync(file, "utf8");
  expect(source).toContain(`"${longRunningTool}"`);
  expect(source).toContain("notifications/progress");
}

/** One message of a server stream and when it arrived (`performance.now()`). */
export interface Timed {
  readonly at: number;
  readonly event: CallToolStreamResponse["event"];
}

/** Reads a CallToolStream to its end, stamping each message's arrival. */
export async function collectTimed(
  stream: AsyncIterable<CallToolStreamResponse>,
): Promise<Timed[]> {
  const seen: Timed[] = [];
  for await (const message of stream) seen.push({ at: performance.now(), event: message.event });
  return seen;
}

/**
 * Checks a finished `trigger-long-running-operation` stream of `steps` steps
 * over `durationS` seconds: progress 1..steps with total `steps`, in order,
 * then the result last; and that progress arrived while the call ran, not
 * all at its end.
 */
export function expectLongRunningStream(seen: Timed[], durationS: number, steps: number): void {
  const progress = seen.flatMap((s) => (s.event.case === "progress" ? [s] : []));
  expect(progress.map((p) => p.event.value)).toEqual(
    Array.from({ length: steps }, (_, i) =>
      expect.objectContaining({ progress: i + 1, total: steps, message: "" }),
    ),
  );
  const last = seen.at(-1);
  expect(seen).toHaveLength(steps + 1);
  if (last?.event.case !== "result") throw new Error(`no result last: ${last?.event.case}`);
  expect(last.event.value.isError).toBe(false);
  expect(last.event.value.content[0]?.kind.value).toMatchObject({
    text: `Long running operation completed. Duration: ${durationS} seconds, Steps: ${steps}.`,
  });
  // Steps are durationS/steps apart: streamed events span most of the call; buffered ones would not.
  const first = progress[0]?.at ?? Number.NaN;
  const stepMs = (durationS * 1000) / steps;
  expect(last.at - first).toBeGreaterThan(stepMs * (steps - 1) * 0.6);
}
