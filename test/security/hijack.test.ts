// biome-ignore-all lint/suspicious/noTemplateCurlyInString: config values hold the service's ${name} templates.
import { Code } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { createEventLog, paths } from "../mcp/harness.js";
import {
  expectRpcError,
  initSession,
  type SessionClient,
  type TestApp,
  testConfig,
  type Upstream,
  useHarness,
} from "../service/harness.js";
import { bearer } from "../support/bearer.js";
import { useEach } from "../support/lifecycle.js";
import { nodeServer } from "../support/node-server-config.js";
import { processGone } from "../support/process-gone.js";
import { waitFor } from "../support/wait.js";
import { holding, readEnviron } from "./proc.js";

// User B knows user A's session_id and holds a valid token of its own. Every
// session runs two MCP servers: the built-in one (its tools call the user's
// API with the session's token, so the upstream's record of bearers shows
// whose credentials ran) and a real stdio child that appends every JSON-RPC
// message it receives, with its pid, to an event log (so a call that reached
// A's child cannot go unseen). The harness fails any test whose tokens show
// up in a log line, an error or a response.

// Before the harness: after-hooks run in reverse, so the log outlives the children writing it.
const events = useEach(createEventLog, (log) => log.remove());
const h = useHarness();

interface TwoUsers extends TestApp {
  readonly upstream: Upstream;
  readonly tokenA: string;
  readonly tokenB: string;
}

/** An app whose sessions run the built-in server and the recording stdio child. */
async function setup(): Promise<Omit<TwoUsers, "tokenA" | "tokenB">> {
  const upstream = await h.upstream();
  const config = await testConfig({
    mcpServers: {
      builtin: { type: "builtin" },
      fixture: nodeServer(paths.stdioFixture, {
        FIXTURE_EVENTS: events.path,
        MCP_TOKEN: "${jwtToken}",
      }),
    },
  });
  return { ...(await h.app(config)), upstream };
}

/** A's session `session-a`; with `withB`, also B's own session `session-b`. */
async function twoUsers(withB: boolean): Promise<TwoUsers> {
  const app = await setup();
  const tokenA = h.jwt();
  const tokenB = h.jwt();
  await initSession(app.client, app.upstream, "session-a", tokenA);
  if (withB) await initSession(app.client, app.upstream, "session-b", tokenB);
  return { ...app, tokenA, tokenB };
}

/** The pid of the stdio child serving `sessionId`, as the child reports it. */
async function childPid(client: SessionClient, sessionId: string, token: string): Promise<number> {
  const res = await client.callTool({ sessionId, name: "fixture__info" }, bearer(token));
  const pid = (res.structuredContent as { pid?: unknown } | undefined)?.pid;
  if (typeof pid !== "number") throw new Error("the fixture reported no pid");
  return pid;
}

/**
 * The JSON-RPC messages children received since event `from`, as
 * `pid method [tool]`, leaving out each `notifications/cancelled` for a
 * request the same child had received before it. The service's MCP client
 * sends one after every completed request (it hands the RPC's signal to the
 * SDK, which keeps listening to it, and connect aborts that signal once the
 * handler has answered); the request itself always shows.
 */
function messagesSince(from: number): string[] {
  const seen = new Set<string>();
  const kept: string[] = [];
  events.read().forEach((e, index) => {
    if (e.event !== "message") return;
    if (e.id !== undefined) seen.add(`${e.pid}/${e.id}`);
    const requestId = (e.params as { requestId?: unknown } | undefined)?.requestId;
    const trailing =
      e.method === "notifications/cancelled" && seen.has(`${e.pid}/${String(requestId)}`);
    if (index < from || trailing) return;
    const tool = (e.params as { name?: string } | undefined)?.name;
    kept.push([e.pid, e.method, tool].filter((part) => part !== undefined).join(" "));
  });
  return kept;
}

