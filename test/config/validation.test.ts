// biome-ignore-all lint/suspicious/noTemplateCurlyInString: config values hold literal ${name} placeholders.
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../../src/config/load-config.js";
import type { Config } from "../../src/config/types.js";

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

/**
 * Cases that each set only the key at `path` (dot-separated) to a bad value,
 * by case name, and expect a problem containing `fragment` at that path.
 */
function keyCases(
  path: string,
  fragment: string,
  values: Record<string, unknown>,
): [string, unknown, string, string][] {
  return Object.entries(values).map(([name, value]) => [
    name,
    path.split(".").reduceRight<unknown>((inner, key) => ({ [key]: inner }), value),
    path,
    fragment,
  ]);
}

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
    ...keyCases("limits.maxChildProcesses", "from 1 to 100000", {
      "no child processes": 0,
      "too many child processes": 100_001,
    }),
    ...keyCases("limits.maxChildProcesses", "integer", { "fractional child processes": 2.5 }),
    ...keyCases("sessions.idleTimeoutMs", "from 1 to 604800000", {
      "zero idle timeout": 0,
      "negative idle timeout": -1,
    }),
    ...keyCases("sessions.maxLifetimeMs", "from 1 to 604800000", {
      "lifetime over a week": 604_800_001,
    }),
    ...keyCases("sessions.maxLifetimeMs", "integer", { "string lifetime": "12h" }),
    ...keyCases("sessions.restart.backoffMs", "from 1 to 3600000", { "zero backoff": 0 }),
    ...keyCases("sessions.restart.maxBackoffMs", "from 1 to 3600000", {
      "backoff over an hour": 3_600_001,
    }),
    ...keyCases("sessions.restart.crashBudget", "from 1 to 1000", {
      "zero crash budget": 0,
      "huge crash budget": 1_001,
    }),
    ...keyCases("sessions.restart.crashWindowMs", "from 1 to 604800000", {
      "negative crash window": -300_000,
      "crash window over a week": 604_800_001,
    }),
    ...keyCases("stdio.stopGraceMs", "from 1 to 3600000", {
      "zero stop grace": 0,
      "stop grace over an hour": 3_600_001,
    }),
    ...keyCases("stdio.maxMessageBytes", "from 1 to 268435456", {
      "zero message size": 0,
      "message size over 256 MiB": 268_435_457,
    }),
    ...keyCases("stdio.maxStderrBytesPerSecond", "from 1 to 268435456", {
      "negative stderr rate": -1,
    }),
    ...keyCases("limits.maxChildProcess", "unknown key", { "unknown limits key": 1 }),
    ...keyCases("sessions.idleTimeout", "unknown key", { "unknown sessions key": 1 }),
    ...keyCases("sessions.restart.backoff", "unknown key", { "unknown restart key": 1 }),
    ...keyCases("stdio.maxLineBytes", "unknown key", { "unknown stdio key": 1 }),
    ...keyCases("sessions", "expected object", { "sessions of wrong type": [] }),
    ...keyCases("sessions.restart", "expected object", { "restart of wrong type": 5 }),
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

async function accepted(config: unknown): Promise<Config> {
  const file = join(dir, `config-${++counter}.json`);
  await writeFile(file, JSON.stringify(config));
  return loadConfig({ file, env: {} });
}

describe("config: process, session and stdio limits", () => {
  const sessionDefaults = {
    idleTimeoutMs: 1_800_000,
    maxLifetimeMs: 43_200_000,
    restart: { backoffMs: 1_000, maxBackoffMs: 30_000, crashBudget: 5, crashWindowMs: 300_000 },
  };
  const stdioDefaults = {
    stopGraceMs: 2_000,
    maxMessageBytes: 16 * 1024 * 1024,
    maxStderrBytesPerSecond: 1024 * 1024,
  };

  it("fills every left-out key with its default", async () => {
    const config = await accepted({ limits: {}, sessions: { restart: {} }, stdio: {} });
    expect(config.limits.maxChildProcesses).toBe(256);
    expect(config.sessions).toEqual(sessionDefaults);
    expect(config.stdio).toEqual(stdioDefaults);
    const nulls = await accepted({ sessions: { restart: null }, stdio: null });
    expect(nulls.sessions).toEqual(sessionDefaults);
    expect(nulls.stdio).toEqual(stdioDefaults);
  });

  it("keeps the defaults of the keys next to one that is set", async () => {
    const config = await accepted({
      sessions: { idleTimeoutMs: 60_000, restart: { crashBudget: 3 } },
      stdio: { stopGraceMs: 500 },
    });
    expect(config.sessions).toEqual({
      ...sessionDefaults,
      idleTimeoutMs: 60_000,
      restart: { ...sessionDefaults.restart, crashBudget: 3 },
    });
    expect(config.stdio).toEqual({ ...stdioDefaults, stopGraceMs: 500 });
  });

  it("accepts the smallest and the largest values", async () => {
    const week = 7 * 24 * 3_600_000;
    const bounds = {
      largest: {
        limits: { maxChildProcesses: 100_000 },
        sessions: {
          idleTimeoutMs: week,
          maxLifetimeMs: week,
          restart: {
            backoffMs: 3_600_000,
            maxBackoffMs: 3_600_000,
            crashBudget: 1_000,
            crashWindowMs: week,
          },
        },
        stdio: {
          stopGraceMs: 3_600_000,
          maxMessageBytes: 256 * 1024 * 1024,
          maxStderrBytesPerSecond: 256 * 1024 * 1024,
        },
      },
      smallest: {
        limits: { maxChildProcesses: 1 },
        sessions: {
          idleTimeoutMs: 1,
          maxLifetimeMs: 1,
          restart: { backoffMs: 1, maxBackoffMs: 1, crashBudget: 1, crashWindowMs: 1 },
        },
        stdio: { stopGraceMs: 1, maxMessageBytes: 1, maxStderrBytesPerSecond: 1 },
      },
    };
    for (const [name, input] of Object.entries(bounds)) {
      const config = await accepted(input);
      expect(config.limits.maxChildProcesses, name).toBe(input.limits.maxChildProcesses);
      expect(config.sessions, name).toEqual(input.sessions);
      expect(config.stdio, name).toEqual(input.stdio);
    }
  });

  it("reports every bad new key at once, each at its path", async () => {
    const { error } = await problemsFor({
      limits: { maxChildProcesses: -1 },
      sessions: { maxLifetimeMs: 0, restart: { crashWindowMs: 0, maxBackoffMs: 0 } },
      stdio: { maxStderrBytesPerSecond: 0 },
    });
    expect(error.problems.map((problem) => problem.split(": ")[0]).sort()).toEqual([
      "limits.maxChildProcesses",
      "sessions.maxLifetimeMs",
      "sessions.restart.crashWindowMs",
      "sessions.restart.maxBackoffMs",
      "stdio.maxStderrBytesPerSecond",
    ]);
  });
});
