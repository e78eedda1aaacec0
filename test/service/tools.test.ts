import { create } from "@bufbuild/protobuf";
import { DurationSchema } from "@bufbuild/protobuf/wkt";
import { Code } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import type { CallToolResponse } from "../../gen/mcpclient/v1/session_service_pb.js";
import { bearer } from "../support/bearer.js";
import {
  appWithUpstream,
  expectRpcError,
  initSession,
  type SessionClient,
  type TestApp,
  type Upstream,
  useHarness,
} from "./harness.js";

const h = useHarness();

interface Opened extends TestApp {
  readonly upstream: Upstream;
  readonly token: string;
}

/** An app with one session `s1` opened with a fresh token. */
async function opened(): Promise<Opened> {
  const setup = await appWithUpstream(h);
  const token = h.jwt();
  await initSession(setup.client, setup.upstream, "s1", token);
  return { ...setup, token };
}

/** The three methods that act on an existing session, called with `headers`. */
function sessionCalls(client: SessionClient, sessionId: string, headers: Record<string, string>) {
  return {
    CallTool: () => client.callTool({ sessionId, name: "validate_settings" }, { headers }),
    ListTools: () => client.listTools({ sessionId }, { headers }),
    CloseSession: () => client.closeSession({ sessionId }, { headers }),
  };
}

/** The text of a response's only content item; fails on anything else. */
function textOf(res: CallToolResponse): string {
  const kinds = res.content.map((item) => item.kind);
  const [only] = kinds;
  if (kinds.length !== 1 || only?.case !== "text") {
    throw new Error(`expected one text item, got ${kinds.map((k) => k.case).join()}`);
  }
  return only.value.text;
}

describe("bearer checks", () => {
  const wrongHeaders = (token: string): [string, Record<string, string>][] => [
    ["no authorization header", {}],
    ["an empty bearer", { authorization: "Bearer " }],
    ["another scheme", { authorization: `Basic ${token}` }],
    ["the token without a scheme", { authorization: token }],
    ["a changed token", { authorization: `Bearer ${token}x` }],
    ["another valid token", { authorization: `Bearer ${h.jwt()}` }],
  ];

  it.each(["CallTool", "ListTools", "CloseSession"] as const)(
    "%s refuses a missing or wrong bearer with UNAUTHENTICATED SESSION_CREDENTIALS_MISMATCH",
    async (method) => {
      const { client, token, app } = await opened();
      for (const [label, headers] of wrongHeaders(token)) {
        await expectRpcError(
          sessionCalls(client, "s1", headers)[method](),
          Code.Unauthenticated,
          "SESSION_CREDENTIALS_MISMATCH",
        ).catch((e: unknown) => {
          throw new Error(`with ${label}: ${e}`);
        });
      }
      expect(app.sessions.size).toBe(1);
      // The right bearer, in any scheme case, still works.
      await client.listTools(
        { sessionId: "s1" },
        { headers: { authorization: `bearer ${token}` } },
      );
    },
  );

  it.each(["CallTool", "ListTools"] as const)(
    "%s reports an unknown session as NOT_FOUND SESSION_NOT_FOUND",
    async (method) => {
      const { client } = await appWithUpstream(h);
      const headers = { authorization: `Bearer ${h.jwt()}` };
      await expectRpcError(
        sessionCalls(client, "nobody", headers)[method](),
        Code.NotFound,
        "SESSION_NOT_FOUND",
      );
    },
  );
});

describe("CloseSession", () => {
  it("closes once, then answers closed: false; the session is gone", async () => {
    const { client, token, starts, app } = await opened();
    const first = await client.closeSession({ sessionId: "s1" }, bearer(token));
    expect(first.closed).toBe(true);
    expect(starts.closed).toBe(1);
    expect(app.sessions.size).toBe(0);
    const second = await client.closeSession({ sessionId: "s1" }, bearer(token));
    expect(second.closed).toBe(false);
    await expectRpcError(
      client.callTool({ sessionId: "s1", name: "validate_settings" }, bearer(token)),
      Code.NotFound,
      "SESSION_NOT_FOUND",
    );
  });

  it("needs no credentials for an unknown session", async () => {
    const { client } = await appWithUpstream(h);
    const res = await client.closeSession({ sessionId: "never-opened" });
    expect(res.closed).toBe(false);
  });

  it("reports an empty session_id as MISSING_PARAMETERS", async () => {
    const { client } = await appWithUpstream(h);
    const { info } = await expectRpcError(
      client.closeSession({ sessionId: "" }),
      Code.InvalidArgument,
      "MISSING_PARAMETERS",
    );
    expect(info.metadata.fields).toBe("session_id");
  });
});