/** Every session method, on `sessionId` with `token` as the bearer. */
function sessionCalls(client: SessionClient, sessionId: string, token: string) {
  const auth = bearer(token);
  return {
    "CallTool fixture__info": () => client.callTool({ sessionId, name: "fixture__info" }, auth),
    "CallTool builtin__validate_settings": () =>
      client.callTool({ sessionId, name: "builtin__validate_settings" }, auth),
    "CallTool builtin__api_request": () =>
      client.callTool(
        { sessionId, name: "builtin__api_request", arguments: { path: "items/1" } },
        auth,
      ),
    ListTools: () => client.listTools({ sessionId }, auth),
    CloseSession: () => client.closeSession({ sessionId }, auth),
  };
}

/** Runs every session method and expects each to be SESSION_CREDENTIALS_MISMATCH. */
async function expectAllMismatch(client: SessionClient, sessionId: string, token: string) {
  for (const [label, call] of Object.entries(sessionCalls(client, sessionId, token))) {
    await expectRpcError(call(), Code.Unauthenticated, "SESSION_CREDENTIALS_MISMATCH").catch(
      (e: unknown) => {
        throw new Error(`${label}: ${e}`);
      },
    );
  }
}

/** Checks that A's session works with A's token: same child, A's bearer at the API. */
async function expectAWorks(users: TwoUsers, pidA: number): Promise<void> {
  const { client, upstream, tokenA } = users;
  const from = events.read().length;
  const requests = upstream.requests.length;
  expect(await childPid(client, "session-a", tokenA)).toBe(pidA);
  const res = await client.callTool(
    { sessionId: "session-a", name: "builtin__api_request", arguments: { path: "items/a" } },
    bearer(tokenA),
  );
  expect(res.isError).toBe(false);
  const tools = await client.listTools({ sessionId: "session-a" }, bearer(tokenA));
  expect(tools.tools.map((t) => t.name)).toContain("fixture__info");
  // The positive control of "received nothing": A's own calls do show up.
  expect(messagesSince(from)).toEqual([`${pidA} tools/call info`, `${pidA} tools/list`]);
  expect(upstream.requests.slice(requests).map((r) => [r.path, r.authorization])).toEqual([
    ["/api/v1/items/a", `Bearer ${tokenA}`],
  ]);
}

