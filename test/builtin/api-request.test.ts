import { afterEach, beforeEach, describe, expect, it } from "vitest";
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
    mcp = await connectBuiltin(mode, upstream.apiUrl, {
      requestTimeoutMs: 5_000,
      maxResponseBytes: 1024,
    });
  });

  afterEach(async () => {
    await mcp.close();
    await upstream.close();
  });

  describe("api_request", () => {
    it("sends a GET with query under the base path and returns the parsed JSON", async () => {
      upstream.handle((_request, response) => sendJson(response, 200, { id: 42 }));
      const result = await mcp.call("api_request", {
        path: "items/42",
        query: { q: "a b&c", page: "2" },
      });
      const expected = { status: 200, body: { id: 42 }, truncated: false };
      expect(result.isError).toBeFalsy();
      expect(result.structuredContent).toEqual(expected);
      expect(JSON.parse(onlyText(result))).toEqual(expected);
      expect(upstream.requests).toHaveLength(1);
      const seen = new URL(upstream.requests[0]?.path ?? "", "http://x");
      expect(upstream.requests[0]?.method).toBe("GET");
      expect(seen.pathname).toBe("/base/v1/items/42");
      expect(Object.fromEntries(seen.searchParams)).toEqual({ q: "a b&c", page: "2" });
      expect(upstream.requests[0]?.headers.authorization).toBe(`Bearer ${canary}`);
    });

    it("sends a POST with a JSON body", async () => {
      upstream.handle((request, response) => sendJson(response, 201, JSON.parse(request.body)));
      const body = { name: "x", tags: ["a", 1, null], nested: { ok: true } };
      const result = await mcp.call("api_request", { method: "POST", path: "/items", body });
      expect(result.structuredContent).toEqual({ status: 201, body, truncated: false });
      expect(upstream.requests[0]?.method).toBe("POST");
      expect(upstream.requests[0]?.path).toBe("/base/v1/items");
      expect(upstream.requests[0]?.headers["content-type"]).toBe("application/json");
      expect(JSON.parse(upstream.requests[0]?.body ?? "")).toEqual(body);
    });

    it("returns a non-2xx response as a result marked isError", async () => {
      upstream.handle((_request, response) => sendJson(response, 404, { detail: "no such item" }));
      const result = await mcp.call("api_request", { method: "DELETE", path: "items/7" });
      expect(result.isError).toBe(true);
      expect(result.structuredContent).toEqual({
        status: 404,
        body: { detail: "no such item" },
        truncated: false,
      });
      expect(upstream.requests[0]?.method).toBe("DELETE");
    });

    it("returns a non-JSON body as text", async () => {
      upstream.handle((_request, response) => {
        response.writeHead(200, { "Content-Type": "text/plain" });
        response.end('{"looks":"like json"}');
      });
      const result = await mcp.call("api_request", { path: "text" });
      expect(result.structuredContent).toEqual({
        status: 200,
        body: '{"looks":"like json"}',
        truncated: false,
      });
    });

    it("cuts a large body at maxResponseBytes and marks it truncated", async () => {
      upstream.handle((_request, response) =>
        sendJson(response, 200, { data: "x".repeat(10_000) }),
      );
      const result = await mcp.call("api_request", { path: "big" });
      expect(result.structuredContent?.truncated).toBe(true);
      const body = result.structuredContent?.body;
      expect(typeof body).toBe("string");
      expect(Buffer.byteLength(body as string)).toBe(1024);
    });

    it("redacts the token when the API echoes it back", async () => {
      upstream.handle((request, response) => {
        // The second copy spells one letter as a JSON escape, as some encoders do.
        const escaped = JSON.stringify(canary).replace("C", "\\u0043");
        response.writeHead(200, { "Content-Type": "application/json" });
        response.end(`{"headers":${JSON.stringify(request.headers)},"escaped":${escaped}}`);
      });
      // The harness fails the call if the token shows up anywhere in the result.
      const result = await mcp.call("api_request", { path: "echo" });
      expect(result.structuredContent?.status).toBe(200);
      expect(upstream.requests).toHaveLength(1);
    });

    it.each([
      "http://evil",
      "https://evil.example/x",
      "../x",
      "a/../../x",
      "%2e%2e/x",
      "//evil/x",
      "x?token=leak",
    ])("refuses path %j without sending anything", async (path) => {
      const result = await mcp.call("api_request", { path });
      expect(result.isError).toBe(true);
      expect(onlyText(result)).toMatch(/^Refused: /);
      expect(onlyText(result)).not.toContain("evil");
      expect(onlyText(result)).not.toContain("leak");
      expect(upstream.requests).toHaveLength(0);
    });

    it("refuses a body with GET without sending anything", async () => {
      const result = await mcp.call("api_request", { path: "items", body: { a: 1 } });
      expect(result.isError).toBe(true);
      expect(upstream.requests).toHaveLength(0);
    });

    it("reports a timeout as a safe isError result", async () => {
      await mcp.close();
      mcp = await connectBuiltin(mode, upstream.apiUrl, {
        requestTimeoutMs: 200,
        maxResponseBytes: 1024,
      });
      upstream.handle(() => undefined);
      const result = await mcp.call("api_request", { path: "slow", query: { key: "leak" } });
      expect(result.isError).toBe(true);
      expect(result.structuredContent).toBeUndefined();
      expect(onlyText(result)).not.toMatch(/leak|127\.0\.0\.1|slow/);
    });
  });
});
