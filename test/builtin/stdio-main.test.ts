import { type ChildProcess, spawn } from "node:child_process";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { sendJson } from "../support/loopback-server.js";
import { builtinBin as bin, requireBuilt } from "../support/repo-paths.js";
import { canary, onlyText, startUpstream, type Upstream } from "./harness.js";

// `npm test` builds first (pretest); the suite runs the compiled bin as users do.

let upstream: Upstream;
let client: Client | undefined;
let child: ChildProcess | undefined;

beforeAll(() => requireBuilt(bin));

beforeEach(async () => {
  upstream = await startUpstream();
});

afterEach(async () => {
  await client?.close();
  child?.kill();
  client = undefined;
  child = undefined;
  await upstream.close();
});

function exitOf(process: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => process.once("exit", (code) => resolve(code)));
}

describe("stdio bin", () => {
  it("serves both tools over stdio with the token from the environment", async () => {
    upstream.handle((request, response) =>
      sendJson(response, 200, { path: request.path, auth: request.headers.authorization }),
    );
    client = new Client({ name: "test", version: "0.0.0" });
    await client.connect(
      new StdioClientTransport({
        command: process.execPath,
        args: [bin],
        env: {
          API_BASE_URL: upstream.apiUrl.href,
          API_TOKEN: canary,
          API_OUTBOUND_PROFILE: "development",
        },
      }),
    );
    const { tools } = await client.listTools();
    expect(tools.map((tool) => tool.name).sort()).toEqual([
      "api_request",
      "echo",
      "validate_settings",
    ]);

    const validate = (await client.callTool({ name: "validate_settings" })) as CallToolResult;
    expect(onlyText(validate)).toBe('{"status":"success"}');
    const api = (await client.callTool({
      name: "api_request",
      arguments: { path: "items", query: { a: "1" } },
    })) as CallToolResult;
    expect(api.structuredContent).toEqual({
      status: 200,
      body: { path: "/base/v1/items?a=1", auth: "Bearer [redacted]" },
      truncated: false,
    });
    expect(upstream.requests.map((request) => request.path)).toEqual([
      "/base/v1/settings/validate",
      "/base/v1/items?a=1",
    ]);
    expect(upstream.requests.every((r) => r.headers.authorization === `Bearer ${canary}`)).toBe(
      true,
    );
    expect(JSON.stringify([validate, api])).not.toContain(canary);
  });

  it("exits 2 with one line on stderr when a variable is missing", async () => {
    child = spawn(process.execPath, [bin], {
      env: { API_TOKEN: canary },
      stdio: ["pipe", "pipe", "pipe"],
    });
    let stderr = "";
    child.stderr?.on("data", (chunk: Buffer) => {
      stderr += chunk.toString("utf8");
    });
    expect(await exitOf(child)).toBe(2);
    expect(stderr).toMatch(/^[^\n]*API_BASE_URL[^\n]*\n$/);
    expect(stderr).not.toContain(canary);
  });

  it("exits 0 when stdin ends, even with a request in flight", async () => {
    upstream.handle(() => undefined);
    child = spawn(process.execPath, [bin], {
      env: {
        API_BASE_URL: upstream.apiUrl.href,
        API_TOKEN: canary,
        API_OUTBOUND_PROFILE: "development",
      },
      stdio: ["pipe", "pipe", "inherit"],
    });
    const exited = exitOf(child);
    const send = (message: object) => child?.stdin?.write(`${JSON.stringify(message)}\n`);
    send({
      jsonrpc: "2.0",
      id: 1,
      method: "initialize",
      params: {
        protocolVersion: "2025-06-18",
        capabilities: {},
        clientInfo: { name: "t", version: "0" },
      },
    });
    send({ jsonrpc: "2.0", method: "notifications/initialized" });
    send({ jsonrpc: "2.0", id: 2, method: "tools/call", params: { name: "validate_settings" } });
    await expect.poll(() => upstream.requests.length, { timeout: 5_000 }).toBe(1);
    const started = Date.now();
    child.stdin?.end();
    expect(await exited).toBe(0);
    // The upstream never answers and the default timeout is 30 s.
    expect(Date.now() - started).toBeLessThan(5_000);
  });
});

