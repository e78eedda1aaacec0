import { timestampMs } from "@bufbuild/protobuf/wkt";
import { Code } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import {
  ServerState,
  type SessionInfo,
  SessionState,
} from "../../gen/mcpclient/v1/session_admin_service_pb.js";
import { encodePageToken } from "../../src/rpc/session-paging.js";
import { paths } from "../mcp/harness.js";
import { expectRpcError, initSession, useHarness } from "../service/harness.js";
import { bearer } from "../support/bearer.js";
import { nodeServer } from "../support/node-server-config.js";
import {
  adminClient,
  adminSetup,
  clientKey,
  expectNoTokens,
  operatorKey,
  until,
} from "./admin-harness.js";

const h = useHarness();

const ids = (sessions: readonly SessionInfo[]) => sessions.map((s) => s.sessionId);

describe("ListSessions", () => {
  it("pages through every session in session_id order, stable while sessions come and go", async () => {
    const { admin, sessions, upstream, seen } = await adminSetup(h);
    const tokens = new Map<string, string>();
    for (const id of ["s-c", "s-a", "s-e", "s-b", "s-d"]) {
      tokens.set(id, h.jwt());
      await initSession(sessions, upstream, id, tokens.get(id) ?? "");
    }

    const all = await admin.listSessions({});
    expect(ids(all.sessions)).toEqual(["s-a", "s-b", "s-c", "s-d", "s-e"]);
    expect(all.nextPageToken).toBe("");

    const first = await admin.listSessions({ pageSize: 2 });
    expect(ids(first.sessions)).toEqual(["s-a", "s-b"]);
    expect(first.nextPageToken).not.toBe("");

    // Between pages: one session closes, one appears before the cursor, one after it.
    await sessions.closeSession({ sessionId: "s-c" }, bearer(tokens.get("s-c") ?? ""));
    await initSession(sessions, upstream, "s-a0", h.jwt());
    await initSession(sessions, upstream, "s-cc", h.jwt());

    const second = await admin.listSessions({ pageSize: 2, pageToken: first.nextPageToken });
    expect(ids(second.sessions)).toEqual(["s-cc", "s-d"]);
    // The same token gives the same page again.
    const again = await admin.listSessions({ pageSize: 2, pageToken: first.nextPageToken });
    expect(ids(again.sessions)).toEqual(["s-cc", "s-d"]);
    expect(again.nextPageToken).toBe(second.nextPageToken);

    const last = await admin.listSessions({ pageSize: 2, pageToken: second.nextPageToken });
    expect(ids(last.sessions)).toEqual(["s-e"]);
    expect(last.nextPageToken).toBe("");

    // A page that ends exactly at the last session says there is no next one.
    const exact = await admin.listSessions({ pageSize: 6 });
    expect(ids(exact.sessions)).toEqual(["s-a", "s-a0", "s-b", "s-cc", "s-d", "s-e"]);
    expect(exact.nextPageToken).toBe("");
    expectNoTokens(seen, [...tokens.values()], upstream.apiUrl);
  });

  it("lowers a page_size above 1000 to 1000 and refuses a negative one", async () => {
    const { admin, sessions, upstream } = await adminSetup(h);
    await initSession(sessions, upstream, "only", h.jwt());
    expect(ids((await admin.listSessions({ pageSize: 5000 })).sessions)).toEqual(["only"]);
    await expectRpcError(
      admin.listSessions({ pageSize: -1 }),
      Code.InvalidArgument,
      "INVALID_PAGE_SIZE",
    );
  });

  it.each([
    ["not base64url", "!!!"],
    ["base64url of something else", Buffer.from("s-a").toString("base64url")],
    ["a token with trailing junk", `${encodePageToken("s-a")}x`],
    ["a token for an impossible session id", encodePageToken("bad id/../")],
  ])("refuses %s as page_token with INVALID_PAGE_TOKEN", async (_what, pageToken) => {
    const { admin } = await adminSetup(h);
    await expectRpcError(
      admin.listSessions({ pageToken }),
      Code.InvalidArgument,
      "INVALID_PAGE_TOKEN",
    );
  });

  it("answers an empty list when there are no sessions", async () => {
    const { admin } = await adminSetup(h);
    const res = await admin.listSessions({});
    expect(res.sessions).toEqual([]);
    expect(res.nextPageToken).toBe("");
  });
});

