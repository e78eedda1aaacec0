// biome-ignore-all lint/suspicious/noTemplateCurlyInString: config values hold literal ${name} placeholders.
import { Code } from "@connectrpc/connect";
import { beforeEach, describe, expect, it } from "vitest";
import type { McpServerConfig } from "../../src/config/types.js";
import { bearer } from "../support/bearer.js";
import { nodeServer } from "../support/node-server-config.js";
import { processGone } from "../support/process-gone.js";
import { rpcFailure } from "../support/rpc-failure.js";
import { waitFor } from "../support/wait.js";
import { cancellationOf, makeJwt, paths, toolCalls, useMcpHarness } from "./harness.js";

const sessionId = "s-errors";

const mcp = useMcpHarness();
const { upstream, events, start } = mcp;
let token: string;

beforeEach(() => {
  token = makeJwt();
});

function fixture(): McpServerConfig {
  return nodeServer(paths.stdioFixture, {
    FIXTURE_EVENTS: events.path,
    FIXTURE_TOKEN: "${jwtToken}",
  });
}

async function open(servers: Record<string, McpServerConfig> = { fixture: fixture() }) {
  const { client } = await mcp.open(servers, sessionId, token);
  return client;
}

/** The JSON-RPC id of the fixture's first `tools/call` for `tool`. */
function callId(tool: string): unknown {
  return toolCalls(events, tool)[0]?.id;
}

/** Waits until the fixture received `notifications/cancelled` for the call of `tool`. */
async function cancelledFor(tool: string): Promise<Record<string, unknown>> {
  const call = await waitFor(() => toolCalls(events, tool)[0], `the ${tool} call`);
  return cancellationOf(events, call);
}

const sleep5s = { sessionId, name: "sleep", arguments: { ms: 5_000 } };

describe("tool results and errors", () => {
  it("sends no cancellation for requests that were answered", async () => {
    const client = await open();
    await client.callTool({ sessionId, name: "fail" }, bearer(token));
    await client.listTools({ sessionId }, bearer(token));
    await client.callTool({ sessionId, name: "no-such-tool" }, bearer(token)).catch(() => {});
    // A later request on the same pipe: anything sent after the answers above arrives first.
    await client.callTool({ sessionId, name: "fail" }, bearer(token));
    const calls = events.read().filter((e) => e.method === "tools/call");
    expect(calls).toHaveLength(2);
    expect(events.read().filter((e) => e.method === "notifications/cancelled")).toEqual([]);
  });

  it("returns a tool result with isError as a normal response with is_error", async () => {
    const client = await open();
    const result = await client.callTool({ sessionId, name: "fail" }, bearer(token));
    expect(result.isError).toBe(true);
    expect(result.content[0]?.kind).toEqual({
      case: "text",
      value: expect.objectContaining({ text: "the tool failed on purpose" }),
    });
  });

  it("answers NOT_FOUND TOOL_NOT_FOUND for a tool no server has", async () => {
    const client = await open();
    const failure = await rpcFailure(
      client.callTool({ sessionId, name: "no-such-tool" }, bearer(token)),
    );
    expect(failure.code).toBe(Code.NotFound);
    expect(failure.reason).toBe("TOOL_NOT_FOUND");
    expect(failure.metadata.tool).toBe("no-such-tool");
    expect(callId("no-such-tool")).toBeUndefined();
  });

  it("answers INVALID_ARGUMENT TOOL_INVALID_ARGUMENTS when the server rejects arguments with -32602", async () => {
    const client = await open();
    const failure = await rpcFailure(
      client.callTool({ sessionId, name: "strict", arguments: { n: "x" } }, bearer(token)),
    );
    expect(failure.code).toBe(Code.InvalidArgument);
    expect(failure.reason).toBe("TOOL_INVALID_ARGUMENTS");
    expect(failure.metadata).toMatchObject({ server: "fixture", mcp_code: "-32602" });

    const ok = await client.callTool(
      { sessionId, name: "strict", arguments: { n: 21 } },
      bearer(token),
    );
    expect(ok.content[0]?.kind.value).toMatchObject({ text: "42" });
  });

  it("passes on structured content that does not match the tool's output schema as the server sent it", async () => {
    const client = await open();
    const { tools } = await client.listTools({ sessionId }, bearer(token));
    expect(tools.find((t) => t.name === "bad-output")?.outputSchema).toMatchObject({
      required: ["n"],
    });
    const result = await client.callTool({ sessionId, name: "bad-output" }, bearer(token));
    expect(result.isError).toBe(false);
    expect(result.structuredContent).toEqual({ n: "x" });
    expect(result.content[0]?.kind.value).toMatchObject({ text: '{"n":"x"}' });
  });

  it("passes on a result without structured content from a tool that declares an output schema", async () => {
    const client = await open();
    const result = await client.callTool({ sessionId, name: "no-structured" }, bearer(token));
    expect(result.isError).toBe(false);
    expect(result.structuredContent).toBeUndefined();
    expect(result.content[0]?.kind.value).toMatchObject({ text: "no structured content" });
  });

  it("answers INTERNAL MCP_ERROR with the JSON-RPC code, without the token the server echoed", async () => {
    const client = await open();
    const failure = await rpcFailure(client.callTool({ sessionId, name: "boom" }, bearer(token)));
    expect(failure.code).toBe(Code.Internal);
    expect(failure.reason).toBe("MCP_ERROR");
    expect(failure.metadata).toMatchObject({ server: "fixture", mcp_code: "12345" });
    expect(failure.error.message).not.toContain(token);
    expect(JSON.stringify(failure.metadata)).not.toContain(token);
  });

  it("rejects a timeout of zero or above the maximum with INVALID_TIMEOUT", async () => {
    const client = await open();
    for (const timeout of [
      { seconds: 0n, nanos: 0 },
      { seconds: 301n, nanos: 0 },
    ]) {
      const failure = await rpcFailure(
        client.callTool({ sessionId, name: "fail", timeout }, bearer(token)),
      );
      expect(failure.code).toBe(Code.InvalidArgument);
      expect(failure.reason).toBe("INVALID_TIMEOUT");
    }
    expect(callId("fail")).toBeUndefined();
  });
});

