import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { splitLines } from "../../src/mcp/stdout-lines.js";

/** A splitter at `maxLineBytes` that records what it reports, in order. */
function recorder(maxLineBytes: number) {
  const events: (string | { overflow: true })[] = [];
  const feed = splitLines(maxLineBytes, {
    line: (line) => void events.push(line),
    overflow: () => void events.push({ overflow: true }),
  });
  return {
    events,
    /** Feeds each chunk, strings as UTF-8. */
    write(...chunks: (string | Buffer)[]) {
      for (const chunk of chunks) feed(typeof chunk === "string" ? Buffer.from(chunk) : chunk);
    },
  };
}

const overflowed = { overflow: true };

describe("splitLines", () => {
  it("joins a line split across chunks", () => {
    const r = recorder(100);
    r.write('{"jsonrpc":', '"2.0",', '"id":1}');
    expect(r.events).toEqual([]);
    r.write("\n");
    expect(r.events).toEqual(['{"jsonrpc":"2.0","id":1}']);
  });

  it("reports several lines from one chunk, keeping the unfinished rest for later", () => {
    const r = recorder(100);
    r.write("one\ntwo\nthree\nfo");
    expect(r.events).toEqual(["one", "two", "three"]);
    r.write("ur\n");
    expect(r.events).toEqual(["one", "two", "three", "four"]);
  });

  it("drops the \\r of \\r\\n, also when \\r and \\n arrive in different chunks", () => {
    const r = recorder(100);
    r.write("a\r\nb\r", "\nc\n");
    expect(r.events).toEqual(["a", "b", "c"]);
  });

  it("reports empty lines", () => {
    const r = recorder(100);
    r.write("\n\r\n", "x\n", "\n");
    expect(r.events).toEqual(["", "", "x", ""]);
  });

  it("decodes multi-byte UTF-8 characters split across chunk boundaries", () => {
    const text = "é€😀 ok";
    const bytes = Buffer.from(`${text}\n`);
    // Every split point, including those inside the 2-, 3- and 4-byte characters.
    for (let cut = 1; cut < bytes.length; cut++) {
      const r = recorder(100);
      r.write(bytes.subarray(0, cut), bytes.subarray(cut));
      expect(r.events, `cut at byte ${cut}`).toEqual([text]);
    }
    // One byte per chunk.
    const r = recorder(100);
    for (const byte of bytes) r.write(Buffer.from([byte]));
    expect(r.events).toEqual([text]);
  });

  it("delivers a line of exactly maxLineBytes, in one chunk or byte by byte", () => {
    const line = "€".repeat(3); // 9 bytes
    const whole = recorder(9);
    whole.write(`${line}\n${line}\n`);
    expect(whole.events).toEqual([line, line]);
    const pieces = recorder(9);
    for (const byte of Buffer.from(`${line}\n`)) pieces.write(Buffer.from([byte]));
    expect(pieces.events).toEqual([line]);
  });

  it("reports overflow once for a line one byte over the limit, and nothing after", () => {
    const r = recorder(8);
    r.write("ok\n", "123456789\nafter\n");
    expect(r.events).toEqual(["ok", overflowed]);
    r.write("more\n", "x".repeat(100), "\n");
    expect(r.events).toEqual(["ok", overflowed]);
  });

  it("reports overflow when a line reaches the limit and then grows in a later chunk", () => {
    const r = recorder(8);
    r.write("12345678");
    expect(r.events).toEqual([]);
    r.write("9\n");
    expect(r.events).toEqual([overflowed]);
  });

  it("reports overflow as soon as an unfinished line exceeds the limit, before any newline", () => {
    const r = recorder(8);
    r.write("first\n1234", "56789");
    expect(r.events).toEqual(["first", overflowed]);
    r.write("\n");
    expect(r.events).toEqual(["first", overflowed]);
  });

  it("reports overflow for one chunk far past the limit without a newline", () => {
    const r = recorder(1024);
    r.write(Buffer.alloc(10 * 1024, 0x61));
    expect(r.events).toEqual([overflowed]);
  });

  it("reports every line, as written, for any lines within the limit and any chunking", () => {
    const maxLineBytes = 32;
    const utf8Length = (s: string) => Buffer.byteLength(s, "utf8");
    // Lines of any Unicode except the terminators; `crlf` lines end in \r\n, whose \r counts.
    const line = fc
      .record({
        text: fc.string({ unit: "grapheme", maxLength: 20 }),
        crlf: fc.boolean(),
      })
      .map(({ text, crlf }) => ({ text: text.replace(/[\r\n]/g, ""), crlf }))
      .filter(({ text, crlf }) => utf8Length(text) + (crlf ? 1 : 0) <= maxLineBytes);
    fc.assert(
      fc.property(
        fc.array(line, { maxLength: 20 }),
        fc.array(fc.nat(), { maxLength: 30 }),
        (lines, cutSeeds) => {
          const bytes = Buffer.from(
            lines.map(({ text, crlf }) => `${text}${crlf ? "\r\n" : "\n"}`).join(""),
          );
          const cuts = [...new Set(cutSeeds.map((seed) => seed % (bytes.length + 1)))].sort(
            (a, b) => a - b,
          );
          const r = recorder(maxLineBytes);
          let start = 0;
          for (const cut of [...cuts, bytes.length]) {
            r.write(bytes.subarray(start, cut));
            start = cut;
          }
          expect(r.events).toEqual(lines.map(({ text }) => text));
        },
      ),
      { numRuns: 500 },
    );
  });
});