describe("GetSession", () => {
  it("shows servers, times, the tool count after ListTools and the calls made", async () => {
    const { admin, sessions, upstream, seen } = await adminSetup(h);
    const expSeconds = Math.floor(Date.now() / 1000) + 600;
    const token = h.jwt({ exp: expSeconds });
    const before = Date.now();
    await initSession(sessions, upstream, "user_1", token);
    const after = Date.now();

    const fresh = (await admin.getSession({ sessionId: "user_1" })).session;
    expect(fresh).toMatchObject({
      sessionId: "user_1",
      state: SessionState.ACTIVE,
      servers: [{ name: "builtin", state: ServerState.CONNECTED, lostReason: "" }],
      toolCount: 0,
      calls: 0n,
      inFlight: 0,
      apiOrigin: new URL(upstream.apiUrl).origin,
    });
    const createdAt = timestampMs(fresh?.createdAt ?? expect.fail("no created_at"));
    expect(createdAt).toBeGreaterThanOrEqual(before);
    expect(createdAt).toBeLessThanOrEqual(after);
    expect(timestampMs(fresh?.lastUsedAt ?? expect.fail("no last_used_at"))).toBe(createdAt);
    expect(timestampMs(fresh?.expiresAt ?? expect.fail("no expires_at"))).toBe(expSeconds * 1000);

    const listed = await sessions.listTools({ sessionId: "user_1" }, bearer(token));
    expect((await admin.getSession({ sessionId: "user_1" })).session?.toolCount).toBe(
      listed.tools.length,
    );
    expect(listed.tools.length).toBe(3);

    await new Promise((resolve) => setTimeout(resolve, 5));
    for (let i = 0; i < 3; i++) {
      await sessions.callTool({ sessionId: "user_1", name: "validate_settings" }, bearer(token));
    }
    // A tool no server has is never sent: it is not a call.
    await expectRpcError(
      sessions.callTool({ sessionId: "user_1", name: "nope" }, bearer(token)),
      Code.NotFound,
      "TOOL_NOT_FOUND",
    );
    const used = (await admin.getSession({ sessionId: "user_1" })).session;
    expect(used).toMatchObject({ calls: 3n, toolCount: 3, inFlight: 0 });
    expect(timestampMs(used?.createdAt ?? expect.fail())).toBe(createdAt);
    expect(timestampMs(used?.lastUsedAt ?? expect.fail())).toBeGreaterThan(createdAt);

    // The list shows the same.
    const [inList] = (await admin.listSessions({})).sessions;
    expect(inList).toMatchObject({ sessionId: "user_1", calls: 3n, toolCount: 3 });
    expectNoTokens(seen, [token], upstream.apiUrl);
    // Neither the api_url's path nor anything beyond its origin is shown.
    expect(seen.filter((text) => text.includes("/api/v1"))).toEqual([]);
  });

  it("leaves expires_at unset for a JWT without exp", async () => {
    const { admin, sessions, upstream } = await adminSetup(h);
    await initSession(sessions, upstream, "no-exp", h.jwt({ exp: null }));
    const { session } = await admin.getSession({ sessionId: "no-exp" });
    expect(session?.expiresAt).toBeUndefined();
    expect(session?.state).toBe(SessionState.ACTIVE);
  });

  it("shows a session whose stdio server crashed as INACTIVE, with the lost server and why", async () => {
    const { admin, sessions, upstream, seen } = await adminSetup(h, {
      mcpServers: { fx: nodeServer(paths.stdioFixture), builtin: { type: "builtin" } },
    });
    const token = h.jwt();
    await initSession(sessions, upstream, "crashy", token);
    const first = (await admin.getSession({ sessionId: "crashy" })).session;
    expect(first?.servers).toEqual([
      expect.objectContaining({ name: "fx", state: ServerState.CONNECTED, lostReason: "" }),
      expect.objectContaining({ name: "builtin", state: ServerState.CONNECTED, lostReason: "" }),
    ]);

    await expectRpcError(
      sessions.callTool({ sessionId: "crashy", name: "fx__crash" }, bearer(token)),
      Code.Unavailable,
      "MCP_SERVER_EXITED",
    );
    const lost = await until(
      async () => (await admin.getSession({ sessionId: "crashy" })).session,
      (session) => session?.state === SessionState.INACTIVE,
      "the session to turn inactive",
    );
    expect(lost.servers).toEqual([
      expect.objectContaining({ name: "fx", state: ServerState.LOST, lostReason: "exited" }),
      expect.objectContaining({ name: "builtin", state: ServerState.STOPPED, lostReason: "" }),
    ]);
    expect(lost.calls).toBe(1n);
    expect(ids((await admin.listSessions({})).sessions)).toEqual(["crashy"]);

    // The holder's next call restarts it: active again, with fresh servers and counters.
    await sessions.listTools({ sessionId: "crashy" }, bearer(token));
    const restarted = (await admin.getSession({ sessionId: "crashy" })).session;
    expect(restarted).toMatchObject({ state: SessionState.ACTIVE, calls: 0n });
    expect(restarted?.servers.map((s) => s.state)).toEqual([
      ServerState.CONNECTED,
      ServerState.CONNECTED,
    ]);
    expectNoTokens(seen, [token], upstream.apiUrl);
  });

  it("counts a running tool call in in_flight and in calls", async () => {
    const { admin, sessions, upstream } = await adminSetup(h, {
      mcpServers: { fx: nodeServer(paths.stdioFixture) },
    });
    const token = h.jwt();
    await initSession(sessions, upstream, "busy", token);
    const call = sessions.callTool(
      { sessionId: "busy", name: "sleep", arguments: { ms: 1_000 } },
      bearer(token),
    );
    const running = await until(
      async () => (await admin.getSession({ sessionId: "busy" })).session,
      // The first call lists the tools first: in flight already, but not yet a tool call.
      (session) => session?.calls === 1n,
      "the call to be sent",
    );
    expect(running.inFlight).toBe(1);
    await call;
    expect((await admin.getSession({ sessionId: "busy" })).session).toMatchObject({
      inFlight: 0,
      calls: 1n,
    });
  });

  it("answers NOT_FOUND SESSION_NOT_FOUND for an unknown or closed session", async () => {
    const { admin, sessions, upstream } = await adminSetup(h);
    await expectRpcError(
      admin.getSession({ sessionId: "nobody" }),
      Code.NotFound,
      "SESSION_NOT_FOUND",
    );
    const token = h.jwt();
    await initSession(sessions, upstream, "gone", token);
    await sessions.closeSession({ sessionId: "gone" }, bearer(token));
    await expectRpcError(
      admin.getSession({ sessionId: "gone" }),
      Code.NotFound,
      "SESSION_NOT_FOUND",
    );
  });

  it("checks session_id as SessionService does", async () => {
    const { admin } = await adminSetup(h);
    await expectRpcError(admin.getSession({}), Code.InvalidArgument, "MISSING_PARAMETERS");
    await expectRpcError(
      admin.getSession({ sessionId: "no spaces" }),
      Code.InvalidArgument,
      "INVALID_SESSION_ID",
    );
  });
});

