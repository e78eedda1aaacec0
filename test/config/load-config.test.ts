// biome-ignore-all lint/suspicious/noTemplateCurlyInString: config values hold literal ${name} placeholders.
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { ConfigError, loadConfig } from "../../src/config/load-config.js";
import type { Config } from "../../src/config/types.js";

let dir: string;
let counter = 0;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "mcs-load-config-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function write(text: string, name = `config-${++counter}.yaml`): Promise<string> {
  const file = join(dir, name);
  await writeFile(file, text);
  return file;
}

async function configError(promise: Promise<unknown>): Promise<ConfigError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ConfigError);
  return error as ConfigError;
}

const defaults: Config = {
  server: {
    host: "127.0.0.1",
    port: 8080,
    maxMessageBytes: 4 * 1024 * 1024,
    maxTimeoutMs: 300_000,
    shutdownGraceMs: 10_000,
  },
  auth: {
    apiKeys: [],
    operatorCertificates: [],
    anonymous: { reflection: false, metrics: false },
  },
  limits: {
    maxSessions: 10_000,
    maxInFlightCallsPerSession: 16,
    initPerCaller: { burst: 60, perSecond: 10 },
    initPerSession: { burst: 10, perSecond: 1 },
    maxChildProcesses: 256,
  },
  sessions: {
    idleTimeoutMs: 1_800_000,
    maxLifetimeMs: 43_200_000,
    restart: { backoffMs: 1_000, maxBackoffMs: 30_000, crashBudget: 5, crashWindowMs: 300_000 },
  },
  stdio: {
    stopGraceMs: 2_000,
    maxMessageBytes: 16 * 1024 * 1024,
    maxStderrBytesPerSecond: 1024 * 1024,
  },
  outbound: { profile: "production", allowedOrigins: [] },
  credentialCheck: { timeoutMs: 5_000, maxResponseBytes: 65_536 },
  tools: { defaultTimeoutMs: 60_000, maxTimeoutMs: 300_000, startTimeoutMs: 30_000 },
  builtin: { requestTimeoutMs: 30_000, maxResponseBytes: 1024 * 1024 },
  audit: { logToolArguments: false },
  tracing: {
    enabled: false,
    otlpEndpoint: "http://127.0.0.1:4318/v1/traces",
    serviceName: "mcp-client-server",
    sampleRatio: 1,
  },
  log: { level: "info" },
  mcpServers: { builtin: { type: "builtin" } },
};

describe("loadConfig: files", () => {
  it("returns every documented default without a file", async () => {
    expect(await loadConfig({ env: {} })).toEqual(defaults);
  });

  it("treats an empty file and null sections as defaults", async () => {
    expect(await loadConfig({ file: await write(""), env: {} })).toEqual(defaults);
    const file = await write("server:\n  # port: 1\nlog:\nmcpServers:\n");
    expect(await loadConfig({ file, env: {} })).toEqual(defaults);
  });

  it("reads YAML and normalizes Claude Desktop server entries", async () => {
    const file = await write(`
server: { port: 9000, tls: { certFile: c.pem, keyFile: k.pem } }
log: { level: debug }
mcpServers:
  github:
    command: npx
    args: ["-y", "@modelcontextprotocol/server-github"]
    env: { GITHUB_TOKEN: "\${jwtToken}" }
  remote: { url: "https://mcp.example.com/mcp", headers: { Authorization: "Bearer \${jwtToken}" } }
  streamable: { type: streamable-http, url: "http://127.0.0.1:3000/mcp" }
  local: { type: stdio, command: ./server, cwd: /srv }
  own: { type: builtin }
`);
    const config = await loadConfig({ file, env: {} });
    expect(config.server).toEqual({
      ...defaults.server,
      port: 9000,
      tls: { certFile: "c.pem", keyFile: "k.pem" },
    });
    expect(config.log.level).toBe("debug");
    expect(config.mcpServers).toEqual({
      github: {
        type: "stdio",
        command: "npx",
        args: ["-y", "@modelcontextprotocol/server-github"],
        env: { GITHUB_TOKEN: "${jwtToken}" },
      },
      remote: {
        type: "http",
        url: "https://mcp.example.com/mcp",
        headers: { Authorization: "Bearer ${jwtToken}" },
      },
      streamable: { type: "http", url: "http://127.0.0.1:3000/mcp", headers: {} },
      local: { type: "stdio", command: "./server", args: [], env: {}, cwd: "/srv" },
      own: { type: "builtin" },
    });
  });

  it("reads JSON, choosing the parser by content rather than by extension", async () => {
    const json = JSON.stringify({
      tools: { defaultTimeoutMs: 1000 },
      mcpServers: { a: { command: "x" } },
    });
    const fromYamlName = await loadConfig({ file: await write(json, "json-in.yaml"), env: {} });
    expect(fromYamlName.tools.defaultTimeoutMs).toBe(1000);
    expect(fromYamlName.mcpServers).toEqual({
      a: { type: "stdio", command: "x", args: [], env: {} },
    });
    const fromJsonName = await loadConfig({
      file: await write("log:\n  level: warn\n", "yaml-in.json"),
      env: {},
    });
    expect(fromJsonName.log.level).toBe("warn");
  });

  it("rejects a missing file with a ConfigError naming it", async () => {
    const file = join(dir, "does-not-exist.yaml");
    const error = await configError(loadConfig({ file, env: {} }));
    expect(error.file).toBe(file);
    expect(error.message).toContain(file);
    expect(error.problems).toEqual(["cannot read file: no such file"]);
  });

  it("rejects YAML syntax errors and duplicate keys with a ConfigError naming the file", async () => {
    const file = await write("server:\n  port: [1, 2\n");
    const error = await configError(loadConfig({ file, env: {} }));
    expect(error.message).toContain(file);
    expect(error.problems[0]).toMatch(/^syntax error: /);
    const duplicate = await write('{"log": {"level": "info"}, "log": {}}');
    const dupError = await configError(loadConfig({ file: duplicate, env: {} }));
    expect(dupError.problems.join("\n")).toMatch(/syntax error: .*unique/i);
  });
});

