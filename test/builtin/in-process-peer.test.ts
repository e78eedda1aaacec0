import { getEventListeners } from "node:events";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js";
import {
  type CallToolResult,
  ErrorCode,
  ListToolsResultSchema,
  McpError,
} from "@modelcontextprotocol/sdk/types.js";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import * as z from "zod";
import type { BuiltinTool } from "../../src/builtin/builtin-tool.js";
import { createBuiltinServer } from "../../src/builtin/create-builtin-server.js";
import { createInProcessPeer } from "../../src/builtin/in-process-peer.js";
import type { ToolPeer } from "../../src/mcp/tool-peer.js";
import { createNodeHttpClient } from "../../src/outbound/node-http-client.js";
import { canary, startUpstream, type Upstream } from "./harness.js";

// What the in-process peer adds to the tools: the MCP shape of the listing,
// and the limits of a call (timeout, cancel, close). The tools' own results
// are checked both ways in create-builtin-server and api-request tests.

// Far above every wait here: an upstream request that ends did so because the call ended.
const limits = { requestTimeoutMs: 60_000, maxResponseBytes: 1024 };
let upstream: Upstream;
let peer: ToolPeer;

beforeEach(async () => {
  upstream = await startUpstream();
  peer = createInProcessPeer({
    apiUrl: upstream.apiUrl,
    jwtToken: canary,
    http: createNodeHttpClient(),
    ...limits,
  });
});

afterEach(async () => {
  await peer.close();
  await upstream.close();
});

const open = () => ({ signal: new AbortController().signal, timeoutMs: 30_000 });

/**
 * Makes the upstream hang; the returned function resolves once the upstream
 * saw the request's connection close before an answer, and fails the test
 * when that takes over 2 s.
 */
function hangUpstream(): () => Promise<void> {
  const closed = new Promise<void>((resolve) => {
    upstream.handle((_request, response) => response.on("close", () => resolve()));
  });
  return () =>
    Promise.race([
      closed,
      new Promise<void>((_, reject) =>
        setTimeout(() => reject(new Error("the upstream request was not aborted")), 2_000),
      ),
    ]);
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => expect.unreachable("expected a rejection"),
    (error: unknown) => error,
  );
}

describe("in-process built-in tools", () => {
  it("list exactly what the SDK server lists for the same tools", async () => {
    const server = createBuiltinServer({
      apiUrl: upstream.apiUrl,
      jwtToken: canary,
      http: createNodeHttpClient(),
      ...limits,
    });
    const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
    await server.connect(serverSide);
    const client = new Client({ name: "test", version: "0.0.0" });
    await client.connect(clientSide);
    try {
      // `request`, as the session lists a stdio server: no client-side schema compiling.
      const overMcp = await client.request(
        { method: "tools/list", params: {} },
        ListToolsResultSchema,
      );
      const inProcess = await peer.listTools(undefined, open());
      expect(inProcess.nextCursor).toBeUndefined();
      expect(JSON.stringify(inProcess.tools)).toBe(JSON.stringify(overMcp.tools));
    } finally {
      await client.close();
    }
  });

  it("ends a call at its timeout with -32001 and aborts the upstream request", async () => {
    const aborted = hangUpstream();
    const started = performance.now();
    const error = await rejection(
      peer.callTool("api_request", { path: "slow" }, { ...open(), timeoutMs: 200 }),
    );
    expect(error).toBeInstanceOf(McpError);
    expect((error as McpError).code).toBe(ErrorCode.RequestTimeout);
    expect(performance.now() - started).toBeGreaterThanOrEqual(190);
    await aborted();
    // The peer still serves calls after a timeout.
    const echo = await peer.callTool("echo", { text: "after" }, open());
    expect(echo.structuredContent).toEqual({ text: "after" });
  });

  it("ends a call with the caller's abort reason and aborts the upstream request", async () => {
    const aborted = hangUpstream();
    const caller = new AbortController();
    const call = peer.callTool(
      "api_request",
      { path: "slow" },
      { ...open(), signal: caller.signal },
    );
    await new Promise((resolve) => setTimeout(resolve, 50));
    const reason = new Error("caller went away");
    caller.abort(reason);
    expect(await rejection(call)).toBe(reason);
    await aborted();
  });

  it("refuses a call whose caller already aborted, without any request", async () => {
    const caller = new AbortController();
    const reason = new Error("gone");
    caller.abort(reason);
    expect(
      await rejection(peer.callTool("validate_settings", {}, { ...open(), signal: caller.signal })),
    ).toBe(reason);
    expect(upstream.requests).toHaveLength(0);
  });

  it("ends running calls with -32000 on close, and refuses calls after it", async () => {
    const aborted = hangUpstream();
    const call = peer.callTool("validate_settings", {}, open());
    await new Promise((resolve) => setTimeout(resolve, 50));
    await peer.close();
    const error = await rejection(call);
    expect((error as McpError).code).toBe(ErrorCode.ConnectionClosed);
    await aborted();
    const later = await rejection(peer.callTool("echo", { text: "x" }, open()));
    expect((later as McpError).code).toBe(ErrorCode.ConnectionClosed);
    const listing = await rejection(peer.listTools(undefined, open()));
    expect((listing as McpError).code).toBe(ErrorCode.ConnectionClosed);
  });

  it("answers bad arguments with an isError result and an unknown tool with -32602, sending nothing", async () => {
    for (const args of [{ method: "BREW", path: "x" }, {}]) {
      const result = await peer.callTool("api_request", args, open());
      expect(result.isError).toBe(true);
      expect(result.structuredContent).toBeUndefined();
    }
    const error = await rejection(peer.callTool("no_such_tool", {}, open()));
    expect((error as McpError).code).toBe(ErrorCode.InvalidParams);
    expect(upstream.requests).toHaveLength(0);
  });

  it("leaves no listener on the caller's signal after an answer, a timeout or an abort", async () => {
    const caller = new AbortController();
    await peer.callTool("echo", { text: "x" }, { ...open(), signal: caller.signal });
    hangUpstream();
    await rejection(
      peer.callTool("validate_settings", {}, { signal: caller.signal, timeoutMs: 50 }),
    );
    expect(getEventListeners(caller.signal, "abort")).toHaveLength(0);
    const call = peer.callTool("validate_settings", {}, { ...open(), signal: caller.signal });
    expect(getEventListeners(caller.signal, "abort")).toHaveLength(1);
    caller.abort(new Error("gone"));
    await rejection(call);
    expect(getEventListeners(caller.signal, "abort")).toHaveLength(0);
  });
});