describe("stdio bin outbound guard", () => {
  /** Connects an SDK client to the bin with the upstream's URL, the canary token and `env`. */
  async function connectBin(env: Record<string, string>): Promise<Client> {
    const connected = new Client({ name: "test", version: "0.0.0" });
    client = connected;
    await connected.connect(
      new StdioClientTransport({
        command: process.execPath,
        args: [bin],
        env: { API_BASE_URL: upstream.apiUrl.href, API_TOKEN: canary, ...env },
      }),
    );
    return connected;
  }

  const blockedText = "URL not allowed by the outbound policy";

  it("refuses a loopback API under the default production profile, without connecting", async () => {
    const server = await connectBin({});
    const validate = (await server.callTool({ name: "validate_settings" })) as CallToolResult;
    expect(validate.isError).toBe(true);
    expect(onlyText(validate)).toContain(blockedText);
    const api = (await server.callTool({
      name: "api_request",
      arguments: { path: "items" },
    })) as CallToolResult;
    expect(api.isError).toBe(true);
    expect(JSON.stringify(api)).toContain(blockedText);
    expect(upstream.connections()).toBe(0);
    expect(upstream.requests).toHaveLength(0);
    expect(JSON.stringify([validate, api])).not.toContain(canary);
  });

  it("refuses it when API_ALLOWED_ORIGINS lists only another origin", async () => {
    // The same port on another host, and the same host and port over https.
    const { port } = upstream.apiUrl;
    const others = `http://127.0.0.2:${port},https://127.0.0.1:${port}`;
    const server = await connectBin({ API_ALLOWED_ORIGINS: others });
    const validate = (await server.callTool({ name: "validate_settings" })) as CallToolResult;
    expect(validate.isError).toBe(true);
    expect(onlyText(validate)).toContain(blockedText);
    expect(upstream.connections()).toBe(0);
  });

  it.each([
    ["API_OUTBOUND_PROFILE=development", () => ({ API_OUTBOUND_PROFILE: "development" })],
    [
      "API_ALLOWED_ORIGINS naming the API's origin",
      () => ({
        API_ALLOWED_ORIGINS: ` https://api.example, ${upstream.apiUrl.origin} `,
      }),
    ],
  ])("reaches the loopback API with %s", async (_name, env) => {
    const server = await connectBin(env());
    const validate = (await server.callTool({ name: "validate_settings" })) as CallToolResult;
    expect(onlyText(validate)).toBe('{"status":"success"}');
    expect(upstream.requests.map((request) => request.path)).toEqual([
      "/base/v1/settings/validate",
    ]);
  });

  it.each([
    ["API_OUTBOUND_PROFILE", { API_OUTBOUND_PROFILE: "SECRET-profile" }],
    ["API_OUTBOUND_PROFILE", { API_OUTBOUND_PROFILE: "Development" }],
    ["API_ALLOWED_ORIGINS", { API_ALLOWED_ORIGINS: "https://SECRET.example/path" }],
    ["API_ALLOWED_ORIGINS", { API_ALLOWED_ORIGINS: "https://ok.example,SECRET" }],
  ])("exits 2 with one stderr line naming %s for an invalid value", async (name, env) => {
    child = spawn(process.execPath, [bin], {
      env: { API_BASE_URL: upstream.apiUrl.href, API_TOKEN: canary, ...env },
      stdio: ["pipe", "pipe", "pipe"],
    });
    let stderr = "";
    child.stderr?.on("data", (chunk: Buffer) => {
      stderr += chunk.toString("utf8");
    });
    expect(await exitOf(child)).toBe(2);
    expect(stderr).toMatch(new RegExp(`^[^\\n]*${name}[^\\n]*\\n$`));
    expect(stderr).not.toContain("SECRET");
    expect(stderr).not.toContain(canary);
    expect(upstream.connections()).toBe(0);
  });
});
