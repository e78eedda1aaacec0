// biome-ignore-all lint/suspicious/noTemplateCurlyInString: config values hold literal ${name} placeholders.
import { Code } from "@connectrpc/connect";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { McpServerConfig } from "../../src/config/types.js";
import { bearer } from "../support/bearer.js";
import { rpcFailure } from "../support/rpc-failure.js";
import { waitFor } from "../support/wait.js";
import { type HttpMcpFixture, startHttpMcpServer } from "./fixtures/http-mcp-server.js";
import { makeJwt, type Service, startService, startUpstream, type Upstream } from "./harness.js";

let upstream: Upstream;
let fixture: HttpMcpFixture;
let service: Service | undefined;

beforeEach(async () => {
  upstream = await startUpstream();
  fixture = await startHttpMcpServer();
});

afterEach(async () => {
  await service?.app.close();
  service = undefined;
  await fixture.close();
  await upstream.close();
});

function remote(): Record<string, McpServerConfig> {
  return {
    remote: {
      type: "http",
      url: fixture.url,
      headers: { "x-api-token": "${jwtToken}", "x-session": "session ${sessionId}" },
    },
  };
}

function textOf(result: { content: { kind: { case?: string; value?: unknown } }[] }): string {
  const item = result.content[0];
  if (item?.kind.case !== "text") throw new Error(`expected a text item, got ${item?.kind.case}`);
  return (item.kind.value as { text: string }).text;
}

describe("Streamable HTTP server", () => {
  it("sends templated headers, lists and calls tools, and ends the MCP session on CloseSession", async () => {
    service = await startService(remote());
    const { client } = service;
    const token = makeJwt();
    await client.init({ sessionId: "s-http", apiUrl: upstream.apiUrl, jwtToken: token });

    const initialize = fixture.requests.find((r) => r.rpcMethod === "initialize");
    expect(initialize?.headers["x-api-token"]).toBe(token);
    expect(initialize?.headers["x-session"]).toBe("session s-http");
    expect(fixture.requests.every((r) => r.headers["x-api-token"] === token)).toBe(true);
    const [mcpSessionId] = fixture.sessionIds();
    expect(fixture.sessionIds()).toHaveLength(1);

    const { tools } = await client.listTools({ sessionId: "s-http" }, bearer(token));
    expect(tools.map((t) => t.name).sort()).toEqual(["add", "whoami"]);
    const add = tools.find((t) => t.name === "add");
    expect(add).toMatchObject({
      server: "remote",
      title: "Add",
      description: "Adds two numbers",
      inputSchema: { type: "object", properties: { a: { type: "number" }, b: { type: "number" } } },
      outputSchema: { type: "object", properties: { sum: { type: "number" } } },
      annotations: { readOnlyHint: true },
    });

    const sum = await client.callTool(
      { sessionId: "s-http", name: "add", arguments: { a: 2, b: 40 } },
      bearer(token),
    );
    expect(sum.structuredContent).toEqual({ sum: 42 });
    expect(textOf(sum)).toBe("42");
    const whoami = await client.callTool({ sessionId: "s-http", name: "whoami" }, bearer(token));
    expect(textOf(whoami)).toBe(mcpSessionId);

    const closed = await client.closeSession({ sessionId: "s-http" }, bearer(token));
    expect(closed.closed).toBe(true);
    const deletes = fixture.requests.filter((r) => r.method === "DELETE");
    expect(deletes.map((r) => r.sessionId)).toEqual([mcpSessionId]);
    expect(deletes[0]?.headers["x-api-token"]).toBe(token);
    await waitFor(() => fixture.sessionIds().length === 0, "the fixture's session map to empty");

    const after = await rpcFailure(client.listTools({ sessionId: "s-http" }, bearer(token)));
    expect(after.code).toBe(Code.NotFound);
    expect(after.reason).toBe("SESSION_NOT_FOUND");
  });

  it("gives each user session its own MCP session and headers, and app.close() ends them all", async () => {
    service = await startService(remote());
    const { client, app } = service;
    const alice = makeJwt("alice");
    const bob = makeJwt("bob");
    await client.init({ sessionId: "s-alice", apiUrl: upstream.apiUrl, jwtToken: alice });
    await client.init({ sessionId: "s-bob", apiUrl: upstream.apiUrl, jwtToken: bob });
    expect(fixture.sessionIds()).toHaveLength(2);

    const seen = new Map<string, string>();
    for (const r of fixture.requests) {
      if (r.sessionId !== undefined) seen.set(r.sessionId, String(r.headers["x-api-token"]));
    }
    const aliceMcp = textOf(
      await client.callTool({ sessionId: "s-alice", name: "whoami" }, bearer(alice)),
    );
    const bobMcp = textOf(
      await client.callTool({ sessionId: "s-bob", name: "whoami" }, bearer(bob)),
    );
    expect(aliceMcp).not.toBe(bobMcp);
    expect(seen.get(aliceMcp)).toBe(alice);
    expect(seen.get(bobMcp)).toBe(bob);

    await app.close();
    service = undefined;
    expect(
      fixture.requests
        .filter((r) => r.method === "DELETE")
        .map((r) => r.sessionId)
        .sort(),
    ).toEqual([aliceMcp, bobMcp].sort());
    await waitFor(() => fixture.sessionIds().length === 0, "every MCP session to end");
  });
});