describe("user B with A's session_id and B's own valid token", () => {
  it("is refused on every method; A's servers receive nothing and A's session keeps working", async () => {
    const users = await twoUsers(true);
    const { client, upstream, app, starts, tokenB } = users;
    const pidA = await childPid(client, "session-a", users.tokenA);
    const pidB = await childPid(client, "session-b", tokenB);
    expect(pidB).not.toBe(pidA);
    const from = events.read().length;
    const requests = upstream.requests.length;

    await expectAllMismatch(client, "session-a", tokenB);

    // Nothing reached any child or the API; nothing was started or closed.
    expect(messagesSince(from)).toEqual([]);
    expect(upstream.requests.slice(requests)).toEqual([]);
    expect({ sessions: app.sessions.size, starts: starts.calls, closed: starts.closed }).toEqual({
      sessions: 2,
      starts: 2,
      closed: 0,
    });
    await expectAWorks(users, pidA);
    // B's own session is B's alone, and unaffected.
    expect(await childPid(client, "session-b", tokenB)).toBe(pidB);
  });

  it("Init with a token the API rejects is CREDENTIALS_REJECTED and leaves A's session untouched", async () => {
    const users = await twoUsers(false);
    const { client, upstream, app, starts, tokenA, tokenB } = users;
    const pidA = await childPid(client, "session-a", tokenA);
    upstream.onValidate = (r) => (r.authorization === `Bearer ${tokenB}` ? 401 : 200);
    const from = events.read().length;
    const requests = upstream.requests.length;

    await expectRpcError(
      client.init({ sessionId: "session-a", apiUrl: upstream.apiUrl, jwtToken: tokenB }),
      Code.Unauthenticated,
      "CREDENTIALS_REJECTED",
    );

    // The only outbound request was B's own credential check, with B's token.
    expect(upstream.requests.slice(requests).map((r) => [r.path, r.authorization])).toEqual([
      [upstream.validatePath, `Bearer ${tokenB}`],
    ]);
    expect(messagesSince(from)).toEqual([]);
    expect({ sessions: app.sessions.size, starts: starts.calls, closed: starts.closed }).toEqual({
      sessions: 1,
      starts: 1,
      closed: 0,
    });
    expect(processGone(pidA)).toBe(false);
    await expectAWorks(users, pidA);
    // B's token still opens nothing of A's.
    await expectAllMismatch(client, "session-a", tokenB);
  });

  it("Init with a token the API accepts replaces A's session: A is locked out, only B's token runs", async () => {
    const users = await twoUsers(false);
    const { client, upstream, app, starts, tokenA, tokenB } = users;
    const pidA = await childPid(client, "session-a", tokenA);

    const res = await client.init({
      sessionId: "session-a",
      apiUrl: upstream.apiUrl,
      jwtToken: tokenB,
    });
    expect({ status: res.status, reused: res.reused }).toEqual({ status: "ok", reused: false });
    const requests = upstream.requests.length;
    expect(upstream.requests.at(-1)?.authorization).toBe(`Bearer ${tokenB}`);
    // A's child was closed with A's session.
    expect(starts).toMatchObject({ calls: 2, started: 2, closed: 1 });
    await waitFor(() => processGone(pidA), `A's old child ${pidA} to exit`);
    // Init returns before B's new child has read the end of its handshake.
    await waitFor(
      () => events.read().filter((e) => e.method === "notifications/initialized").length === 2,
      "B's new child to finish its handshake",
    );

    // A's token no longer opens the session, on any method; nothing runs for it.
    const from = events.read().length;
    await expectAllMismatch(client, "session-a", tokenA);
    expect(messagesSince(from)).toEqual([]);
    expect(upstream.requests.length).toBe(requests);
    expect(app.sessions.size).toBe(1);

    // B's calls run in a new child that holds B's token and nothing of A's.
    const pidB = await childPid(client, "session-a", tokenB);
    expect(pidB).not.toBe(pidA);
    const environ = readEnviron(pidB);
    expect(holding(environ, tokenB)).toEqual([`MCP_TOKEN=${tokenB}`]);
    expect(holding(environ, tokenA)).toEqual([]);
    for (const [label, call] of Object.entries(sessionCalls(client, "session-a", tokenB))) {
      if (label === "CloseSession") continue;
      await call();
    }
    // Every API request since the replacement carried B's bearer; there were some.
    const since = upstream.requests.slice(requests);
    expect(since.map((r) => r.path)).toEqual([upstream.validatePath, "/api/v1/items/1"]);
    expect(since.map((r) => r.authorization)).toEqual(since.map(() => `Bearer ${tokenB}`));
    expect(messagesSince(from).every((m) => m.startsWith(`${pidB} `))).toBe(true);
    expect(messagesSince(from)).toContain(`${pidB} tools/call info`);
    expect((await client.closeSession({ sessionId: "session-a" }, bearer(tokenB))).closed).toBe(
      true,
    );
  });

  it("Init accepted by B's own API replaces A's session without sending A's token anywhere", async () => {
    const users = await twoUsers(false);
    const { client, upstream, tokenA, tokenB } = users;
    const pidA = await childPid(client, "session-a", tokenA);
    const apiOfB = await h.upstream();
    const requestsOfA = upstream.requests.length;

    await initSession(client, apiOfB, "session-a", tokenB);
    await waitFor(() => processGone(pidA), `A's old child ${pidA} to exit`);
    await expectAllMismatch(client, "session-a", tokenA);
    const res = await client.callTool(
      { sessionId: "session-a", name: "builtin__api_request", arguments: { path: "items/b" } },
      bearer(tokenB),
    );
    expect(res.isError).toBe(false);

    // A's API heard nothing more; B's API only ever saw B's token.
    expect(upstream.requests.length).toBe(requestsOfA);
    expect(apiOfB.requests.map((r) => [r.path, r.authorization])).toEqual([
      [apiOfB.validatePath, `Bearer ${tokenB}`],
      ["/api/v1/items/b", `Bearer ${tokenB}`],
    ]);
    expect(apiOfB.requests.filter((r) => holding([r.body, r.path], tokenA).length > 0)).toEqual([]);
  });
});
