import { randomUUID } from "node:crypto";
import { Code, createClient, createRouterTransport, type Interceptor } from "@connectrpc/connect";
import { afterEach, describe, expect, it } from "vitest";
import { SessionService } from "../../gen/mcpclient/v1/session_service_pb.js";
import type { App } from "../../src/app.js";
import type { Config } from "../../src/config/types.js";
import { kCaller } from "../../src/rpc/caller-context.js";
import { createEventLog, type EventLog, paths } from "../mcp/harness.js";
import { sha256hex, withApiKey } from "../support/api-key.js";
import { defaultAuth } from "../support/auth-config.js";
import { bearer } from "../support/bearer.js";
import { nodeServer } from "../support/node-server-config.js";
import { processGone } from "../support/process-gone.js";
import { toRpcFailure } from "../support/rpc-failure.js";
import { waitFor } from "../support/wait.js";
import {
  appWithUpstream,
  expectRpcError,
  initSession,
  type SessionClient,
  testConfig,
  useHarness,
} from "./harness.js";

let events: EventLog | undefined;
// Before the harness: after-hooks run in reverse, so the log outlives the children writing it.
afterEach(() => {
  events?.remove();
  events = undefined;
});
const h = useHarness();

/** A bucket that never refills within a test: `burst` Inits, then refusals. */
const noRefill = (burst: number) => ({ burst, perSecond: 0.001 });

/** testConfig (rates nobody reaches) with `limits` set over it, and `overrides`. */
async function limitedConfig(
  limits: Partial<Config["limits"]>,
  overrides: Partial<Config> = {},
): Promise<Config> {
  const base = await testConfig(overrides);
  return { ...base, limits: { ...base.limits, ...limits } };
}

/** An in-memory client of `app` whose router also runs `inner` after the app's interceptors. */
function clientWith(app: App, inner: Interceptor[], outer: Interceptor[] = []): SessionClient {
  const transport = createRouterTransport(app.routes, {
    router: { interceptors: [...app.interceptors, ...inner] },
    transport: { interceptors: outer },
  });
  return createClient(SessionService, transport);
}

/** A router interceptor that records the caller id the auth interceptor settled on. */
function callerProbe(ids: string[]): Interceptor {
  return (next) => async (req) => {
    ids.push(req.contextValues.get(kCaller).id);
    return next(req);
  };
}

const toolNames = (res: { tools: { name: string }[] }) => res.tools.map((t) => t.name).sort();

/** The test stdio MCP server, recording what reaches it in `log`, as the only server. */
const fixtureServers = (log: EventLog, env: Record<string, string> = {}) => ({
  fx: nodeServer(paths.stdioFixture, { FIXTURE_EVENTS: log.path, ...env }),
});

/** The pid of the stdio child serving `sessionId`, from the fixture's `info` tool. */
async function childPid(client: SessionClient, sessionId: string, token: string): Promise<number> {
  const res = await client.callTool({ sessionId, name: "info" }, bearer(token));
  const pid = res.structuredContent?.pid;
  expect(pid).toEqual(expect.any(Number));
  return pid as number;
}

/** The audit lines logged so far, as `[event, session_id, why]`, for the events named. */
function auditTrail(logs: readonly string[], names: readonly string[]): unknown[][] {
  return logs
    .map((line) => JSON.parse(line) as Record<string, unknown>)
    .filter((e) => e.audit === true && names.includes(e.msg as string))
    .map((e) => [e.msg, e.session_id, e.why]);
}

/** The tools/list requests the fixture received, in `log`. */
const listsInChild = (log: EventLog) =>
  log.read().filter((e) => e.event === "message" && e.method === "tools/list").length;

