import { Code } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { bearer } from "../support/bearer.js";
import { toRpcFailure } from "../support/rpc-failure.js";
import {
  appWithUpstream,
  expectRpcError,
  initSession,
  livePids,
  pidServer,
  spawnedPids,
  testConfig,
  useHarness,
} from "./harness.js";

const h = useHarness();

const toolNames = (res: { tools: { name: string }[] }) => res.tools.map((t) => t.name).sort();

describe("session reuse", () => {
  it("reuses an active session for the same credentials without a check or a start", async () => {
    const { client, upstream, starts, app } = await appWithUpstream(h);
    const token = h.jwt();
    const request = { sessionId: "user_123", apiUrl: upstream.apiUrl, jwtToken: token };
    const first = await client.init(request);
    const second = await client.init(request);
    expect([first.reused, second.reused]).toEqual([false, true]);
    expect(second.status).toBe("ok");
    expect(upstream.validations()).toHaveLength(1);
    expect({ calls: starts.calls, started: starts.started, closed: starts.closed }).toEqual({
      calls: 1,
      started: 1,
      closed: 0,
    });
    expect(app.sessions.size).toBe(1);
    const tools = await client.listTools({ sessionId: "user_123" }, bearer(token));
    expect(toolNames(tools)).toEqual(["api_request", "echo", "validate_settings"]);
  });

  it("does not reuse a closed session", async () => {
    const { client, upstream, starts } = await appWithUpstream(h);
    const token = h.jwt();
    await initSession(client, upstream, "s1", token);
    expect((await client.closeSession({ sessionId: "s1" }, bearer(token))).closed).toBe(true);
    await initSession(client, upstream, "s1", token);
    expect(upstream.validations()).toHaveLength(2);
    expect(starts.started).toBe(2);
  });

  it("treats the same token with another api_url as new credentials", async () => {
    const { client, upstream, starts } = await appWithUpstream(h);
    const other = await h.upstream();
    const token = h.jwt();
    await initSession(client, upstream, "s1", token);
    await initSession(client, other, "s1", token);
    expect([upstream.validations().length, other.validations().length]).toEqual([1, 1]);
    expect({ started: starts.started, closed: starts.closed }).toEqual({ started: 2, closed: 1 });
    // The built-in server now talks to the second API.
    await client.callTool({ sessionId: "s1", name: "validate_settings" }, bearer(token));
    expect(other.validations()).toHaveLength(2);
    expect(upstream.validations()).toHaveLength(1);
  });
});

