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
        env: { API_BASE_URL: upstream.apiUrl.href, API_TOKEN: canary },
      }),
    );
    const { tools } = await client.listTools();
    expect(tools.map((tool) => tool.name).sort()).toEqual(["api_request", "validate_settings"]);

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
      env: { API_BASE_URL: upstream.apiUrl.href, API_TOKEN: canary },
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