describe("who may call SessionAdminService", () => {
  it("refuses a client key with PERMISSION_DENIED OPERATOR_REQUIRED, before anything else", async () => {
    const { app, sessions, upstream } = await adminSetup(h);
    await initSession(sessions, upstream, "private", h.jwt());
    const client = adminClient(app, clientKey);
    await expectRpcError(client.listSessions({}), Code.PermissionDenied, "OPERATOR_REQUIRED");
    // Not even whether a session exists, nor whether the request is valid.
    for (const sessionId of ["private", "nobody", ""]) {
      await expectRpcError(
        client.getSession({ sessionId }),
        Code.PermissionDenied,
        "OPERATOR_REQUIRED",
      );
    }
    await expectRpcError(
      client.listSessions({ pageSize: -1, pageToken: "junk" }),
      Code.PermissionDenied,
      "OPERATOR_REQUIRED",
    );
  });

  it("refuses callers without a key, or with an unknown one, as every RPC does", async () => {
    const { app } = await adminSetup(h);
    await expectRpcError(
      adminClient(app).listSessions({}),
      Code.Unauthenticated,
      "API_KEY_REQUIRED",
    );
    await expectRpcError(
      adminClient(app, `${operatorKey}x`).getSession({ sessionId: "a" }),
      Code.Unauthenticated,
      "API_KEY_INVALID",
    );
  });

  it("refuses everyone with OPERATOR_REQUIRED when no service auth is configured", async () => {
    const { app, client, upstream } = await h.app().then(async (t) => ({
      ...t,
      upstream: await h.upstream(),
    }));
    await initSession(client, upstream, "open", h.jwt());
    const anyone = adminClient(app);
    await expectRpcError(anyone.listSessions({}), Code.PermissionDenied, "OPERATOR_REQUIRED");
    await expectRpcError(
      anyone.getSession({ sessionId: "open" }),
      Code.PermissionDenied,
      "OPERATOR_REQUIRED",
    );
    // Whatever key a caller sends: there are no operators to be.
    await expectRpcError(
      adminClient(app, operatorKey).listSessions({}),
      Code.PermissionDenied,
      "OPERATOR_REQUIRED",
    );
  });
});
