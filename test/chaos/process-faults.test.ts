import { Code } from "@connectrpc/connect";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { EventLog } from "../mcp/harness.js";
import {
  createHarness,
  expectRpcError,
  type Harness,
  type SessionClient,
} from "../service/harness.js";
import { bearer } from "../support/bearer.js";
import {
  cmdline,
  type ProcStat,
  processesWithEnv,
  readStat,
  waitUntilGone,
  zombies,
} from "../support/proc-tree.js";
import { type RpcFailure, toRpcFailure } from "../support/rpc-failure.js";
import { waitFor } from "../support/wait.js";
import {
  type ChaosAppOptions,
  type ChaosSwitches,
  callStructured,
  chaosApp,
  chaosEvents,
  chaosServerPid,
  childProcesses,
  expectNoZombies,
  openSession,
} from "./harness.js";

const sessionId = "s-faults";
// The stop grace every test here runs with: stdin end, then SIGTERM, then SIGKILL.
const stopGraceMs = 200;

let h: Harness;
let events: EventLog;
/** Every chaos process a test learnt about, with its start time against pid reuse. */
const tracked: ProcStat[] = [];

beforeEach(() => {
  h = createHarness();
  events = chaosEvents(h);
});

afterEach(async () => {
  const marker = `CHAOS_EVENTS=${events.path}`;
  try {
    await h.cleanup();
  } finally {
    // Found by their environment too: grandchildren the test never saw, orphans included.
    const candidates = [...tracked.splice(0), ...processesWithEnv(marker)];
    const ours = candidates.filter((p) => readStat(p.pid)?.startTime === p.startTime);
    const survivors = await waitUntilGone(
      ours.map((p) => p.pid),
      3_000,
    );
    const described = survivors.map((pid) => `${pid} ${cmdline(pid)}`);
    for (const pid of survivors) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // Gone between the check and the kill.
      }
    }
    expect(described, "processes of this test still running after cleanup").toEqual([]);
    // The service reaps its children from its event loop: give it a moment.
    await waitFor(() => zombies(process.pid).length === 0, "zombies to be reaped", 2_000).catch(
      () => {},
    );
    expectNoZombies();
  }
});

/** Remembers `pids` for the check after the test. */
function track(...pids: number[]): void {
  for (const pid of pids) {
    const stat = readStat(pid);
    if (stat) tracked.push(stat);
  }
}

/** How a call ended, and when (`performance.now()`). */
interface Settled {
  readonly atMs: number;
  readonly failure: RpcFailure | undefined;
}

/** Awaits `call` and reports when it settled and how it failed, if it did; never rejects. */
function settle(call: Promise<unknown>): Promise<Settled> {
  return call.then(
    () => ({ atMs: performance.now(), failure: undefined }),
    (thrown: unknown) => ({ atMs: performance.now(), failure: toRpcFailure(thrown) }),
  );
}

/** Fails unless `settled` failed with `code` and `reason`; returns its ErrorInfo metadata. */
function expectFailed(settled: Settled, code: Code, reason: string): Record<string, string> {
  const { failure } = settled;
  expect({ code: failure?.code, reason: failure?.reason }).toEqual({ code, reason });
  return failure?.metadata ?? {};
}

/** The events the chaos servers recorded, as JSON objects. */
type ChaosEvent = Record<string, unknown>;

/** The JSON-RPC messages with `method` that chaos server `pid` received. */
function received(pid: number, method: string): ChaosEvent[] {
  return events.read().filter((e) => e.pid === pid && e.event === "message" && e.method === method);
}

/** The first `tools/call` of `tool` that chaos server `pid` received, if any. */
function toolCall(pid: number, tool: string, text?: string): ChaosEvent | undefined {
  return received(pid, "tools/call").find((e) => {
    const params = e.params as { name?: unknown; arguments?: { text?: unknown } } | undefined;
    return params?.name === tool && (text === undefined || params.arguments?.text === text);
  });
}