describe("loadConfig: overrides", () => {
  const env = {
    MCP_CLIENT_SERVER_HOST: "0.0.0.0",
    MCP_CLIENT_SERVER_PORT: "7000",
    MCP_CLIENT_SERVER_LOG_LEVEL: "trace",
  };

  it("lets env beat the file", async () => {
    const file = await write("server: { host: file.local, port: 1 }\nlog: { level: error }\n");
    const config = await loadConfig({ file, env });
    expect(config.server.host).toBe("0.0.0.0");
    expect(config.server.port).toBe(7000);
    expect(config.log.level).toBe("trace");
  });

  it("lets the command line beat env and file", async () => {
    const file = await write("server: { host: file.local, port: 1 }\n");
    const config = await loadConfig({ file, env, overrides: { host: "cli.local", port: 0 } });
    expect(config.server).toMatchObject({ host: "cli.local", port: 0 });
    expect(config.log.level).toBe("trace");
  });

  it("ignores empty env values and reads process.env by default", async () => {
    const file = await write("server: { port: 1234 }\n");
    expect((await loadConfig({ file, env: { MCP_CLIENT_SERVER_PORT: "" } })).server.port).toBe(
      1234,
    );
    vi.stubEnv("MCP_CLIENT_SERVER_PORT", "4321");
    try {
      expect((await loadConfig({ file })).server.port).toBe(4321);
    } finally {
      vi.unstubAllEnvs();
    }
  });

  it.each([
    ["MCP_CLIENT_SERVER_PORT", "80a"],
    ["MCP_CLIENT_SERVER_PORT", "0x50"],
    ["MCP_CLIENT_SERVER_PORT", "65536"],
    ["MCP_CLIENT_SERVER_LOG_LEVEL", "verbose"],
    ["MCP_CLIENT_SERVER_HOST", "two words"],
  ])("names the variable when %s=%s is invalid", async (name, value) => {
    const error = await configError(loadConfig({ env: { [name]: value } }));
    expect(error.problems).toHaveLength(1);
    expect(error.problems[0]).toMatch(new RegExp(`^${name}: `));
  });

  it("names the flag when a command-line override is invalid", async () => {
    const error = await configError(loadConfig({ env: {}, overrides: { port: 70000 } }));
    expect(error.problems).toEqual(["--port: must be an integer from 0 to 65535"]);
  });

  it("reports file and env problems together", async () => {
    const file = await write("server: { port: -1 }\n");
    const error = await configError(
      loadConfig({ file, env: { MCP_CLIENT_SERVER_LOG_LEVEL: "x" } }),
    );
    expect(error.problems.map((problem) => problem.split(":")[0])).toEqual([
      "server.port",
      "MCP_CLIENT_SERVER_LOG_LEVEL",
    ]);
  });
});