describe("in-process tools that break their contract", () => {
  const options = {
    apiUrl: new URL("http://127.0.0.1:9/"),
    jwtToken: canary,
    http: createNodeHttpClient(),
    ...limits,
  };
  const base = {
    title: "t",
    description: "d",
    inputSchema: {},
    annotations: {},
  };
  let resolveLate: ((result: CallToolResult) => void) | undefined;
  const tools: BuiltinTool[] = [
    {
      ...base,
      name: "throws_at_once",
      run: () => {
        throw new Error(`boom ${canary}`);
      },
    },
    {
      ...base,
      name: "rejects",
      run: async () => {
        throw new Error(`boom ${canary}`);
      },
    },
    {
      ...base,
      name: "no_structured_content",
      outputSchema: { n: z.number() },
      run: async () => ({ content: [{ type: "text", text: "1" }] }),
    },
    {
      ...base,
      name: "wrong_structured_content",
      outputSchema: { n: z.number() },
      run: async () => ({ content: [], structuredContent: { n: "one" } }),
    },
    {
      ...base,
      name: "ignores_its_signal",
      run: () =>
        new Promise((resolve) => {
          resolveLate = resolve;
        }),
    },
  ];

  it("turns a throwing tool into an isError result with a fixed text", async () => {
    const peer = createInProcessPeer(options, tools);
    for (const name of ["throws_at_once", "rejects"]) {
      const result = await peer.callTool(name, {}, open());
      expect(result.isError).toBe(true);
      expect(JSON.stringify(result)).not.toContain(canary);
      expect(JSON.stringify(result)).not.toContain("boom");
    }
  });

  it("turns a result off its output schema into an isError result", async () => {
    const peer = createInProcessPeer(options, tools);
    for (const name of ["no_structured_content", "wrong_structured_content"]) {
      const result = await peer.callTool(name, {}, open());
      expect(result.isError).toBe(true);
      expect(result.structuredContent).toBeUndefined();
    }
  });

  it("ends a call whose tool ignores its signal at the timeout, and drops the late result", async () => {
    const peer = createInProcessPeer(options, tools);
    const error = await rejection(
      peer.callTool("ignores_its_signal", {}, { ...open(), timeoutMs: 100 }),
    );
    expect((error as McpError).code).toBe(ErrorCode.RequestTimeout);
    // Resolving afterwards changes nothing, and the peer goes on serving.
    resolveLate?.({ content: [{ type: "text", text: "late" }] });
    const after = peer.callTool("ignores_its_signal", {}, open());
    resolveLate?.({ content: [{ type: "text", text: "on time" }] });
    expect((await after).content).toEqual([{ type: "text", text: "on time" }]);
  });
});