describe("ListTools and CallTool", () => {
  it("lists the built-in tools", async () => {
    const { client, token } = await opened();
    const res = await client.listTools({ sessionId: "s1" }, bearer(token));
    expect(res.tools.map((t) => [t.name, t.server]).sort()).toEqual([
      ["api_request", "builtin"],
      ["echo", "builtin"],
      ["validate_settings", "builtin"],
    ]);
  });

  it('calls validate_settings: text {"status":"success"} from the session\'s own token', async () => {
    const { client, token, upstream } = await opened();
    const res = await client.callTool(
      { sessionId: "s1", name: "validate_settings" },
      bearer(token),
    );
    expect(res.isError).toBe(false);
    expect(textOf(res)).toBe('{"status":"success"}');
    expect(upstream.validations().map((r) => r.authorization)).toEqual([
      `Bearer ${token}`,
      `Bearer ${token}`,
    ]);
  });

  it("returns a failing validate_settings as a normal response with is_error", async () => {
    const { client, token, upstream } = await opened();
    upstream.onValidate = () => 403;
    const res = await client.callTool(
      { sessionId: "s1", name: "validate_settings" },
      bearer(token),
    );
    expect(res.isError).toBe(true);
    expect(JSON.parse(textOf(res))).toEqual({
      error: "Connection test failed: 403 Forbidden",
      error_type: "API_ERROR",
      status: "error",
    });
  });

  it("calls api_request and returns its structured content", async () => {
    const { client, token, upstream } = await opened();
    const res = await client.callTool(
      {
        sessionId: "s1",
        name: "api_request",
        arguments: { method: "GET", path: "items/42", query: { q: "x" } },
      },
      bearer(token),
    );
    const expected = {
      status: 200,
      body: { method: "GET", path: "/api/v1/items/42?q=x" },
      truncated: false,
    };
    expect(res.isError).toBe(false);
    expect(res.structuredContent).toEqual(expected);
    expect(JSON.parse(textOf(res))).toEqual(expected);
    expect(upstream.requests.at(-1)).toMatchObject({
      method: "GET",
      path: "/api/v1/items/42?q=x",
      authorization: `Bearer ${token}`,
    });
  });

  it("reports an unknown tool as NOT_FOUND TOOL_NOT_FOUND", async () => {
    const { client, token } = await opened();
    const { info } = await expectRpcError(
      client.callTool({ sessionId: "s1", name: "no_such_tool" }, bearer(token)),
      Code.NotFound,
      "TOOL_NOT_FOUND",
    );
    expect(info.metadata.tool).toBe("no_such_tool");
  });

  // The SDK's McpServer reports its own input validation (-32602) as a tool
  // result with isError, not as a JSON-RPC error, so TOOL_INVALID_ARGUMENTS
  // cannot come from the built-in server.
  it("returns arguments the built-in server rejects as a response with is_error", async () => {
    const { client, token, upstream } = await opened();
    const before = upstream.requests.length;
    const res = await client.callTool(
      { sessionId: "s1", name: "api_request", arguments: { method: "BREW", path: "x" } },
      bearer(token),
    );
    expect(res.isError).toBe(true);
    expect(upstream.requests.length).toBe(before);
  });

  it("reports a tool slower than its timeout as DEADLINE_EXCEEDED MCP_TIMEOUT", async () => {
    const { client, token, upstream } = await opened();
    const timeout = create(DurationSchema, { seconds: 0n, nanos: 200_000_000 });
    const started = performance.now();
    await expectRpcError(
      client.callTool(
        { sessionId: "s1", name: "api_request", arguments: { path: "hang" }, timeout },
        bearer(token),
      ),
      Code.DeadlineExceeded,
      "MCP_TIMEOUT",
    );
    expect(performance.now() - started).toBeLessThan(5000);
    expect(upstream.requests.at(-1)?.path).toBe("/api/v1/hang");
    // The session survives a timed-out call.
    const res = await client.callTool(
      { sessionId: "s1", name: "validate_settings" },
      bearer(token),
    );
    expect(res.isError).toBe(false);
  });

  it.each([
    ["no session_id", { sessionId: "", name: "validate_settings" }, "session_id"],
    ["no name", { sessionId: "s1", name: "" }, "name"],
    ["neither", { sessionId: "", name: "" }, "name,session_id"],
  ])("reports %s as MISSING_PARAMETERS", async (_, request, fields) => {
    const { client, token } = await opened();
    const { info } = await expectRpcError(
      client.callTool(request, bearer(token)),
      Code.InvalidArgument,
      "MISSING_PARAMETERS",
    );
    expect(info.metadata.fields?.split(",").sort().join(",")).toBe(fields);
  });
});