describe("new credentials for an existing session", () => {
  const failures = [
    ["rejected (401)", Code.Unauthenticated, "CREDENTIALS_REJECTED", { exp: undefined }, 401],
    ["an upstream error (500)", Code.Internal, "UPSTREAM_ERROR", { exp: undefined }, 500],
    ["expired", Code.Unauthenticated, "TOKEN_EXPIRED", { exp: 1_000_000 }, 200],
  ] as const;

  it.each(failures)(
    "leave the session untouched when the new token is %s",
    async (_, code, reason, jwt, status) => {
      const { client, upstream, starts, app } = await appWithUpstream(h);
      const oldToken = h.jwt();
      const newToken = h.jwt(jwt);
      await initSession(client, upstream, "s1", oldToken);
      upstream.onValidate = (r) => (r.authorization === `Bearer ${newToken}` ? status : 200);
      await expectRpcError(
        client.init({ sessionId: "s1", apiUrl: upstream.apiUrl, jwtToken: newToken }),
        code,
        reason,
      );
      const tools = await client.listTools({ sessionId: "s1" }, bearer(oldToken));
      expect(toolNames(tools)).toEqual(["api_request", "echo", "validate_settings"]);
      await expectRpcError(
        client.listTools({ sessionId: "s1" }, bearer(newToken)),
        Code.Unauthenticated,
        "SESSION_CREDENTIALS_MISMATCH",
      );
      expect({ calls: starts.calls, closed: starts.closed }).toEqual({ calls: 1, closed: 0 });
      expect(app.sessions.size).toBe(1);
      // The old session is still reused as before.
      const again = await client.init({
        sessionId: "s1",
        apiUrl: upstream.apiUrl,
        jwtToken: oldToken,
      });
      expect(again.reused).toBe(true);
    },
  );

  it("replace the session's MCP clients when the new token is accepted", async () => {
    const { client, upstream, starts, app } = await appWithUpstream(h);
    const oldToken = h.jwt();
    const newToken = h.jwt();
    await initSession(client, upstream, "s1", oldToken);
    const res = await client.init({ sessionId: "s1", apiUrl: upstream.apiUrl, jwtToken: newToken });
    expect(res.reused).toBe(false);
    expect(upstream.validations().map((r) => r.authorization)).toEqual([
      `Bearer ${oldToken}`,
      `Bearer ${newToken}`,
    ]);
    expect({ started: starts.started, closed: starts.closed }).toEqual({ started: 2, closed: 1 });
    expect(app.sessions.size).toBe(1);
    await expectRpcError(
      client.listTools({ sessionId: "s1" }, bearer(oldToken)),
      Code.Unauthenticated,
      "SESSION_CREDENTIALS_MISMATCH",
    );
    await client.callTool({ sessionId: "s1", name: "validate_settings" }, bearer(newToken));
    // The new MCP clients hold the new token.
    expect(upstream.requests.at(-1)?.authorization).toBe(`Bearer ${newToken}`);
  });

  it("end the replaced session's stdio server process", async () => {
    const pidDir = await h.tempDir();
    const config = await testConfig({ mcpServers: { child: pidServer(pidDir) } });
    const { client, upstream } = await appWithUpstream(h, config);
    const oldToken = h.jwt();
    const newToken = h.jwt();
    await initSession(client, upstream, "s1", oldToken);
    const [oldPid] = await livePids(pidDir);
    expect(oldPid).toBeTypeOf("number");
    await initSession(client, upstream, "s1", newToken);
    await expect.poll(() => livePids(pidDir), { timeout: 10_000 }).toHaveLength(1);
    expect(await livePids(pidDir)).not.toContain(oldPid);
    const res = await client.callTool({ sessionId: "s1", name: "ping" }, bearer(newToken));
    expect(res.content[0]?.kind).toEqual({
      case: "text",
      value: expect.objectContaining({ text: "pong" }),
    });
  });
});

