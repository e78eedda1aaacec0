import { randomUUID } from "node:crypto";
import { Code } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { sha256hex, withApiKey } from "../support/api-key.js";
import { defaultAuth } from "../support/auth-config.js";
import { bearer } from "../support/bearer.js";
import { createInMemoryClient } from "../support/in-memory-client.js";
import { appWithUpstream, expectRpcError, initSession, testConfig, useHarness } from "./harness.js";

const h = useHarness();

/** The audit lines logged so far, parsed, in order. */
function auditEvents(logs: readonly string[]): Record<string, unknown>[] {
  return logs
    .map((line) => JSON.parse(line) as Record<string, unknown>)
    .filter((entry) => entry.audit === true);
}

describe("audit events", () => {
  it("record Inits accepted, reused and rejected, with the caller and the reason", async () => {
    const { client, upstream, logs } = await appWithUpstream(h);
    const token = h.jwt();
    await initSession(client, upstream, "s1", token);
    await client.init({ sessionId: "s1", apiUrl: upstream.apiUrl, jwtToken: token });
    await expectRpcError(
      client.init({ sessionId: "s2", apiUrl: "ftp://x", jwtToken: token }),
      Code.Unauthenticated,
      "INVALID_API_URL",
    );
    const events = auditEvents(logs).map(({ msg, session_id, reused, reason, caller }) => ({
      msg,
      session_id,
      reused,
      reason,
      caller,
    }));
    expect(events).toEqual([
      {
        msg: "init_accepted",
        session_id: "s1",
        reused: false,
        reason: undefined,
        caller: "addr:unknown",
      },
      {
        msg: "init_accepted",
        session_id: "s1",
        reused: true,
        reason: undefined,
        caller: "addr:unknown",
      },
      {
        msg: "init_rejected",
        session_id: "s2",
        reused: undefined,
        reason: "INVALID_API_URL",
        caller: "addr:unknown",
      },
    ]);
  });

  it("record each tool call with server, tool, duration and outcome, without arguments", async () => {
    const { client, upstream, logs } = await appWithUpstream(h);
    const token = h.jwt();
    await initSession(client, upstream, "s1", token);
    const options = bearer(token);
    await client.callTool(
      {
        sessionId: "s1",
        name: "api_request",
        arguments: { path: "items", query: { q: "ARG-MARK" } },
      },
      options,
    );
    upstream.onValidate = () => 403;
    await client.callTool({ sessionId: "s1", name: "validate_settings" }, options);
    const calls = auditEvents(logs).filter((e) => e.msg === "tool_called");
    expect(
      calls.map(({ session_id, server, tool, outcome }) => ({ session_id, server, tool, outcome })),
    ).toEqual([
      { session_id: "s1", server: "builtin", tool: "api_request", outcome: "ok" },
      { session_id: "s1", server: "builtin", tool: "validate_settings", outcome: "is_error" },
    ]);
    for (const call of calls) expect(call.duration_ms).toEqual(expect.any(Number));
    expect(logs.some((line) => line.includes("ARG-MARK"))).toBe(false);
  });

  it("carry tool arguments only when the operator turns it on", async () => {
    const config = await testConfig({ audit: { logToolArguments: true } });
    const { client, upstream, logs } = await appWithUpstream(h, config);
    const token = h.jwt();
    await initSession(client, upstream, "s1", token);
    await client.callTool(
      {
        sessionId: "s1",
        name: "api_request",
        arguments: { path: "items", query: { q: "ARG-MARK" } },
      },
      bearer(token),
    );
    const call = auditEvents(logs).find((e) => e.msg === "tool_called");
    expect(call?.arguments).toEqual({ path: "items", query: { q: "ARG-MARK" } });
  });

  it("record replacement and closing, and never the token", async () => {
    const { client, upstream, logs } = await appWithUpstream(h);
    const first = h.jwt();
    const second = h.jwt();
    await initSession(client, upstream, "s1", first);
    await initSession(client, upstream, "s1", second);
    await client.closeSession({ sessionId: "s1" }, bearer(second));
    const events = auditEvents(logs).map((e) => [e.msg, e.why]);
    expect(events).toEqual([
      ["init_accepted", undefined],
      ["session_replaced", undefined],
      ["init_accepted", undefined],
      ["session_closed", "closed"],
    ]);
    // The harness's cleanup also fails the test if either token leaked anywhere.
    expect(logs.some((line) => line.includes(first) || line.includes(second))).toBe(false);
  });

  it("record failed caller authentication with the reason and the address, never the key", async () => {
    const key = h.secret(`KEYCANARY-good-${randomUUID()}`);
    const wrong = h.secret(`KEYCANARY-wrong-${randomUUID()}`);
    const config = await testConfig({
      auth: {
        ...defaultAuth,
        apiKeys: [{ name: "backend", sha256: sha256hex(key), role: "client" }],
      },
    });
    const { app, upstream, logs } = await appWithUpstream(h, config);
    const token = h.jwt();
    const init = { sessionId: "s1", apiUrl: upstream.apiUrl, jwtToken: token };

    await expectRpcError(
      createInMemoryClient(app).init(init),
      Code.Unauthenticated,
      "API_KEY_REQUIRED",
    );
    await expectRpcError(
      createInMemoryClient(app, [withApiKey(wrong)]).listTools({ sessionId: "s1" }, bearer(token)),
      Code.Unauthenticated,
      "API_KEY_INVALID",
    );
    await initSession(createInMemoryClient(app, [withApiKey(key)]), upstream, "s1", token);

    const events = auditEvents(logs);
    // Refused before the handler: no init_rejected; the accepted key leaves no auth_failed.
    expect(events.map((e) => e.msg)).toEqual(["auth_failed", "auth_failed", "init_accepted"]);
    expect(
      events.slice(0, 2).map(({ reason, remote_address }) => ({ reason, remote_address })),
    ).toEqual([
      // The in-memory transport has no socket.
      { reason: "API_KEY_REQUIRED", remote_address: "unknown" },
      { reason: "API_KEY_INVALID", remote_address: "unknown" },
    ]);
    expect(logs.some((line) => line.includes(wrong) || line.includes(key))).toBe(false);
  });
});