describe("limits.initPerSession", () => {
  it("refuses a session_id's third Init with INIT_RATE_LIMITED scope=session, before any check or start", async () => {
    const config = await limitedConfig({ initPerSession: noRefill(2) });
    const { client, upstream, starts, app } = await appWithUpstream(h, config);
    const token = h.jwt();
    const request = { sessionId: "s1", apiUrl: upstream.apiUrl, jwtToken: token };
    expect((await client.init(request)).reused).toBe(false);
    expect((await client.init(request)).reused).toBe(true);
    const before = { checks: upstream.validations().length, calls: starts.calls };

    // With a new token this Init would replace the session; refused, it changes nothing.
    const { info } = await expectRpcError(
      client.init({ ...request, jwtToken: h.jwt() }),
      Code.ResourceExhausted,
      "INIT_RATE_LIMITED",
    );
    expect(info.metadata.scope).toBe("session");
    const retry = Number(info.metadata.retry_after_ms);
    expect(Number.isInteger(retry)).toBe(true);
    expect(retry).toBeGreaterThan(0);
    // The same credentials (which would be a reuse) are refused too.
    await expectRpcError(client.init(request), Code.ResourceExhausted, "INIT_RATE_LIMITED");

    expect({ checks: upstream.validations().length, calls: starts.calls }).toEqual(before);
    expect(starts.closed).toBe(0);
    expect(app.sessions.size).toBe(1);
    // s1 still runs with its first token.
    expect(toolNames(await client.listTools({ sessionId: "s1" }, bearer(token)))).toEqual([
      "api_request",
      "echo",
      "validate_settings",
    ]);
    // Another session_id has its own bucket.
    await initSession(client, upstream, "s2", h.jwt());
    expect(app.sessions.size).toBe(2);
  });
});

describe("limits.initPerCaller", () => {
  it("counts every in-memory client as one caller, addr:unknown, and refuses it with scope=caller", async () => {
    const config = await limitedConfig({ initPerCaller: noRefill(2) });
    const { app, upstream, starts } = await appWithUpstream(h, config);
    const ids: string[] = [];
    const one = clientWith(app, [callerProbe(ids)]);
    const other = clientWith(app, [callerProbe(ids)]);
    await initSession(one, upstream, "s1", h.jwt());
    await initSession(other, upstream, "s2", h.jwt());
    const before = { checks: upstream.validations().length, calls: starts.calls };

    for (const client of [one, other]) {
      const { info } = await expectRpcError(
        client.init({ sessionId: "s3", apiUrl: upstream.apiUrl, jwtToken: h.jwt() }),
        Code.ResourceExhausted,
        "INIT_RATE_LIMITED",
      );
      expect(info.metadata.scope).toBe("caller");
      expect(Number(info.metadata.retry_after_ms)).toBeGreaterThan(0);
    }
    expect({ checks: upstream.validations().length, calls: starts.calls }).toEqual(before);
    expect(app.sessions.size).toBe(2);
    // The in-memory transport has no connection: every caller is the same unknown address.
    expect(new Set(ids)).toEqual(new Set(["addr:unknown"]));
  });

  it("keeps one bucket per API key", async () => {
    const keyA = `KEYCANARY-a-${randomUUID()}`;
    const keyB = `KEYCANARY-b-${randomUUID()}`;
    const config = await limitedConfig(
      { initPerCaller: noRefill(2) },
      {
        auth: {
          ...defaultAuth,
          apiKeys: [
            { name: "alpha", sha256: sha256hex(keyA), role: "client" },
            { name: "beta", sha256: sha256hex(keyB), role: "client" },
          ],
        },
      },
    );
    const { app, upstream } = await appWithUpstream(h, config);
    const ids: string[] = [];
    const alpha = clientWith(app, [callerProbe(ids)], [withApiKey(keyA)]);
    const beta = clientWith(app, [callerProbe(ids)], [withApiKey(keyB)]);
    await initSession(alpha, upstream, "a1", h.jwt());
    await initSession(alpha, upstream, "a2", h.jwt());
    const { info } = await expectRpcError(
      alpha.init({ sessionId: "a3", apiUrl: upstream.apiUrl, jwtToken: h.jwt() }),
      Code.ResourceExhausted,
      "INIT_RATE_LIMITED",
    );
    expect(info.metadata.scope).toBe("caller");
    await initSession(beta, upstream, "a3", h.jwt());
    expect(ids).toEqual(["key:alpha", "key:alpha", "key:alpha", "key:beta"]);
    // Without a key the in-memory transport is refused too: the check is an interceptor.
    await expectRpcError(
      clientWith(app, []).init({ sessionId: "a4", apiUrl: upstream.apiUrl, jwtToken: h.jwt() }),
      Code.Unauthenticated,
      "API_KEY_REQUIRED",
    );
    const logs = h.observed().join("\n");
    expect(logs).not.toContain(keyA);
    expect(logs).not.toContain(keyB);
  });
});