describe("coalescing", () => {
  it("shares one check and one start among concurrent Inits with the same credentials", async () => {
    const { client, upstream, starts, app } = await appWithUpstream(h);
    upstream.onValidate = () => ({ status: 200, delayMs: 150 });
    const request = { sessionId: "s1", apiUrl: upstream.apiUrl, jwtToken: h.jwt() };
    const results = await Promise.all(Array.from({ length: 5 }, () => client.init(request)));
    // One shared run created the session, so every caller gets its outcome.
    expect(results.map((r) => ({ status: r.status, reused: r.reused }))).toEqual(
      Array(5).fill({ status: "ok", reused: false }),
    );
    expect(upstream.validations()).toHaveLength(1);
    expect({ calls: starts.calls, started: starts.started }).toEqual({ calls: 1, started: 1 });
    expect(app.sessions.size).toBe(1);
  });

  it("shares one failed check among concurrent Inits with the same credentials", async () => {
    const { client, upstream, starts } = await appWithUpstream(h);
    upstream.onValidate = () => ({ status: 401, delayMs: 150 });
    const request = { sessionId: "s1", apiUrl: upstream.apiUrl, jwtToken: h.jwt() };
    const calls = Array.from({ length: 5 }, () => client.init(request));
    for (const call of calls) {
      await expectRpcError(call, Code.Unauthenticated, "CREDENTIALS_REJECTED");
    }
    expect(upstream.validations()).toHaveLength(1);
    expect(starts.calls).toBe(0);
  });

  it("does not coalesce concurrent Inits with different tokens", async () => {
    const { client, upstream, starts, app } = await appWithUpstream(h);
    upstream.onValidate = () => ({ status: 200, delayMs: 150 });
    const tokens = [h.jwt(), h.jwt()];
    const results = await Promise.all(
      tokens.map((jwtToken) => client.init({ sessionId: "s1", apiUrl: upstream.apiUrl, jwtToken })),
    );
    expect(results.map((r) => r.reused)).toEqual([false, false]);
    expect(
      upstream
        .validations()
        .map((r) => r.authorization)
        .sort(),
    ).toEqual(tokens.map((t) => `Bearer ${t}`).sort());
    expect({ started: starts.started, closed: starts.closed }).toEqual({ started: 2, closed: 1 });
    expect(app.sessions.size).toBe(1);

    const outcomes = await Promise.all(
      tokens.map((t) =>
        client.listTools({ sessionId: "s1" }, bearer(t)).then(
          () => "ok",
          (e: unknown) => toRpcFailure(e).code,
        ),
      ),
    );
    expect([...outcomes].sort()).toEqual([Code.Unauthenticated, "ok"].sort());
    const loser = tokens[outcomes.indexOf(Code.Unauthenticated)] ?? "";
    await expectRpcError(
      client.listTools({ sessionId: "s1" }, bearer(loser)),
      Code.Unauthenticated,
      "SESSION_CREDENTIALS_MISMATCH",
    );
  });
});

describe("a failed MCP server start", () => {
  const broken = { type: "stdio", command: "/nonexistent/cmd", args: [], env: {} } as const;

  it("is INTERNAL MCP_SERVER_START_FAILED and leaves nothing behind", async () => {
    const config = await testConfig({ mcpServers: { broken, builtin: { type: "builtin" } } });
    const { client, upstream, starts, app } = await appWithUpstream(h, config);
    const token = h.jwt();
    const sizeBefore = app.sessions.size;
    await expectRpcError(
      client.init({ sessionId: "s1", apiUrl: upstream.apiUrl, jwtToken: token }),
      Code.Internal,
      "MCP_SERVER_START_FAILED",
    );
    expect(upstream.validations()).toHaveLength(1);
    expect({ calls: starts.calls, started: starts.started }).toEqual({ calls: 1, started: 0 });
    expect(app.sessions.size).toBe(sizeBefore);
    await expectRpcError(
      client.callTool({ sessionId: "s1", name: "builtin__validate_settings" }, bearer(token)),
      Code.NotFound,
      "SESSION_NOT_FOUND",
    );
  });

  it("ends the servers that did start", async () => {
    const pidDir = await h.tempDir();
    const config = await testConfig({ mcpServers: { child: pidServer(pidDir), broken } });
    const { client, upstream, app } = await appWithUpstream(h, config);
    await expectRpcError(
      client.init({ sessionId: "s1", apiUrl: upstream.apiUrl, jwtToken: h.jwt() }),
      Code.Internal,
      "MCP_SERVER_START_FAILED",
    );
    expect(await spawnedPids(pidDir)).toBe(1);
    await expect.poll(() => livePids(pidDir), { timeout: 10_000 }).toEqual([]);
    expect(app.sessions.size).toBe(0);
  });

  it("leaves an existing session untouched when the new credentials fail to start", async () => {
    const pidDir = await h.tempDir();
    const config = await testConfig({
      mcpServers: { child: pidServer(pidDir), builtin: { type: "builtin" } },
    });
    const { client, upstream, starts, app } = await appWithUpstream(h, config);
    const oldToken = h.jwt();
    const failingToken = h.jwt({ signature: `FAIL${"x".repeat(40)}` });
    await initSession(client, upstream, "s1", oldToken);
    await expectRpcError(
      client.init({ sessionId: "s1", apiUrl: upstream.apiUrl, jwtToken: failingToken }),
      Code.Internal,
      "MCP_SERVER_START_FAILED",
    );
    expect({ calls: starts.calls, started: starts.started, closed: starts.closed }).toEqual({
      calls: 2,
      started: 1,
      closed: 0,
    });
    expect(app.sessions.size).toBe(1);
    const res = await client.callTool({ sessionId: "s1", name: "child__ping" }, bearer(oldToken));
    expect(res.isError).toBe(false);
    await expectRpcError(
      client.listTools({ sessionId: "s1" }, bearer(failingToken)),
      Code.Unauthenticated,
      "SESSION_CREDENTIALS_MISMATCH",
    );
    // Both the first start's builtin and the failed start's other server are gone.
    expect(await spawnedPids(pidDir)).toBe(2);
    await expect.poll(() => livePids(pidDir), { timeout: 10_000 }).toHaveLength(1);
  });
});