describe("timeouts and cancellation", () => {
  it("answers DEADLINE_EXCEEDED MCP_TIMEOUT after the request timeout and cancels the call in the server", async () => {
    const client = await open();
    const started = Date.now();
    const failure = await rpcFailure(
      client.callTool({ ...sleep5s, timeout: { seconds: 0n, nanos: 300_000_000 } }, bearer(token)),
    );
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(failure.code).toBe(Code.DeadlineExceeded);
    expect(failure.reason).toBe("MCP_TIMEOUT");
    expect(failure.metadata.server).toBe("fixture");
    await cancelledFor("sleep");
    await waitFor(() => events.read().find((e) => e.event === "aborted"), "the tool to abort");

    // A timeout is not a lost server: the session goes on.
    const after = await client.callTool({ sessionId, name: "fail" }, bearer(token));
    expect(after.isError).toBe(true);
  });

  it("forwards the caller's RPC deadline to the MCP call", async () => {
    const client = await open();
    const started = Date.now();
    const failure = await rpcFailure(
      client.callTool(sleep5s, { ...bearer(token), timeoutMs: 300 }),
    );
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(failure.code).toBe(Code.DeadlineExceeded);
    await cancelledFor("sleep");
  });

  it("forwards the caller's cancellation to the MCP call", async () => {
    const client = await open();
    const abort = new AbortController();
    const call = rpcFailure(client.callTool(sleep5s, { ...bearer(token), signal: abort.signal }));
    await waitFor(() => callId("sleep") !== undefined, "the call to reach the fixture");
    abort.abort();
    expect((await call).code).toBe(Code.Canceled);
    await cancelledFor("sleep");
  });
});