describe("a Streamable HTTP server that goes away", () => {
  const sessionId = "s-gone";
  const add = { sessionId, name: "add", arguments: { a: 2, b: 40 } };

  async function expectExited(call: Promise<unknown>, server?: string): Promise<void> {
    const failure = await rpcFailure(call);
    expect(failure.code).toBe(Code.Unavailable);
    expect(failure.reason).toBe("MCP_SERVER_EXITED");
    if (server !== undefined) expect(failure.metadata.server).toBe(server);
  }

  it("answers UNAVAILABLE MCP_SERVER_EXITED once it is down; restarts back off, and the next call after it is back re-creates the session", async () => {
    service = await startService(remote());
    const { client } = service;
    const token = makeJwt();
    await client.init({ sessionId, apiUrl: upstream.apiUrl, jwtToken: token });
    expect((await client.callTool(add, bearer(token))).structuredContent).toEqual({ sum: 42 });

    const { port } = fixture;
    await fixture.close();
    await expectExited(client.callTool(add, bearer(token)), "remote");
    // The next call tries a restart, which fails while the server is down...
    const restart = await rpcFailure(client.callTool(add, bearer(token)));
    expect(restart.code).toBe(Code.Internal);
    expect(restart.reason).toBe("MCP_SERVER_START_FAILED");
    // ...and the one after that is told to wait rather than hammer it.
    const backoff = await rpcFailure(client.listTools({ sessionId }, bearer(token)));
    expect(backoff.code).toBe(Code.Unavailable);
    expect(backoff.reason).toBe("MCP_SERVER_BACKOFF");
    const retryAfterMs = Number(backoff.metadata.retry_after_ms);
    expect(retryAfterMs).toBeGreaterThan(0);
    expect(retryAfterMs).toBeLessThanOrEqual(1_000);

    fixture = await startHttpMcpServer({ port });
    await new Promise((resolve) => setTimeout(resolve, retryAfterMs));
    const validations = upstream.validations().length;
    expect((await client.callTool(add, bearer(token))).structuredContent).toEqual({ sum: 42 });
    expect(upstream.validations()).toHaveLength(validations + 1);
    expect(fixture.sessionIds()).toHaveLength(1);
    const { tools } = await client.listTools({ sessionId }, bearer(token));
    expect(tools.map((t) => t.name).sort()).toEqual(["add", "whoami"]);
    const reused = await client.init({ sessionId, apiUrl: upstream.apiUrl, jwtToken: token });
    expect(reused.reused).toBe(true);
  });

  it("answers UNAVAILABLE MCP_SERVER_EXITED when the server forgot the MCP session (404); the next call opens a new one", async () => {
    service = await startService(remote());
    const { client } = service;
    const token = makeJwt();
    await client.init({ sessionId, apiUrl: upstream.apiUrl, jwtToken: token });
    const whoami = { sessionId, name: "whoami" };
    const first = textOf(await client.callTool(whoami, bearer(token)));
    expect(fixture.sessionIds()).toEqual([first]);

    await fixture.expireSessions();
    const before = fixture.requests.length;
    const failure = await rpcFailure(client.callTool(whoami, bearer(token)));
    expect(failure.code).toBe(Code.Unavailable);
    expect(failure.reason).toBe("MCP_SERVER_EXITED");
    expect(failure.metadata).toMatchObject({ server: "remote", why: "connection_lost" });
    // The call did reach the server, with the session id it no longer knows.
    expect(
      fixture.requests
        .slice(before)
        .some((r) => r.rpcMethod === "tools/call" && r.sessionId === first),
    ).toBe(true);

    const validations = upstream.validations().length;
    const second = textOf(await client.callTool(whoami, bearer(token)));
    expect(upstream.validations()).toHaveLength(validations + 1);
    expect(second).not.toBe(first);
    expect(fixture.sessionIds()).toEqual([second]);
    const again = await client.init({ sessionId, apiUrl: upstream.apiUrl, jwtToken: token });
    expect(again.reused).toBe(true);
  });
});