describe("shutdown", () => {
  it("closes every session, then refuses Init with UNAVAILABLE SERVER_SHUTTING_DOWN", async () => {
    const { client, upstream, starts, app } = await appWithUpstream(h);
    const tokens = [h.jwt(), h.jwt()];
    await initSession(client, upstream, "s1", tokens[0] ?? "");
    await initSession(client, upstream, "s2", tokens[1] ?? "");
    expect(app.sessions.size).toBe(2);
    await app.close();
    expect(app.sessions.size).toBe(0);
    expect(starts.closed).toBe(2);
    await expectRpcError(
      client.init({ sessionId: "s3", apiUrl: upstream.apiUrl, jwtToken: h.jwt() }),
      Code.Unavailable,
      "SERVER_SHUTTING_DOWN",
    );
    // Also for credentials that had a session: nothing is reused after close.
    await expectRpcError(
      client.init({ sessionId: "s1", apiUrl: upstream.apiUrl, jwtToken: tokens[0] ?? "" }),
      Code.Unavailable,
      "SERVER_SHUTTING_DOWN",
    );
    expect(upstream.validations()).toHaveLength(2);
    // The closed session is gone; the contract allows either answer while draining.
    const after = await client.listTools({ sessionId: "s1" }, bearer(tokens[0] ?? "")).then(
      () => "ok",
      (e: unknown) => toRpcFailure(e).reason,
    );
    expect(["SESSION_NOT_FOUND", "SERVER_SHUTTING_DOWN"]).toContain(after);
  });

  it("ends every session's stdio server process", async () => {
    const pidDir = await h.tempDir();
    const config = await testConfig({ mcpServers: { child: pidServer(pidDir) } });
    const { client, upstream, app } = await appWithUpstream(h, config);
    await initSession(client, upstream, "s1", h.jwt());
    await initSession(client, upstream, "s2", h.jwt());
    expect(await livePids(pidDir)).toHaveLength(2);
    await app.close();
    await expect.poll(() => livePids(pidDir), { timeout: 10_000 }).toEqual([]);
  });

  // The credential check reports its own abort as CANCELED; the caller must
  // learn the real cause, a retryable UNAVAILABLE SERVER_SHUTTING_DOWN.
  it("answers an Init still checking credentials with SERVER_SHUTTING_DOWN", async () => {
    const base = await testConfig();
    // A check that would not time out on its own before the test does.
    const config = { ...base, credentialCheck: { ...base.credentialCheck, timeoutMs: 10_000 } };
    const { client, upstream, starts, app } = await appWithUpstream(h, config);
    upstream.onValidate = () => "hang";
    const call = client.init({ sessionId: "s1", apiUrl: upstream.apiUrl, jwtToken: h.jwt() });
    await expect.poll(() => upstream.validations().length).toBe(1);
    await app.close();
    await expectRpcError(call, Code.Unavailable, "SERVER_SHUTTING_DOWN");
    expect(starts.calls).toBe(0);
    expect(app.sessions.size).toBe(0);
  });
});
