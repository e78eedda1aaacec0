import type { Readable } from "node:stream";
import { StringDecoder } from "node:string_decoder";

// Longest stderr line forwarded, in characters; the rest of a longer line is dropped.
const maxStderrLineLength = 8192;

/**
 * Splits a child's stderr into lines and hands each to `onLine`. Memory is
 * bounded: a line longer than 8192 characters is cut and marked, so a child
 * that writes without newlines cannot grow the buffer. The stream itself is
 * left as it is: other `data` listeners still get Buffers, so a byte budget
 * on the same stream counts bytes.
 */
export function forwardStderrLines(stream: Readable, onLine: (line: string) => void): void {
  const decoder = new StringDecoder("utf8");
  let pending = "";
  let dropping = false;
  stream.on("data", (chunk: Buffer) => {
    const parts = decoder.write(chunk).split("\n");
    const last = parts.pop() ?? "";
    for (const part of parts) {
      const line = dropping ? `${pending}…` : pending + part;
      pending = "";
      dropping = false;
      if (line.length > 0) onLine(line.replace(/\r$/, ""));
    }
    if (dropping) return;
    pending += last;
    if (pending.length > maxStderrLineLength) {
      pending = pending.slice(0, maxStderrLineLength);
      dropping = true;
    }
  });
  stream.on("end", () => {
    if (!dropping) pending += decoder.end();
    if (pending.length > 0) onLine(dropping ? `${pending}…` : pending);
    pending = "";
  });
  // Errors on a child's stderr pipe are not actionable; the process exit is reported elsewhere.
  stream.on("error", () => {});
}
