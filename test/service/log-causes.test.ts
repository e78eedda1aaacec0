// biome-ignore-all lint/suspicious/noTemplateCurlyInString: config values hold literal ${name} placeholders.
import { Code } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { bearer } from "../support/bearer.js";
import { nodeServer } from "../support/node-server-config.js";
import { repoPath } from "../support/repo-paths.js";
import { appWithUpstream, expectRpcError, initSession, testConfig, useHarness } from "./harness.js";

const h = useHarness();

/** The log lines, parsed, that match every field of `fields`. */
function linesWith(logs: readonly string[], fields: Record<string, unknown>) {
  return logs
    .map((line) => JSON.parse(line) as Record<string, unknown>)
    .filter((entry) => Object.entries(fields).every(([key, value]) => entry[key] === value));
}

/** pino's number for the warn level. */
const warn = 40;

describe("log lines of failures carry their cause", () => {
  it("an Init whose stdio server command does not exist logs the spawn ENOENT", async () => {
    const missing = {
      type: "stdio",
      command: "/nonexistent/mcp-server-xyz",
      args: [],
      env: { TOKEN: "${jwtToken}" },
    } as const;
    const config = await testConfig({ mcpServers: { missing } });
    const { client, upstream, logs } = await appWithUpstream(h, config);
    const token = h.jwt();
    await expectRpcError(
      client.init({ sessionId: "s1", apiUrl: upstream.apiUrl, jwtToken: token }),
      Code.Internal,
      "MCP_SERVER_START_FAILED",
    );
    const [line, ...others] = linesWith(logs, {
      msg: "init failed",
      reason: "MCP_SERVER_START_FAILED",
    });
    expect(others).toEqual([]);
    expect(line).toMatchObject({ level: warn, session_id: "s1" });
    expect(JSON.stringify(line?.err)).toMatch(/ENOENT/);
    expect(JSON.stringify(line?.err)).toMatch(/spawn/);
    // The token templated into the server's env is in no line.
    expect(h.leaks()).toEqual([]);
  });

  it("a CallTool answered with a JSON-RPC error logs a warn line with MCP_ERROR and the error", async () => {
    const fixture = nodeServer(repoPath("test/mcp/fixtures/stdio-server.mjs"), {
      FIXTURE_TOKEN: "${jwtToken}",
    });
    const config = await testConfig({ mcpServers: { fixture } });
    const { client, upstream, logs } = await appWithUpstream(h, config);
    const token = h.jwt();
    await initSession(client, upstream, "s1", token);
    await expectRpcError(
      client.callTool({ sessionId: "s1", name: "boom" }, bearer(token)),
      Code.Internal,
      "MCP_ERROR",
    );
    const [line, ...others] = linesWith(logs, { reason: "MCP_ERROR" });
    expect(others).toEqual([]);
    expect(line).toMatchObject({
      level: warn,
      procedure: "CallTool",
      server: "fixture",
      mcp_code: "12345",
    });
    // The server's own error, with the token it echoed masked (the leak check
    // at cleanup fails on any copy of the token in any line).
    const cause = JSON.stringify(line?.err);
    expect(cause).toContain("12345");
    expect(cause).toContain("boom with [REDACTED]");
    expect(h.leaks()).toEqual([]);
  });
});