describe("CallTool timeout", () => {
  const duration = (seconds: bigint, nanos = 0) => create(DurationSchema, { seconds, nanos });

  it.each([
    ["0", duration(0n)],
    ["negative", duration(-1n)],
    ["negative nanos", duration(0n, -1_000_000)],
    ["above tools.maxTimeoutMs", duration(300n, 1_000_000)],
  ])("refuses a timeout of %s with INVALID_ARGUMENT INVALID_TIMEOUT", async (_, timeout) => {
    const { client, token, upstream, config } = await opened();
    expect(config.tools.maxTimeoutMs).toBe(300_000);
    const before = upstream.requests.length;
    await expectRpcError(
      client.callTool({ sessionId: "s1", name: "validate_settings", timeout }, bearer(token)),
      Code.InvalidArgument,
      "INVALID_TIMEOUT",
    );
    expect(upstream.requests.length).toBe(before);
  });

  it.each([
    ["5 s", duration(5n)],
    ["exactly tools.maxTimeoutMs", duration(300n)],
  ])("accepts a timeout of %s", async (_, timeout) => {
    const { client, token } = await opened();
    const res = await client.callTool(
      { sessionId: "s1", name: "validate_settings", timeout },
      bearer(token),
    );
    expect(textOf(res)).toBe('{"status":"success"}');
  });
});

describe("another user's session", () => {
  async function twoUsers() {
    const setup = await appWithUpstream(h);
    const tokenA = h.jwt();
    const tokenB = h.jwt();
    await initSession(setup.client, setup.upstream, "session-a", tokenA);
    await initSession(setup.client, setup.upstream, "session-b", tokenB);
    return { ...setup, tokenA, tokenB };
  }

  it.each(["CallTool", "ListTools", "CloseSession"] as const)(
    "%s with user B's own valid token on A's session is SESSION_CREDENTIALS_MISMATCH",
    async (method) => {
      const { client, tokenA, tokenB, upstream, app } = await twoUsers();
      const asB = sessionCalls(client, "session-a", { authorization: `Bearer ${tokenB}` });
      await expectRpcError(asB[method](), Code.Unauthenticated, "SESSION_CREDENTIALS_MISMATCH");
      expect(app.sessions.size).toBe(2);
      // A's session still works, with A's token at the API.
      const res = await client.callTool(
        { sessionId: "session-a", name: "validate_settings" },
        bearer(tokenA),
      );
      expect(textOf(res)).toBe('{"status":"success"}');
      expect(upstream.requests.at(-1)?.authorization).toBe(`Bearer ${tokenA}`);
      // And B's own session is unaffected.
      await client.listTools({ sessionId: "session-b" }, bearer(tokenB));
    },
  );

  it("cannot use A's session with A's token under B's session_id", async () => {
    const { client, tokenA, upstream } = await twoUsers();
    const before = upstream.requests.length;
    await expectRpcError(
      client.callTool({ sessionId: "session-b", name: "validate_settings" }, bearer(tokenA)),
      Code.Unauthenticated,
      "SESSION_CREDENTIALS_MISMATCH",
    );
    expect(upstream.requests.length).toBe(before);
  });
});
