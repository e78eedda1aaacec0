/** What `splitLines` reports. */
export interface LineHandlers {
  /** One complete line, without its `\n` (and `\r`), decoded as UTF-8. */
  line(line: string): void;
  /** A line grew past the limit; nothing more is reported after this. */
  overflow(): void;
}

const newline = 0x0a;

/**
 * Returns a `data` listener that cuts a byte stream into lines of at most
 * `maxLineBytes`. Chunks of an unfinished line are kept in a list and joined
 * once, so a long line costs linear time, and never more than the limit is
 * held.
 */
export function splitLines(maxLineBytes: number, handlers: LineHandlers): (chunk: Buffer) => void {
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let overflowed = false;
  const overflow = () => {
    overflowed = true;
    pending = [];
    handlers.overflow();
  };
  return (chunk) => {
    if (overflowed) return;
    let start = 0;
    for (let end = chunk.indexOf(newline); end !== -1; end = chunk.indexOf(newline, start)) {
      const part = chunk.subarray(start, end);
      start = end + 1;
      if (pendingBytes + part.length > maxLineBytes) return overflow();
      const whole = pendingBytes === 0 ? part : Buffer.concat([...pending, part]);
      pending = [];
      pendingBytes = 0;
      handlers.line(whole.toString("utf8").replace(/\r$/, ""));
    }
    const rest = chunk.subarray(start);
    if (pendingBytes + rest.length > maxLineBytes) return overflow();
    if (rest.length > 0) {
      pending.push(rest);
      pendingBytes += rest.length;
    }
  };
}