describe("a server that exits", () => {
  async function crashMidCall(client: Awaited<ReturnType<typeof open>>): Promise<unknown> {
    const firstPid = (await client.callTool({ sessionId, name: "info" }, bearer(token)))
      .structuredContent?.pid;
    expect(typeof firstPid).toBe("number");
    const crash = await rpcFailure(client.callTool({ sessionId, name: "crash" }, bearer(token)));
    expect(crash.code).toBe(Code.Unavailable);
    expect(crash.reason).toBe("MCP_SERVER_EXITED");
    expect(crash.metadata).toMatchObject({ server: "fixture", why: "exited", exit_code: "3" });
    return firstPid;
  }

  it("answers UNAVAILABLE MCP_SERVER_EXITED mid-call; the next call restarts the session after a fresh credential check", async () => {
    const client = await open();
    const firstPid = await crashMidCall(client);

    const validations = upstream.validations().length;
    const info = await client.callTool({ sessionId, name: "info" }, bearer(token));
    expect(upstream.validations()).toHaveLength(validations + 1);
    expect(info.structuredContent?.pid).toEqual(expect.any(Number));
    expect(info.structuredContent?.pid).not.toBe(firstPid);
    const { tools } = await client.listTools({ sessionId }, bearer(token));
    expect(tools.length).toBeGreaterThan(0);
    const reused = await client.init({ sessionId, apiUrl: upstream.apiUrl, jwtToken: token });
    expect(reused.reused).toBe(true);
    expect(upstream.validations()).toHaveLength(validations + 1);
  });

  it("restarts the session on the next Init after a crash", async () => {
    const client = await open();
    const firstPid = await crashMidCall(client);

    const validations = upstream.validations().length;
    const again = await client.init({ sessionId, apiUrl: upstream.apiUrl, jwtToken: token });
    expect(again.reused).toBe(false);
    expect(upstream.validations()).toHaveLength(validations + 1);
    const info = await client.callTool({ sessionId, name: "info" }, bearer(token));
    expect(info.structuredContent?.pid).not.toBe(firstPid);
  });

  it("does not restart for a caller without the session's token", async () => {
    const client = await open();
    await crashMidCall(client);
    const validations = upstream.validations().length;
    const stranger = await rpcFailure(
      client.callTool({ sessionId, name: "info" }, bearer(makeJwt("user-2"))),
    );
    expect(stranger.reason).toBe("SESSION_CREDENTIALS_MISMATCH");
    expect(upstream.validations()).toHaveLength(validations);
  });

  it("refuses a bad timeout with INVALID_TIMEOUT before restarting the session", async () => {
    const client = await open();
    await crashMidCall(client);
    const validations = upstream.validations().length;
    const timeout = { seconds: 0n, nanos: 0 };
    const failure = await rpcFailure(
      client.callTool({ sessionId, name: "info", timeout }, bearer(token)),
    );
    expect(failure.reason).toBe("INVALID_TIMEOUT");
    expect(upstream.validations()).toHaveLength(validations);
  });

  it("fails Init with INTERNAL MCP_SERVER_START_FAILED for a command that does not exist, leaving nothing running", async () => {
    const { client } = await start({
      fixture: fixture(),
      missing: { type: "stdio", command: "/nonexistent/mcp-server-xyz", args: [], env: {} },
    });
    const failure = await rpcFailure(
      client.init({ sessionId, apiUrl: upstream.apiUrl, jwtToken: token }),
    );
    expect(failure.code).toBe(Code.Internal);
    expect(failure.reason).toBe("MCP_SERVER_START_FAILED");
    expect(failure.metadata.server).toBe("missing");

    const list = await rpcFailure(client.listTools({ sessionId }, bearer(token)));
    expect(list.code).toBe(Code.NotFound);
    expect(list.reason).toBe("SESSION_NOT_FOUND");
    // The server that did start for this Init is torn down with it.
    const pids = new Set(events.read().map((e) => e.pid as number));
    expect(pids.size).toBe(1);
    for (const pid of pids) {
      await waitFor(() => processGone(pid), `fixture process ${pid} to exit`);
    }
  });
});
