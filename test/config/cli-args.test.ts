import { describe, expect, it } from "vitest";
import { CliUsageError, parseCliArgs, usage } from "../../src/cli-args.js";

describe("parseCliArgs", () => {
  it("returns only the flags when nothing is given", () => {
    expect(parseCliArgs([])).toStrictEqual({ help: false, version: false });
  });

  it("accepts --config FILE, --config=FILE, --host and --port", () => {
    expect(parseCliArgs(["--config", "a.yaml", "--host", "0.0.0.0", "--port", "0"])).toStrictEqual({
      config: "a.yaml",
      host: "0.0.0.0",
      port: 0,
      help: false,
      version: false,
    });
    expect(parseCliArgs(["--config=b.json", "--port=65535"])).toMatchObject({
      config: "b.json",
      port: 65535,
    });
  });

  it.each([
    [["-h"], { help: true, version: false }],
    [["--help"], { help: true, version: false }],
    [["-v"], { help: false, version: true }],
    [["--version"], { help: false, version: true }],
  ])("parses %j", (argv, expected) => {
    expect(parseCliArgs(argv)).toStrictEqual(expected);
  });

  it.each([
    [["--nope"], "unknown option --nope"],
    [["-x"], "unknown option -x"],
    [["config.yaml"], 'unexpected argument "config.yaml"'],
    [["--port"], "option --port needs a value"],
    [["--port", "--host", "h"], "option --port needs a value"],
    [["--help=yes"], "option --help does not take a value"],
    [["--port", "http"], "--port must be an integer from 0 to 65535"],
    [["--port", "65536"], "--port must be an integer from 0 to 65535"],
    [["--port=1.5"], "--port must be an integer from 0 to 65535"],
    [["--port=0x50"], "--port must be an integer from 0 to 65535"],
    [["--config="], "option --config needs a non-empty value"],
  ])("rejects %j with a CliUsageError", (argv, message) => {
    let caught: unknown;
    try {
      parseCliArgs(argv);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(CliUsageError);
    expect((caught as Error).message).toContain(message);
  });
});

describe("usage", () => {
  it("shows the synopsis and one line per option", () => {
    expect(usage).toContain("mcp-client-server [--config FILE] [--host H] [--port N]");
    const lines = usage.split("\n");
    for (const option of ["--config FILE", "--host H", "--port N", "-h, --help", "-v, --version"]) {
      expect(lines.filter((line) => line.startsWith(`  ${option} `))).toHaveLength(1);
    }
  });
});