/** The pids of every chaos server that got as far as receiving `initialize`. */
function serversStarted(): number[] {
  const pids = events
    .read()
    .filter((e) => e.event === "message" && e.method === "initialize")
    .map((e) => e.pid as number);
  return [...new Set(pids)];
}

/** The text of a tool result's first content block. */
function firstText(result: { content: { kind: { value?: unknown } }[] }): unknown {
  return (result.content[0]?.kind.value as { text?: unknown } | undefined)?.text;
}

/** The pid of the chaos server behind `tool` (`pids` or `<server>__pids`), tracked. */
async function serverPid(
  client: SessionClient,
  session: string,
  token: string,
  tool = "pids",
): Promise<number> {
  const pid = await chaosServerPid(client, session, token, tool);
  track(pid);
  return pid;
}

/** A chaos app recording into this test's event log, with the short stop grace. */
function faultsApp(options: ChaosAppOptions = {}) {
  return chaosApp(h, { events, stdio: { stopGraceMs }, ...options });
}

/** A single-server app (tool names bare) with the given chaos switches, and a session. */
async function singleServerSession(switches: ChaosSwitches = {}) {
  const app = await faultsApp({ switches });
  return { ...app, token: await openSession(h, app, sessionId) };
}

/**
 * Starts a 10 s `sleep` through `tool`, SIGKILLs server `pid` once the call
 * reached it and fails unless the call failed with MCP_SERVER_EXITED for
 * `server` within a second; resolves with when the kill was sent.
 */
async function killMidCall(
  client: SessionClient,
  token: string,
  pid: number,
  tool: string,
  server: string,
): Promise<number> {
  const sleeping = settle(
    client.callTool({ sessionId, name: tool, arguments: { ms: 10_000 } }, bearer(token)),
  );
  await waitFor(() => toolCall(pid, "sleep"), `the sleep call to reach server ${pid}`);
  const killedAt = performance.now();
  process.kill(pid, "SIGKILL");
  const failed = await sleeping;
  const metadata = expectFailed(failed, Code.Unavailable, "MCP_SERVER_EXITED");
  expect(metadata).toEqual({ server, why: "exited", signal: "SIGKILL" });
  expect(failed.atMs - killedAt, "ms from the kill to the failed call").toBeLessThan(1_000);
  return killedAt;
}

/**
 * Has server `pid` start a grandchild through `tool`, tracks it and fails
 * unless it is in the server's process group; resolves with its pid.
 */
async function spawnGrandchild(
  client: SessionClient,
  token: string,
  pid: number,
  tool: string,
): Promise<number> {
  const grandchild = await callStructured<{ pid: number }>(client, sessionId, token, tool);
  track(grandchild.pid);
  expect(readStat(grandchild.pid)?.pgid, "the grandchild is in its server's group").toBe(pid);
  return grandchild.pid;
}