describe("a Streamable HTTP server that misbehaves mid-call", () => {
  const sessionId = "s-faulty";
  const add = { sessionId, name: "add", arguments: { a: 1, b: 2 } };
  const toolCalls = () => fixture.requests.filter((r) => r.rpcMethod === "tools/call").length;

  it("never answering: the call ends at its timeout with DEADLINE_EXCEEDED MCP_TIMEOUT and the session goes on", async () => {
    service = await startService(remote());
    const { client } = service;
    const token = makeJwt();
    await client.init({ sessionId, apiUrl: upstream.apiUrl, jwtToken: token });

    fixture.toolCalls = "hang";
    const started = performance.now();
    const timeout = { seconds: 0n, nanos: 400_000_000 };
    const failure = await rpcFailure(client.callTool({ ...add, timeout }, bearer(token)));
    expect(failure.code).toBe(Code.DeadlineExceeded);
    expect(failure.reason).toBe("MCP_TIMEOUT");
    expect(performance.now() - started).toBeLessThan(3_000);
    // One request reached the server: nothing was retried behind the caller's back.
    expect(toolCalls()).toBe(1);

    fixture.toolCalls = "answer";
    const validations = upstream.validations().length;
    expect((await client.callTool(add, bearer(token))).structuredContent).toEqual({ sum: 3 });
    // A timeout is not a lost server: same session, no new credential check.
    expect(upstream.validations()).toHaveLength(validations);
  });

  it("dropping the connection: UNAVAILABLE MCP_SERVER_EXITED at once, then the next call opens a new MCP session", async () => {
    service = await startService(remote());
    const { client } = service;
    const token = makeJwt();
    await client.init({ sessionId, apiUrl: upstream.apiUrl, jwtToken: token });
    const [first] = fixture.sessionIds();

    fixture.toolCalls = "drop";
    const started = performance.now();
    const failure = await rpcFailure(client.callTool(add, bearer(token)));
    expect(failure.code).toBe(Code.Unavailable);
    expect(failure.reason).toBe("MCP_SERVER_EXITED");
    expect(failure.metadata).toMatchObject({ server: "remote", why: "connection_lost" });
    expect(performance.now() - started).toBeLessThan(3_000);
    expect(toolCalls()).toBe(1);

    fixture.toolCalls = "answer";
    expect((await client.callTool(add, bearer(token))).structuredContent).toEqual({ sum: 3 });
    expect(fixture.sessionIds()).not.toContain(first);
    expect(toolCalls()).toBe(2);
  });
});
