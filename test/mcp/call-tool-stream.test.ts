import { Code } from "@connectrpc/connect";
import { beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { McpServerConfig } from "../../src/config/types.js";
import { bearer } from "../support/bearer.js";
import { nodeServer } from "../support/node-server-config.js";
import { rpcFailure } from "../support/rpc-failure.js";
import {
  checkLongRunningTool,
  collectTimed,
  expectLongRunningStream,
  longRunningTool,
} from "../support/tool-stream.js";
import { waitFor } from "../support/wait.js";
import { cancellationOf, makeJwt, paths, toolCalls, useMcpHarness } from "./harness.js";

const sessionId = "s-stream";
const everything = nodeServer(paths.everything, {}, ["stdio"]);

const mcp = useMcpHarness();
const { events } = mcp;
let token: string;

beforeAll(checkLongRunningTool);

beforeEach(() => {
  token = makeJwt();
});

const fixture = (): McpServerConfig =>
  nodeServer(paths.stdioFixture, { FIXTURE_EVENTS: events.path });

async function open(servers: Record<string, McpServerConfig>) {
  const { client } = await mcp.open(servers, sessionId, token);
  return client;
}

describe("CallToolStream against server-everything over stdio", () => {
  it("streams each progress notification as it arrives, then the result", async () => {
    const client = await open({ everything });
    const stream = client.callToolStream(
      { sessionId, name: longRunningTool, arguments: { duration: 1, steps: 5 } },
      bearer(token),
    );
    expectLongRunningStream(await collectTimed(stream), 1, 5);
  });

  it("ends with DEADLINE_EXCEEDED MCP_TIMEOUT after the progress sent before the timeout", async () => {
    const client = await open({ everything });
    const seen: string[] = [];
    const stream = client.callToolStream(
      {
        sessionId,
        name: longRunningTool,
        arguments: { duration: 3, steps: 6 },
        timeout: { seconds: 1n, nanos: 600_000_000 },
      },
      bearer(token),
    );
    const failure = await rpcFailure(
      (async () => {
        for await (const message of stream) seen.push(message.event.case ?? "none");
      })(),
    );
    expect(failure.code).toBe(Code.DeadlineExceeded);
    expect(failure.reason).toBe("MCP_TIMEOUT");
    // A step every 500 ms: progress came before the timeout, and did not extend it.
    expect(seen.length).toBeGreaterThan(0);
    expect(seen.length).toBeLessThan(6);
    expect(new Set(seen)).toEqual(new Set(["progress"]));
  });
});

describe("CallToolStream errors", () => {
  it("ends the stream with NOT_FOUND SESSION_NOT_FOUND for an unknown session", async () => {
    const client = await open({ fixture: fixture() });
    const stream = client.callToolStream({ sessionId: "nobody", name: "sleep" }, bearer(token));
    const failure = await rpcFailure(collectTimed(stream));
    expect(failure.code).toBe(Code.NotFound);
    expect(failure.reason).toBe("SESSION_NOT_FOUND");
  });

  it("ends the stream with UNAUTHENTICATED SESSION_CREDENTIALS_MISMATCH without the session's JWT", async () => {
    const client = await open({ fixture: fixture() });
    const stream = client.callToolStream({ sessionId, name: "sleep" }, bearer(makeJwt("other")));
    const failure = await rpcFailure(collectTimed(stream));
    expect(failure.code).toBe(Code.Unauthenticated);
    expect(failure.reason).toBe("SESSION_CREDENTIALS_MISMATCH");
    expect(toolCalls(events, "sleep")).toEqual([]);
  });

  it("ends the stream with NOT_FOUND TOOL_NOT_FOUND for a tool no server has", async () => {
    const client = await open({ fixture: fixture() });
    const stream = client.callToolStream({ sessionId, name: "no-such-tool" }, bearer(token));
    const failure = await rpcFailure(collectTimed(stream));
    expect(failure.code).toBe(Code.NotFound);
    expect(failure.reason).toBe("TOOL_NOT_FOUND");
    expect(failure.metadata.tool).toBe("no-such-tool");
  });

  it("refuses a missing tool name with INVALID_ARGUMENT MISSING_PARAMETERS", async () => {
    const client = await open({ fixture: fixture() });
    const failure = await rpcFailure(
      collectTimed(client.callToolStream({ sessionId, name: "" }, bearer(token))),
    );
    expect(failure.code).toBe(Code.InvalidArgument);
    expect(failure.reason).toBe("MISSING_PARAMETERS");
  });
});

describe("CallToolStream requests and cancellation", () => {
  it("asks for progress with a progressToken; CallTool does not", async () => {
    const client = await open({ fixture: fixture() });
    await client.callTool({ sessionId, name: "sleep", arguments: { ms: 1 } }, bearer(token));
    const seen = await collectTimed(
      client.callToolStream({ sessionId, name: "sleep", arguments: { ms: 1 } }, bearer(token)),
    );
    expect(seen.map((s) => s.event.case)).toEqual(["result"]);
    const [unary, streamed] = toolCalls(events, "sleep");
    expect(unary?.params._meta?.progressToken).toBeUndefined();
    expect(streamed?.params._meta?.progressToken).toEqual(expect.any(String));
  });

  it("cancelling the stream sends the server notifications/cancelled for that request", async () => {
    const client = await open({ fixture: fixture() });
    const abort = new AbortController();
    const stream = client.callToolStream(
      { sessionId, name: "sleep", arguments: { ms: 10_000 } },
      { ...bearer(token), signal: abort.signal },
    );
    const reading = rpcFailure(collectTimed(stream));
    const call = await waitFor(() => toolCalls(events, "sleep")[0], "the sleep call to arrive");
    abort.abort();
    expect((await reading).code).toBe(Code.Canceled);
    await cancellationOf(events, call);
    await waitFor(
      () => events.read().find((e) => e.event === "aborted" && e.tool === "sleep"),
      "the fixture's sleep to be aborted",
    );
    // The session goes on.
    const again = await client.callTool(
      { sessionId, name: "sleep", arguments: { ms: 1 } },
      bearer(token),
    );
    expect(again.content[0]?.kind.value).toMatchObject({ text: "slept" });
  });
});
