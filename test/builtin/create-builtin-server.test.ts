import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { closedPort } from "../support/loopback-port.js";
import { sendJson } from "../support/loopback-server.js";
import {
  type BuiltinHarness,
  builtinModes,
  canary,
  connectBuiltin,
  onlyText,
  startUpstream,
  type Upstream,
} from "./harness.js";

describe.each(builtinModes)("built-in tools, %s", (mode) => {
  let upstream: Upstream;
  let mcp: BuiltinHarness;

  beforeEach(async () => {
    upstream = await startUpstream();
    mcp = await connectBuiltin(mode, upstream.apiUrl);
  });

  afterEach(async () => {
    await mcp.close();
    await upstream.close();
  });

  async function reconnect(apiUrl: URL, requestTimeoutMs = 5_000): Promise<void> {
    await mcp.close();
    mcp = await connectBuiltin(mode, apiUrl, { requestTimeoutMs, maxResponseBytes: 1024 });
  }

  describe("listTools", () => {
    it("lists the three tools with their schemas and hints", async () => {
      const tools = await mcp.listTools();
      expect(tools.map((tool) => tool.name).sort()).toEqual([
        "api_request",
        "echo",
        "validate_settings",
      ]);
      const validate = tools.find((tool) => tool.name === "validate_settings");
      expect(validate?.inputSchema.type).toBe("object");
      expect(validate?.annotations).toMatchObject({ readOnlyHint: true, openWorldHint: true });
      const api = tools.find((tool) => tool.name === "api_request");
      expect(api?.title).toBe("API request");
      expect(api?.inputSchema.required).toEqual(["path"]);
      expect(api?.inputSchema.properties?.method).toMatchObject({
        enum: ["GET", "POST", "PUT", "PATCH", "DELETE"],
        default: "GET",
      });
      expect(Object.keys(api?.inputSchema.properties ?? {}).sort()).toEqual([
        "body",
        "method",
        "path",
        "query",
      ]);
      expect(api?.outputSchema?.required?.slice().sort()).toEqual(["body", "status", "truncated"]);
      expect(api?.annotations).toMatchObject({ readOnlyHint: false, openWorldHint: true });
    });
  });

  describe("echo", () => {
    it("returns its text as text and structured content, without calling the API", async () => {
      const text = 'héllo 👋 {"json": true}';
      const result = await mcp.call("echo", { text });
      expect(result).toMatchObject({
        content: [{ type: "text", text }],
        structuredContent: { text },
      });
      expect(result.isError).toBeFalsy();
      expect(upstream.requests).toHaveLength(0);
    });

    it("refuses a text over 64 KiB and a missing text as invalid arguments", async () => {
      // A tool execution error, so a model can correct its arguments.
      for (const args of [{ text: "x".repeat(65_537) }, {}]) {
        const result = await mcp.call("echo", args);
        expect(result.isError).toBe(true);
        expect(result.structuredContent).toBeUndefined();
      }
      const longest = "x".repeat(65_536);
      const ok = await mcp.call("echo", { text: longest });
      expect(ok.structuredContent).toEqual({ text: longest });
    });
  });

  describe("validate_settings", () => {
    it("posts under the base path with the bearer token and reports success", async () => {
      const result = await mcp.call("validate_settings");
      expect(onlyText(result)).toBe('{"status":"success"}');
      expect(result.isError).toBeFalsy();
      expect(upstream.requests).toHaveLength(1);
      expect(upstream.requests[0]).toMatchObject({
        method: "POST",
        path: "/base/v1/settings/validate",
      });
      expect(upstream.requests[0]?.headers.authorization).toBe(`Bearer ${canary}`);
    });

    it.each([
      [401, "401 Unauthorized"],
      [403, "403 Forbidden"],
      [500, "500 Internal Server Error"],
    ])("reports %i as an API error", async (status, reason) => {
      upstream.handle((_request, response) => sendJson(response, status, { detail: canary }));
      const result = await mcp.call("validate_settings");
      expect(onlyText(result)).toBe(
        `{"error":"Connection test failed: ${reason}","error_type":"API_ERROR","status":"error"}`,
      );
      expect(result.isError).toBe(true);
    });

    it("reports a timeout as an API error with a short reason", async () => {
      await reconnect(upstream.apiUrl, 200);
      upstream.handle(() => undefined);
      const result = await mcp.call("validate_settings");
      expect(result.isError).toBe(true);
      const parsed = JSON.parse(onlyText(result)) as Record<string, string>;
      expect(Object.keys(parsed)).toEqual(["error", "error_type", "status"]);
      expect(parsed).toMatchObject({ error_type: "API_ERROR", status: "error" });
      expect(parsed.error).toMatch(/^Connection test failed: \S/);
    });

    it("reports an unreachable API without naming its address", async () => {
      await reconnect(new URL(`http://127.0.0.1:${await closedPort()}/base/v1`));
      const result = await mcp.call("validate_settings");
      expect(result.isError).toBe(true);
      const text = onlyText(result);
      expect(JSON.parse(text)).toMatchObject({ error_type: "API_ERROR", status: "error" });
      expect(text).toMatch(/^\{"error":"Connection test failed: \S/);
      expect(text).not.toContain("127.0.0.1");
    });
  });
});
