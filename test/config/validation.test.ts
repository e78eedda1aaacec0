// biome-ignore-all lint/suspicious/noTemplateCurlyInString: config values hold literal ${name} placeholders.
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../../src/config/load-config.js";

let dir: string;
let counter = 0;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "mcs-validation-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function problemsFor(config: unknown): Promise<{ file: string; error: ConfigError }> {
  const file = join(dir, `config-${++counter}.json`);
  await writeFile(file, JSON.stringify(config));
  const error = await loadConfig({ file, env: {} }).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ConfigError);
  return { file, error: error as ConfigError };
}

const stdio = (extra: object) => ({ mcpServers: { x: { command: "node", ...extra } } });
const http = (extra: object) => ({ mcpServers: { web: { type: "http", ...extra } } });

describe("config validation", () => {
  it.each<[string, unknown, string, string]>([
    [
      "argv templating",
      stdio({ args: ["ok", "--t=${jwtToken}"] }),
      "mcpServers.x.args[1]",
      "pass credentials through env templating",
    ],
    [
      "command templating",
      stdio({ command: "${apiUrl}" }),
      "mcpServers.x.command",
      'must not contain "${"',
    ],
    ["templated cwd", stdio({ cwd: "/srv/${sessionId}" }), "mcpServers.x.cwd", "is not templated"],
    [
      "unknown env placeholder",
      stdio({ env: { T: "${token}" } }),
      "mcpServers.x.env.T",
      'unknown placeholder "${token}"',
    ],
    [
      "unterminated placeholder",
      stdio({ env: { T: "${jwtToken" } }),
      "mcpServers.x.env.T",
      "unterminated",
    ],
    [
      "bad env name",
      stdio({ env: { "A B": "v" } }),
      'mcpServers.x.env["A B"]',
      "environment variable names",
    ],
    [
      "unknown header placeholder",
      http({ url: "https://h/mcp", headers: { A: "${x}" } }),
      "mcpServers.web.headers.A",
      "unknown placeholder",
    ],
    [
      "templated url",
      http({ url: "https://h/${sessionId}" }),
      "mcpServers.web.url",
      "not templated",
    ],
    ["relative url", http({ url: "/mcp" }), "mcpServers.web.url", "absolute http"],
    [
      "ftp url",
      { mcpServers: { web: { url: "ftp://h/mcp" } } },
      "mcpServers.web.url",
      "absolute http",
    ],
    ["missing url", http({}), "mcpServers.web.url", "required"],
    [
      "unknown type",
      { mcpServers: { x: { type: "sse", url: "https://h" } } },
      "mcpServers.x.type",
      '"builtin"',
    ],
    [
      "entry without type, command or url",
      { mcpServers: { x: {} } },
      "mcpServers.x.type",
      '"command" or "url"',
    ],
    ["unknown server key", stdio({ arg: ["x"] }), "mcpServers.x.arg", "unknown key"],
    [
      "stdio key on http",
      { mcpServers: { web: { url: "https://h", command: "x" } } },
      "mcpServers.web.command",
      "unknown key",
    ],
    ["double underscore", { mcpServers: { a__b: { type: "builtin" } } }, "mcpServers.a__b", '"__"'],
    [
      "trailing underscore",
      { mcpServers: { a_: { type: "builtin" } } },
      "mcpServers.a_",
      'end with "_"',
    ],
    [
      "bad name characters",
      { mcpServers: { "a.b": { type: "builtin" } } },
      'mcpServers["a.b"]',
      "1-64 characters",
    ],
    [
      "name too long",
      { mcpServers: { ["n".repeat(65)]: { type: "builtin" } } },
      `mcpServers.${"n".repeat(65)}`,
      "1-64",
    ],
    ["no servers", { mcpServers: {} }, "mcpServers", "at least one MCP server"],
    ["port too big", { server: { port: 65536 } }, "server.port", "0 to 65535"],
    ["port negative", { server: { port: -1 } }, "server.port", "0 to 65535"],
    ["port fraction", { server: { port: 80.5 } }, "server.port", "0 to 65535"],
    ["zero timeout", { tools: { defaultTimeoutMs: 0 } }, "tools.defaultTimeoutMs", "from 1 to"],
    [
      "huge timeout",
      { credentialCheck: { timeoutMs: 3_600_001 } },
      "credentialCheck.timeoutMs",
      "from 1 to 3600000",
    ],
    ["string timeout", { server: { maxTimeoutMs: "5000" } }, "server.maxTimeoutMs", "integer"],
    ["huge body", { builtin: { maxResponseBytes: 2 ** 40 } }, "builtin.maxResponseBytes", "bytes"],
    [
      "default above max",
      { tools: { defaultTimeoutMs: 10_000, maxTimeoutMs: 5_000 } },
      "tools.defaultTimeoutMs",
      "tools.maxTimeoutMs",
    ],
    [
      "tls without key",
      { server: { tls: { certFile: "c.pem" } } },
      "server.tls.keyFile",
      "both certFile and keyFile",
    ],
    [
      "tls without cert",
      { server: { tls: { keyFile: "k.pem" } } },
      "server.tls.certFile",
      "both certFile and keyFile",
    ],
    ["bad log level", { log: { level: "verbose" } }, "log.level", "one of fatal"],
    ["unknown section", { srever: {} }, "srever", "unknown key"],
    ["unknown nested key", { server: { prot: 1 } }, "server.prot", "unknown key"],
    ["section of wrong type", { tools: [] }, "tools", "expected object"],
    ["root of wrong type", ["server"], "(root)", "expected object"],
  ])("%s is reported at its key path", async (_name, config, path, fragment) => {
    const { error } = await problemsFor(config);
    const problem = error.problems.find((p) => p.startsWith(`${path}: `));
    expect(problem, error.message).toBeDefined();
    expect(problem).toContain(fragment);
  });

  it("lists every problem and the file name in one message", async () => {
    const { file, error } = await problemsFor({
      server: { port: 99999, tls: { certFile: "c" } },
      mcpServers: { gh: { command: "npx", args: ["${jwtToken}"] } },
    });
    expect(error.message).toContain(file);
    expect(error.problems).toHaveLength(3);
    for (const path of ["server.port", "server.tls.keyFile", "mcpServers.gh.args[0]"]) {
      expect(error.message).toContain(`  - ${path}: `);
    }
  });
});
