import type { Readable } from "node:stream";

/** Longest stderr line forwarded; the rest of a longer line is dropped. */
export const maxStderrLineBytes = 8192;

/**
 * Splits a child's stderr into lines and hands each to `onLine`. Memory is
 * bounded: a line longer than `maxStderrLineBytes` is cut and marked, so a
 * child that writes without newlines cannot grow the buffer.
 */
export function forwardStderrLines(stream: Readable, onLine: (line: string) => void): void {
  let pending = "";
  let dropping = false;
  stream.setEncoding("utf8");
  stream.on("data", (chunk: string) => {
    const parts = chunk.split("\n");
    const last = parts.pop() ?? "";
    for (const part of parts) {
      const line = dropping ? `${pending}…` : pending + part;
      pending = "";
      dropping = false;
      if (line.length > 0) onLine(line.replace(/\r$/, ""));
    }
    if (dropping) return;
    pending += last;
    if (pending.length > maxStderrLineBytes) {
      pending = pending.slice(0, maxStderrLineBytes);
      dropping = true;
    }
  });
  stream.on("end", () => {
    if (pending.length > 0) onLine(dropping ? `${pending}…` : pending);
    pending = "";
  });
  // Errors on a child's stderr pipe are not actionable; the process exit is reported elsewhere.
  stream.on("error", () => {});
}