describe("limits.maxSessions", () => {
  /** An app capped at two sessions, with `s1` and `s2` open under the tokens `t1` and `t2`. */
  async function atTheCap() {
    const config = await limitedConfig({ maxSessions: 2 });
    const testApp = await appWithUpstream(h, config);
    const t1 = h.jwt();
    const t2 = h.jwt();
    await initSession(testApp.client, testApp.upstream, "s1", t1);
    await initSession(testApp.client, testApp.upstream, "s2", t2);
    return { ...testApp, t1, t2 };
  }

  /** Expects `s1` and `s2` still to list their three tools with `t1` and `t2`. */
  async function expectBothServe(client: SessionClient, t1: string, t2: string) {
    for (const [sessionId, token] of [
      ["s1", t1],
      ["s2", t2],
    ] as const) {
      expect(toolNames(await client.listTools({ sessionId }, bearer(token)))).toHaveLength(3);
    }
  }

  it("refuses a new session at the cap, before any check, and leaves the others alone", async () => {
    const { client, upstream, starts, app, t1, t2 } = await atTheCap();
    const before = { checks: upstream.validations().length, calls: starts.calls };

    const { info } = await expectRpcError(
      client.init({ sessionId: "s3", apiUrl: upstream.apiUrl, jwtToken: h.jwt() }),
      Code.ResourceExhausted,
      "SESSION_LIMIT_REACHED",
    );
    expect(info.metadata.max_sessions).toBe("2");
    expect({ checks: upstream.validations().length, calls: starts.calls }).toEqual(before);
    expect(starts.closed).toBe(0);
    expect(app.sessions.size).toBe(2);
    await expectBothServe(client, t1, t2);
  });

  it("still lets existing sessions Init again at the cap, with the same or new credentials", async () => {
    const { client, upstream, starts, app, t1 } = await atTheCap();

    const same = await client.init({ sessionId: "s1", apiUrl: upstream.apiUrl, jwtToken: t1 });
    expect(same.reused).toBe(true);
    const t1b = h.jwt();
    await initSession(client, upstream, "s1", t1b);
    expect(starts.closed).toBe(1);
    expect(app.sessions.size).toBe(2);
    expect(toolNames(await client.listTools({ sessionId: "s1" }, bearer(t1b)))).toHaveLength(3);
    await expectRpcError(
      client.listTools({ sessionId: "s1" }, bearer(t1)),
      Code.Unauthenticated,
      "SESSION_CREDENTIALS_MISMATCH",
    );
  });

  it("makes room again when a session is closed", async () => {
    const { client, upstream, app, t2 } = await atTheCap();
    await expectRpcError(
      client.init({ sessionId: "s3", apiUrl: upstream.apiUrl, jwtToken: h.jwt() }),
      Code.ResourceExhausted,
      "SESSION_LIMIT_REACHED",
    );
    expect((await client.closeSession({ sessionId: "s2" }, bearer(t2))).closed).toBe(true);
    await initSession(client, upstream, "s3", h.jwt());
    expect(app.sessions.size).toBe(2);
  });

  it("gives the slot of a failed new Init back", async () => {
    const config = await limitedConfig({ maxSessions: 1 });
    const { client, upstream, app } = await appWithUpstream(h, config);
    upstream.onValidate = () => 401;
    await expectRpcError(
      client.init({ sessionId: "s1", apiUrl: upstream.apiUrl, jwtToken: h.jwt() }),
      Code.Unauthenticated,
      "CREDENTIALS_REJECTED",
    );
    upstream.onValidate = () => 200;
    await initSession(client, upstream, "s2", h.jwt());
    await expectRpcError(
      client.init({ sessionId: "s3", apiUrl: upstream.apiUrl, jwtToken: h.jwt() }),
      Code.ResourceExhausted,
      "SESSION_LIMIT_REACHED",
    );
    expect(app.sessions.size).toBe(1);
  });

  /**
   * An app capped at two sessions that run the fixture, with `a` open under
   * `tA` and `b` under a fresh `tB`; the pids of their children, and
   * `newInit`, an Init of a new session with a fresh token.
   */
  async function fixturesAtTheCap(tA: string) {
    events = createEventLog();
    const config = await limitedConfig({ maxSessions: 2 }, { mcpServers: fixtureServers(events) });
    const testApp = await appWithUpstream(h, config);
    const { client, upstream } = testApp;
    const tB = h.jwt();
    await initSession(client, upstream, "a", tA);
    await initSession(client, upstream, "b", tB);
    const pidA = await childPid(client, "a", tA);
    const pidB = await childPid(client, "b", tB);
    const newInit = (sessionId: string) =>
      client.init({ sessionId, apiUrl: upstream.apiUrl, jwtToken: h.jwt() });
    return { ...testApp, tB, pidA, pidB, newInit };
  }

  it("ends a session when its JWT expires, which frees its slot", async () => {
    // `exp` is in whole seconds: 2 to 3 s from now, so both Inits and the first refusal come before it.
    const expSeconds = Math.floor(Date.now() / 1000) + 3;
    const tA = h.jwt({ exp: expSeconds });
    const { client, upstream, starts, app, logs, tB, pidA, pidB, newInit } =
      await fixturesAtTheCap(tA);

    // Both usable: no room, and nothing evicted.
    await expectRpcError(newInit("c"), Code.ResourceExhausted, "SESSION_LIMIT_REACHED");
    expect(Date.now()).toBeLessThan(expSeconds * 1000);
    expect(starts.closed).toBe(0);

    // At `exp` the session ends on its own: its child exits and its slot is free.
    await waitFor(() => app.sessions.size === 1, "A to end at its token's exp");
    expect(Date.now()).toBeGreaterThanOrEqual(expSeconds * 1000);
    await waitFor(() => processGone(pidA), `A's child ${pidA} to exit`);
    expect(starts.closed).toBe(1);
    expect(auditTrail(logs, ["session_closed"])).toEqual([
      ["session_closed", "a", "token_expired"],
    ]);
    // Its holder is told why, its id is free for a new Init.
    await expectRpcError(
      client.listTools({ sessionId: "a" }, bearer(tA)),
      Code.Unauthenticated,
      "TOKEN_EXPIRED",
    );
    const tC = h.jwt();
    await initSession(client, upstream, "c", tC);
    expect(app.sessions.size).toBe(2);
    // B is untouched: same child, still serving.
    expect(processGone(pidB)).toBe(false);
    expect(await childPid(client, "b", tB)).toBe(pidB);
    expect(await childPid(client, "c", tC)).not.toBe(pidA);

    // B and C are active: the next new session is refused, and neither is evicted.
    await expectRpcError(newInit("d"), Code.ResourceExhausted, "SESSION_LIMIT_REACHED");
    expect(starts.closed).toBe(1);
    expect(app.sessions.size).toBe(2);
    expect(toolNames(await client.listTools({ sessionId: "b" }, bearer(tB)))).toContain("info");
  });

  it("evicts a session whose MCP server exited to make room", async () => {
    const tA = h.jwt();
    const { client, upstream, app, logs, tB, pidA, pidB, newInit } = await fixturesAtTheCap(tA);

    await expectRpcError(
      client.callTool({ sessionId: "a", name: "crash" }, bearer(tA)),
      Code.Unavailable,
      "MCP_SERVER_EXITED",
    );
    await waitFor(() => processGone(pidA), `A's child ${pidA} to exit`);
    // Lost, but kept (a call of its holder would restart it) until a new session needs the room.
    expect(app.sessions.size).toBe(2);

    await initSession(client, upstream, "c", h.jwt());
    expect(app.sessions.size).toBe(2);
    await expectRpcError(
      client.listTools({ sessionId: "a" }, bearer(tA)),
      Code.NotFound,
      "SESSION_NOT_FOUND",
    );
    expect(auditTrail(logs, ["session_lost", "session_closed"])).toEqual([
      ["session_lost", "a", "exited"],
      ["session_closed", "a", "evicted"],
    ]);
    expect(await childPid(client, "b", tB)).toBe(pidB);

    await expectRpcError(newInit("d"), Code.ResourceExhausted, "SESSION_LIMIT_REACHED");
    expect(auditTrail(logs, ["session_closed"])).toHaveLength(1);
  });

  it("never evicts active sessions, however old or idle", async () => {
    const { client, upstream, starts, app, logs, t1, t2 } = await atTheCap();
    for (let i = 0; i < 3; i++) {
      await expectRpcError(
        client.init({ sessionId: `n${i}`, apiUrl: upstream.apiUrl, jwtToken: h.jwt() }),
        Code.ResourceExhausted,
        "SESSION_LIMIT_REACHED",
      );
    }
    expect(starts.closed).toBe(0);
    expect(app.sessions.size).toBe(2);
    expect(auditTrail(logs, ["session_closed"])).toEqual([]);
    await expectBothServe(client, t1, t2);
  });

  it("cannot be exceeded by new Inits that run at the same time", async () => {
    const config = await limitedConfig({ maxSessions: 2 });
    const { client, upstream, starts, app } = await appWithUpstream(h, config);
    // Slow checks: all five Inits are under way before the first finishes.
    upstream.onValidate = () => ({ status: 200, delayMs: 150 });
    const outcomes = await Promise.allSettled(
      [1, 2, 3, 4, 5].map((i) =>
        client.init({ sessionId: `c${i}`, apiUrl: upstream.apiUrl, jwtToken: h.jwt() }),
      ),
    );
    const ok = outcomes.filter((o) => o.status === "fulfilled");
    const refused = outcomes.flatMap((o) => (o.status === "rejected" ? [o.reason] : []));
    expect(ok).toHaveLength(2);
    expect(refused.map((e) => toRpcFailure(e))).toEqual(
      Array.from({ length: 3 }, () =>
        expect.objectContaining({ code: Code.ResourceExhausted, reason: "SESSION_LIMIT_REACHED" }),
      ),
    );
    expect(app.sessions.size).toBe(2);
    expect(upstream.validations()).toHaveLength(2);
    expect(starts.started).toBe(2);
  });
});