/** Closes `session` and fails unless every one of `pids` is gone within `withinMs` of the close. */
async function closeAndExpectGone(
  client: SessionClient,
  session: string,
  token: string,
  pids: number[],
  withinMs: number,
): Promise<void> {
  const closingAt = performance.now();
  const closed = await client.closeSession({ sessionId: session }, bearer(token));
  expect(closed.closed).toBe(true);
  const left = withinMs - (performance.now() - closingAt);
  expect(await waitUntilGone(pids, Math.max(0, left)), "processes still running").toEqual([]);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("stdio servers that die", () => {
  it("kill -9 of a child mid-call fails the call within a second with MCP_SERVER_EXITED", async () => {
    const app = await faultsApp({ servers: ["a", "b"] });
    const { client, upstream } = app;
    const token = await openSession(h, app, sessionId);
    const a = await serverPid(client, sessionId, token, "a__pids");
    const b = await serverPid(client, sessionId, token, "b__pids");

    await killMidCall(client, token, a, "a__sleep", "a");
    // The session is not left half alive: b goes with a.
    expect(await waitUntilGone([a, b], 3_000), "old servers still running").toEqual([]);

    const checks = upstream.validations().length;
    const a2 = await serverPid(client, sessionId, token, "a__pids");
    expect(upstream.validations(), "one fresh credential check for the restart").toHaveLength(
      checks + 1,
    );
    const b2 = await serverPid(client, sessionId, token, "b__pids");
    expect(upstream.validations()).toHaveLength(checks + 1);
    expect(new Set([a, b, a2, b2]).size, "the restart started new processes").toBe(4);
    const echoed = await client.callTool(
      { sessionId, name: "b__echo", arguments: { text: "after the restart" } },
      bearer(token),
    );
    expect(firstText(echoed)).toBe("after the restart");
  });

  it("a restart is refused when the credential check now rejects the token", async () => {
    const { client, upstream, token } = await singleServerSession();
    const pid = await serverPid(client, sessionId, token);
    const crashed = await settle(client.callTool({ sessionId, name: "crash" }, bearer(token)));
    const metadata = expectFailed(crashed, Code.Unavailable, "MCP_SERVER_EXITED");
    expect(metadata).toEqual({ server: "chaos", why: "exited", exit_code: "3" });
    expect(await waitUntilGone([pid], 3_000)).toEqual([]);
    const started = serversStarted();
    expect(started).toEqual([pid]);

    upstream.onValidate = () => 401;
    const checks = upstream.validations().length;
    await expectRpcError(
      client.callTool({ sessionId, name: "pids" }, bearer(token)),
      Code.Unauthenticated,
      "CREDENTIALS_REJECTED",
    );
    expect(upstream.validations(), "the restart checked the token afresh").toHaveLength(checks + 1);
    expect(serversStarted(), "no server started for a rejected token").toEqual(started);
    expect(childProcesses(), "processes below the test process").toEqual([]);
  });

  it("a server that exits at start-up does not spin", async () => {
    const { client, upstream } = await faultsApp({
      switches: { exitAtStart: 1 },
      sessions: {
        restart: { backoffMs: 200, maxBackoffMs: 1_000, crashBudget: 3, crashWindowMs: 60_000 },
      },
    });
    const token = h.jwt();
    const init = (id = sessionId) =>
      client.init({ sessionId: id, apiUrl: upstream.apiUrl, jwtToken: token });
    const exitsAtStart = () => events.read().filter((e) => e.event === "exit_at_start");

    const startedAt = performance.now();
    await expectRpcError(init(), Code.Internal, "MCP_SERVER_START_FAILED");
    expect(performance.now() - startedAt, "ms to report the failed start").toBeLessThan(5_000);
    // The first restart after a crash is immediate.
    await expectRpcError(init(), Code.Internal, "MCP_SERVER_START_FAILED");
    const { info: backoff } = await expectRpcError(init(), Code.Unavailable, "MCP_SERVER_BACKOFF");
    const retryAfterMs = Number(backoff.metadata.retry_after_ms);
    expect(retryAfterMs).toBeGreaterThan(0);
    expect(retryAfterMs).toBeLessThanOrEqual(200);
    expect(backoff.metadata.crashes).toBe("2");

    // A little over: timers and the wall clock may disagree by a millisecond.
    await sleep(retryAfterMs + 20);
    await expectRpcError(init(), Code.Internal, "MCP_SERVER_START_FAILED");
    const { info: loop } = await expectRpcError(init(), Code.Unavailable, "MCP_SERVER_CRASH_LOOP");
    expect(Number(loop.metadata.retry_after_ms)).toBeGreaterThan(0);
    expect(exitsAtStart(), "processes started").toHaveLength(3);
    expect(new Set(exitsAtStart().map((e) => e.pid)).size).toBe(3);

    // The budget is per session id.
    await expectRpcError(init("s-faults-other"), Code.Internal, "MCP_SERVER_START_FAILED");
    expect(exitsAtStart()).toHaveLength(4);
  });

  it("a child killed while a grandchild holds its pipes still fails the pending call within a second", async () => {
    const { client, token } = await singleServerSession();
    const pid = await serverPid(client, sessionId, token);
    const grandchild = await spawnGrandchild(client, token, pid, "spawn_grandchild_holding_pipes");

    const killedAt = await killMidCall(client, token, pid, "sleep", "chaos");
    const left = 3_000 - (performance.now() - killedAt);
    expect(await waitUntilGone([pid, grandchild], Math.max(0, left))).toEqual([]);
  });
});

describe("stdio servers that hang", () => {
  it("a SIGSTOPped child: the call ends at its timeout, the server is sent a cancellation, other sessions go on", async () => {
    const app = await faultsApp();
    const { client } = app;
    const stoppedToken = await openSession(h, app, "s-stopped");
    const runningToken = await openSession(h, app, "s-running");
    const stopped = await serverPid(client, "s-stopped", stoppedToken);
    const running = await serverPid(client, "s-running", runningToken);

    process.kill(stopped, "SIGSTOP");
    await waitFor(() => readStat(stopped)?.state === "T", "the server to stop");
    const calledAt = performance.now();
    const [hung, other] = await Promise.all([
      settle(
        client.callTool(
          {
            sessionId: "s-stopped",
            name: "echo",
            arguments: { text: "to the stopped server" },
            timeout: { seconds: 0n, nanos: 400_000_000 },
          },
          bearer(stoppedToken),
        ),
      ),
      client.callTool(
        { sessionId: "s-running", name: "echo", arguments: { text: "to the running server" } },
        bearer(runningToken),
      ),
    ]);
    expectFailed(hung, Code.DeadlineExceeded, "MCP_TIMEOUT");
    expect(hung.atMs - calledAt, "ms until the call timed out").toBeLessThan(3_000);
    expect(firstText(other)).toBe("to the running server");

    process.kill(stopped, "SIGCONT");
    const call = await waitFor(
      () => toolCall(stopped, "echo", "to the stopped server"),
      "the timed-out call to reach the continued server",
    );
    await waitFor(
      () =>
        received(stopped, "notifications/cancelled").find(
          (e) => (e.params as { requestId?: unknown } | undefined)?.requestId === call.id,
        ),
      `notifications/cancelled for request ${String(call.id)}`,
    );
    // A timeout is not a lost server: the session goes on with the same process.
    expect(await serverPid(client, "s-stopped", stoppedToken)).toBe(stopped);

    process.kill(stopped, "SIGSTOP");
    await waitFor(() => readStat(stopped)?.state === "T", "the server to stop again");
    await closeAndExpectGone(client, "s-stopped", stoppedToken, [stopped], 2 * stopGraceMs + 2_000);
    expect(await serverPid(client, "s-running", runningToken)).toBe(running);
  });
});

describe("stopping stdio servers", () => {
  it("closing a session ends the whole process tree", async () => {
    const { client, token } = await singleServerSession();
    const pid = await serverPid(client, sessionId, token);
    expect(readStat(pid)?.pgid, "the server leads its own group").toBe(pid);
    const grandchild = await spawnGrandchild(client, token, pid, "spawn_grandchild");

    await closeAndExpectGone(client, sessionId, token, [pid, grandchild], 3_000);
  });

  it("a server that ignores stdin end and SIGTERM is SIGKILLed after two grace periods", async () => {
    const { client, token } = await singleServerSession({
      ignoreStdinEnd: true,
      ignoreSigterm: true,
    });
    const pid = await serverPid(client, sessionId, token);

    await closeAndExpectGone(client, sessionId, token, [pid], 2_000);
    const seen = events
      .read()
      .filter((e) => e.pid === pid)
      .map((e) => e.event);
    expect(seen).toContain("stdin_end");
    expect(seen).toContain("sigterm_ignored");
  });
});