describe("limits.maxInFlightCallsPerSession", () => {
  it("runs two calls, refuses the third at once with TOO_MANY_IN_FLIGHT_CALLS, then serves again", async () => {
    events = createEventLog();
    const log = events;
    const config = await limitedConfig(
      { maxInFlightCallsPerSession: 2 },
      { mcpServers: { fx: nodeServer(paths.stdioFixture, { FIXTURE_EVENTS: log.path }) } },
    );
    const { client, upstream } = await appWithUpstream(h, config);
    const token = h.jwt();
    await initSession(client, upstream, "s1", token);
    const sleep = (ms: number) => ({ sessionId: "s1", name: "sleep", arguments: { ms } });
    const callsInChild = () =>
      log.read().filter((e) => e.event === "message" && e.method === "tools/call").length;

    let finished = 0;
    const sleepers = [1, 2].map(() =>
      client.callTool(sleep(2_000), bearer(token)).finally(() => finished++),
    );
    await waitFor(() => callsInChild() === 2, "both sleeps running in the child");

    const started = Date.now();
    const { info } = await expectRpcError(
      client.callTool(sleep(1), bearer(token)),
      Code.ResourceExhausted,
      "TOO_MANY_IN_FLIGHT_CALLS",
    );
    // Answered at once, not queued behind the sleepers.
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(finished).toBe(0);
    expect(info.metadata.max_in_flight_calls).toBe("2");
    expect(callsInChild()).toBe(2);

    // The cap is per session: another session's calls still run.
    const t2 = h.jwt();
    await initSession(client, upstream, "s2", t2);
    const other = await client.callTool({ ...sleep(1), sessionId: "s2" }, bearer(t2));
    expect(other.isError).toBe(false);

    const results = await Promise.all(sleepers);
    expect(results.map((r) => r.isError)).toEqual([false, false]);
    const after = await client.callTool(sleep(1), bearer(token));
    expect(after.isError).toBe(false);
  });

  it("counts ListTools and the listing an unknown tool name triggers against the cap", async () => {
    events = createEventLog();
    const log = events;
    const config = await limitedConfig(
      { maxInFlightCallsPerSession: 2 },
      { mcpServers: fixtureServers(log) },
    );
    const { client, upstream } = await appWithUpstream(h, config);
    const token = h.jwt();
    await initSession(client, upstream, "s1", token);
    const callsInChild = () =>
      log.read().filter((e) => e.event === "message" && e.method === "tools/call").length;

    let finished = 0;
    const sleepers = [1, 2].map(() =>
      client
        .callTool({ sessionId: "s1", name: "sleep", arguments: { ms: 2_000 } }, bearer(token))
        .finally(() => finished++),
    );
    await waitFor(() => callsInChild() === 2, "both sleeps running in the child");
    const lists = listsInChild(log);

    const started = Date.now();
    const list = await expectRpcError(
      client.listTools({ sessionId: "s1" }, bearer(token)),
      Code.ResourceExhausted,
      "TOO_MANY_IN_FLIGHT_CALLS",
    );
    expect(list.info.metadata.max_in_flight_calls).toBe("2");
    // Not TOOL_NOT_FOUND: the name is not even looked up, so the child is not asked.
    await expectRpcError(
      client.callTool({ sessionId: "s1", name: "no-such-tool" }, bearer(token)),
      Code.ResourceExhausted,
      "TOO_MANY_IN_FLIGHT_CALLS",
    );
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(finished).toBe(0);
    expect(listsInChild(log)).toBe(lists);
    expect(callsInChild()).toBe(2);

    expect((await Promise.all(sleepers)).map((r) => r.isError)).toEqual([false, false]);
    // With the slots free again, both are served, one listing each.
    expect(toolNames(await client.listTools({ sessionId: "s1" }, bearer(token)))).toContain(
      "sleep",
    );
    await expectRpcError(
      client.callTool({ sessionId: "s1", name: "no-such-tool" }, bearer(token)),
      Code.NotFound,
      "TOOL_NOT_FOUND",
    );
    expect(listsInChild(log)).toBe(lists + 2);
  });

  it("lets 200 concurrent calls of unknown tools run at most 2 listings at the child", async () => {
    events = createEventLog();
    const log = events;
    // Each listing takes 300 ms at the child, so the calls overlap.
    const config = await limitedConfig(
      { maxInFlightCallsPerSession: 2 },
      { mcpServers: fixtureServers(log, { FIXTURE_LIST_DELAY_MS: "300" }) },
    );
    const { client, upstream } = await appWithUpstream(h, config);
    const token = h.jwt();
    await initSession(client, upstream, "s1", token);
    const before = log.read().length;

    const outcomes = await Promise.allSettled(
      Array.from({ length: 200 }, (_, i) =>
        client.callTool({ sessionId: "s1", name: `missing-${i}` }, bearer(token)),
      ),
    );
    const reasons = outcomes.map((o) =>
      o.status === "rejected" ? toRpcFailure(o.reason).reason : "ok",
    );
    const notFound = reasons.filter((r) => r === "TOOL_NOT_FOUND").length;
    const refused = reasons.filter((r) => r === "TOO_MANY_IN_FLIGHT_CALLS").length;
    expect(notFound + refused).toBe(200);
    expect(notFound).toBeGreaterThanOrEqual(1);

    // Listings running at the child at once: +1 when one arrives, -1 when it is answered.
    let running = 0;
    let most = 0;
    let listed = 0;
    for (const e of log.read().slice(before)) {
      if (e.event === "message" && e.method === "tools/list") {
        listed++;
        running++;
        most = Math.max(most, running);
      } else if (e.event === "list_answered") {
        running--;
      }
    }
    expect(most).toBeGreaterThanOrEqual(1);
    expect(most).toBeLessThanOrEqual(2);
    // Every call that got a slot listed once; no refused call reached the child.
    expect(listed).toBe(notFound);
  });

  it("frees the slot of a call that failed", async () => {
    events = createEventLog();
    const config = await limitedConfig(
      { maxInFlightCallsPerSession: 1 },
      { mcpServers: { fx: nodeServer(paths.stdioFixture, { FIXTURE_EVENTS: events.path }) } },
    );
    const { client, upstream } = await appWithUpstream(h, config);
    const token = h.jwt();
    await initSession(client, upstream, "s1", token);
    await expectRpcError(
      client.callTool({ sessionId: "s1", name: "strict", arguments: { n: "x" } }, bearer(token)),
      Code.InvalidArgument,
      "TOOL_INVALID_ARGUMENTS",
    );
    const ok = await client.callTool(
      { sessionId: "s1", name: "strict", arguments: { n: 2 } },
      bearer(token),
    );
    expect(ok.isError).toBe(false);
  });
});
