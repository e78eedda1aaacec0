import { setTimeout as sleep } from "node:timers/promises";
import type { JsonObject } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ErrorInfoSchema } from "../../gen/mcpclient/v1/error_info_pb.js";
import type { CallToolResponse } from "../../gen/mcpclient/v1/session_service_pb.js";
import type { EventLog } from "../mcp/harness.js";
import { createHarness, expectRpcError, type Harness, initSession } from "../service/harness.js";
import { bearer } from "../support/bearer.js";
import { processGone } from "../support/process-gone.js";
import { waitFor } from "../support/wait.js";
import {
  type ChaosApp,
  chaosApp,
  chaosServerPid,
  childProcesses,
  expectGone,
  expectNoZombies,
  openSession,
} from "./harness.js";

const MiB = 1024 * 1024;

let h: Harness;
/** Every chaos server pid the test saw: all must be gone once it has cleaned up. */
let seen: number[];

beforeEach(() => {
  h = createHarness();
  seen = [];
});

afterEach(async () => {
  try {
    await h.cleanup();
  } finally {
    await expectGone(seen, 5_000);
    expect(childProcesses()).toEqual([]);
    expectNoZombies();
  }
});

/** The pid of the session's server `tool` reports (`pids`, or `<server>__pids`), remembered. */
async function serverPid(
  app: ChaosApp,
  sessionId: string,
  token: string,
  tool = "pids",
): Promise<number> {
  const pid = await chaosServerPid(app.client, sessionId, token, tool);
  seen.push(pid);
  return pid;
}

function call(app: ChaosApp, sessionId: string, token: string, name: string, args: JsonObject) {
  return app.client.callTool({ sessionId, name, arguments: args }, bearer(token));
}

/** The text of a response's only content item; fails on anything else. */
function textOf(res: CallToolResponse): string {
  const [only, ...more] = res.content.map((item) => item.kind);
  if (only?.case !== "text" || more.length > 0) throw new Error("expected one text item");
  return only.value.text;
}

async function echo(app: ChaosApp, sessionId: string, token: string, text: string) {
  expect(textOf(await call(app, sessionId, token, "echo", { text }))).toBe(text);
}

/** The log lines, parsed. */
function entries(logs: readonly string[]): Record<string, unknown>[] {
  return logs.map((line) => JSON.parse(line) as Record<string, unknown>);
}

/** The audit lines logged so far, as `[event, session_id, why]`, for the events named. */
function auditTrail(logs: readonly string[], names: readonly string[]): unknown[][] {
  return entries(logs)
    .filter((e) => e.audit === true && names.includes(e.msg as string))
    .map((e) => [e.msg, e.session_id, e.why]);
}

/** The ErrorInfo reason of a failed call, or undefined when it succeeded. */
async function failureReason(call: Promise<unknown>): Promise<string | undefined> {
  return call.then(
    () => undefined,
    (e: unknown) => ConnectError.from(e).findDetails(ErrorInfoSchema)[0]?.reason ?? "NO_REASON",
  );
}

const flooded = (events: EventLog) => events.read().filter((e) => e.event === "flooded");

describe("stdio floods", () => {
  it("a server that floods stdout without a newline is ended and the session says why", async () => {
    const app = await chaosApp(h, { stdio: { maxMessageBytes: 1 * MiB } });
    const tA = await openSession(h, app, "flooder");
    const tB = await openSession(h, app, "bystander");
    const pidA = await serverPid(app, "flooder", tA);
    const pidB = await serverPid(app, "bystander", tB);

    // Sampled as well as read at the end: a buffered flood could be freed by a GC before "after".
    const rssBefore = process.memoryUsage().rss;
    let rssPeak = rssBefore;
    const sampler = setInterval(() => {
      rssPeak = Math.max(rssPeak, process.memoryUsage().rss);
    }, 5);
    let info: Awaited<ReturnType<typeof expectRpcError>>["info"];
    try {
      const flood = expectRpcError(
        call(app, "flooder", tA, "flood_stdout", { bytes: 64 * MiB }),
        Code.Unavailable,
        "MCP_SERVER_EXITED",
      );
      // The other session answers while the flood runs.
      const [failed] = await Promise.all([flood, echo(app, "bystander", tB, "during")]);
      info = failed.info;
      await waitFor(() => processGone(pidA), `the flooding server ${pidA} to be gone`);
    } finally {
      clearInterval(sampler);
    }
    const grewBy = Math.max(rssPeak, process.memoryUsage().rss) - rssBefore;

    expect(info.metadata).toMatchObject({ server: "chaos", why: "stdout_flood" });
    // Ended mid-flood: the fixture never got to record that its 64 MiB were written.
    expect(flooded(app.events)).toEqual([]);
    // 64 MiB buffered would show; a bounded reader holds at most maxMessageBytes
    // plus a few pipe chunks. Growth seen on this machine (2 shared cores) over 3
    // runs: 0.6-2 MiB, and 67 MiB with maxMessageBytes raised to 100 MiB (a reader
    // that keeps the whole line); 48 MiB leaves room for GC timing between the two.
    expect(grewBy).toBeLessThan(48 * MiB);
    expect(auditTrail(app.logs, ["session_lost"])).toEqual([
      ["session_lost", "flooder", "stdout_flood"],
    ]);

    // The bystander kept its server; the flooder's holder gets a fresh one.
    await echo(app, "bystander", tB, "after");
    expect(await serverPid(app, "bystander", tB)).toBe(pidB);
    expect(processGone(pidB)).toBe(false);
    expect(await serverPid(app, "flooder", tA)).not.toBe(pidA);
  });

  it("a server that floods stderr is ended and the log stays bounded", async () => {
    const rate = 65_536;
    const app = await chaosApp(h, { stdio: { maxStderrBytesPerSecond: rate } });
    const token = await openSession(h, app, "noisy");
    const pid = await serverPid(app, "noisy", token);

    const started = performance.now();
    // 64 MiB against a 640 KiB burst: the pipe moves it far faster than 64 KiB/s,
    // so the budget trips within the call itself, long before the flood ends.
    const { info } = await expectRpcError(
      call(app, "noisy", token, "flood_stderr", { bytes: 64 * MiB }),
      Code.Unavailable,
      "MCP_SERVER_EXITED",
    );
    expect(info.metadata).toMatchObject({ server: "chaos", why: "stderr_flood" });
    await waitFor(() => processGone(pid), `the flooding server ${pid} to be gone`);
    const elapsedS = (performance.now() - started) / 1000;
    expect(flooded(app.events)).toEqual([]);
    expect(auditTrail(app.logs, ["session_lost"])).toEqual([
      ["session_lost", "noisy", "stderr_flood"],
    ]);

    const stderrLines = entries(app.logs).filter((e) => e.msg === "mcp server stderr");
    expect(stderrLines.every((e) => e.session_id === "noisy" && e.server === "chaos")).toBe(true);
    // The 640 KiB the byte budget let through before the kill were ~6,500 lines
    // of 100 chars: the log got its burst of 200 and then at most 50 a second
    // (plus slack for the end-of-stream line), so thousands were left out.
    expect(stderrLines.length).toBeGreaterThanOrEqual(200);
    expect(stderrLines.length).toBeLessThanOrEqual(200 + 50 * elapsedS + 5);
    // The count of left-out lines rides on the next line logged, and whatever
    // is still uncounted when the server ends goes into a last summary line:
    // together they account for thousands of lines.
    const dropped = stderrLines.map((e) => Number(e.dropped_lines ?? 0));
    expect(dropped.slice(0, 200).filter((d) => d > 0)).toEqual([]);
    const summaries = entries(app.logs).filter((e) => e.msg === "mcp server stderr lines dropped");
    expect(summaries.length).toBeLessThanOrEqual(1);
    const totalDropped =
      dropped.reduce((sum, d) => sum + d, 0) +
      summaries.reduce((sum, e) => sum + Number(e.dropped_lines), 0);
    expect(totalDropped).toBeGreaterThan(1_000);
    // Each entry is one stderr line (cut at 8 KiB, plus "…"), never a whole 64 KiB chunk.
    const longest = Math.max(...stderrLines.map((e) => String(e.stderr).length));
    expect(longest).toBeLessThanOrEqual(8 * 1024 + 1);
  });

  it("a stderr writer under the limit is not ended", async () => {
    const app = await chaosApp(h);
    expect(app.config.stdio.maxStderrBytesPerSecond).toBe(MiB);
    const token = await openSession(h, app, "chatty");
    const pid = await serverPid(app, "chatty", token);

    const res = await call(app, "chatty", token, "flood_stderr", { bytes: 100 * 1024 });
    expect(textOf(res)).toBe("flooded");
    expect(await serverPid(app, "chatty", token)).toBe(pid);
    await echo(app, "chatty", token, "still here");
    expect(auditTrail(app.logs, ["session_lost", "session_closed"])).toEqual([]);
  });
});

describe("session lifetimes", () => {
  it("an idle session ends after sessions.idleTimeoutMs", async () => {
    const idleTimeoutMs = 400;
    const app = await chaosApp(h, { sessions: { idleTimeoutMs } });
    const token = await openSession(h, app, "idle");
    const usedAt = Date.now();
    const pid = await serverPid(app, "idle", token);

    await waitFor(() => processGone(pid), `the idle session's server ${pid} to end`, 2_400);
    // Timers may fire a millisecond early; the session must not end much before its time.
    expect(Date.now() - usedAt).toBeGreaterThanOrEqual(idleTimeoutMs - 5);
    expect(app.app.sessions.size).toBe(0);

    const { info } = await expectRpcError(
      call(app, "idle", token, "echo", { text: "late" }),
      Code.NotFound,
      "SESSION_EXPIRED",
    );
    expect(info.metadata.why).toBe("idle_timeout");
    // Only the holder learns why; anyone else sees no session at all.
    await expectRpcError(
      call(app, "idle", h.jwt(), "echo", { text: "stranger" }),
      Code.NotFound,
      "SESSION_NOT_FOUND",
    );
    expect(auditTrail(app.logs, ["session_closed"])).toEqual([
      ["session_closed", "idle", "idle_timeout"],
    ]);

    await initSession(app.client, app.upstream, "idle", token);
    expect(await serverPid(app, "idle", token)).not.toBe(pid);
  });

  it("a session kept busy does not idle out, and a call longer than the idle timeout keeps it", async () => {
    const app = await chaosApp(h, { sessions: { idleTimeoutMs: 400 } });
    const token = await openSession(h, app, "busy");
    const pid = await serverPid(app, "busy", token);

    const until = Date.now() + 1_500;
    for (let i = 0; Date.now() < until; i++) {
      await echo(app, "busy", token, `tick ${i}`);
      await sleep(150);
    }
    expect(await serverPid(app, "busy", token)).toBe(pid);

    const res = await call(app, "busy", token, "sleep", { ms: 1_200 });
    expect(textOf(res)).toBe("slept");
    expect(await serverPid(app, "busy", token)).toBe(pid);
    expect(auditTrail(app.logs, ["session_lost", "session_closed"])).toEqual([]);
  });

  it("a session ends at sessions.maxLifetimeMs even while used", async () => {
    const maxLifetimeMs = 800;
    const app = await chaosApp(h, { sessions: { maxLifetimeMs, idleTimeoutMs: 60_000 } });
    const initAt = Date.now();
    const token = await openSession(h, app, "mortal");
    const pid = await serverPid(app, "mortal", token);

    const deadline = initAt + maxLifetimeMs + 2_000;
    let reason: string | undefined;
    let failedAt = 0;
    for (;;) {
      // A call in flight at the very moment the session ends is told why too.
      reason = await failureReason(call(app, "mortal", token, "echo", { text: "alive" }));
      failedAt = Date.now();
      if (reason !== undefined || failedAt > deadline) break;
      await sleep(150);
    }
    expect(reason).toBe("SESSION_EXPIRED");
    expect(failedAt - initAt).toBeGreaterThanOrEqual(maxLifetimeMs);
    expect(failedAt).toBeLessThanOrEqual(deadline);
    const { info } = await expectRpcError(
      call(app, "mortal", token, "echo", { text: "late" }),
      Code.NotFound,
      "SESSION_EXPIRED",
    );
    expect(info.metadata.why).toBe("max_lifetime");
    await waitFor(() => processGone(pid), `the ended session's server ${pid} to be gone`);
    expect(auditTrail(app.logs, ["session_closed"])).toEqual([
      ["session_closed", "mortal", "max_lifetime"],
    ]);
  });
});

describe("limits.maxChildProcesses", () => {
  it("Init past limits.maxChildProcesses is refused before any credential check", async () => {
    const app = await chaosApp(h, { limits: { maxChildProcesses: 2 } });
    const t1 = await openSession(h, app, "s1");
    const t2 = await openSession(h, app, "s2");
    const pid1 = await serverPid(app, "s1", t1);
    const pid2 = await serverPid(app, "s2", t2);
    const before = { checks: app.upstream.validations().length, calls: app.starts.calls };

    const t3 = h.jwt();
    const { info } = await expectRpcError(
      app.client.init({ sessionId: "s3", apiUrl: app.upstream.apiUrl, jwtToken: t3 }),
      Code.ResourceExhausted,
      "PROCESS_LIMIT_REACHED",
    );
    expect(info.metadata.max_child_processes).toBe("2");
    expect(Number(info.metadata.retry_after_ms)).toBeGreaterThan(0);
    expect(Number.isInteger(Number(info.metadata.retry_after_ms))).toBe(true);
    expect({ checks: app.upstream.validations().length, calls: app.starts.calls }).toEqual(before);

    expect((await app.client.closeSession({ sessionId: "s1" }, bearer(t1))).closed).toBe(true);
    await waitFor(() => processGone(pid1), `s1's server ${pid1} to be gone`);
    await initSession(app.client, app.upstream, "s3", t3);
    await serverPid(app, "s3", t3);
    expect(await serverPid(app, "s2", t2)).toBe(pid2);
  });

  it("counts every process of a session: two servers each, three allowed, the second Init is refused", async () => {
    const app = await chaosApp(h, { limits: { maxChildProcesses: 3 }, servers: ["a", "b"] });
    const t1 = await openSession(h, app, "s1");
    await serverPid(app, "s1", t1, "a__pids");
    await serverPid(app, "s1", t1, "b__pids");
    const checks = app.upstream.validations().length;

    const { info } = await expectRpcError(
      app.client.init({ sessionId: "s2", apiUrl: app.upstream.apiUrl, jwtToken: h.jwt() }),
      Code.ResourceExhausted,
      "PROCESS_LIMIT_REACHED",
    );
    expect(info.metadata.max_child_processes).toBe("3");
    expect(app.upstream.validations()).toHaveLength(checks);
  });

  it("a crashed session's restart counts against the process cap", async () => {
    const app = await chaosApp(h, { limits: { maxChildProcesses: 1 } });
    const token = await openSession(h, app, "crashy");
    const pid = await serverPid(app, "crashy", token);
    const otherInit = () =>
      app.client.init({ sessionId: "other", apiUrl: app.upstream.apiUrl, jwtToken: h.jwt() });
    // The cap binds: the one live process fills it.
    await expectRpcError(otherInit(), Code.ResourceExhausted, "PROCESS_LIMIT_REACHED");

    const { info } = await expectRpcError(
      call(app, "crashy", token, "crash", {}),
      Code.Unavailable,
      "MCP_SERVER_EXITED",
    );
    expect(info.metadata).toMatchObject({ why: "exited", exit_code: "3" });
    await waitFor(() => processGone(pid), `the crashed server ${pid} to be gone`);

    // The dead process no longer counts: the restart takes the one slot...
    const restarted = await serverPid(app, "crashy", token);
    expect(restarted).not.toBe(pid);
    // ...and holds it.
    await expectRpcError(otherInit(), Code.ResourceExhausted, "PROCESS_LIMIT_REACHED");
    expect(auditTrail(app.logs, ["session_lost", "session_restarted"])).toEqual([
      ["session_lost", "crashy", "exited"],
      ["session_restarted", "crashy", undefined],
    ]);
  });
});

describe("requests running when their session ends", () => {
  it("fail with SESSION_EXPIRED when the session reaches its lifetime", async () => {
    const app = await chaosApp(h, { sessions: { maxLifetimeMs: 600, idleTimeoutMs: 60_000 } });
    const token = await openSession(h, app, "mortal");
    await serverPid(app, "mortal", token);
    const { info } = await expectRpcError(
      call(app, "mortal", token, "sleep", { ms: 10_000 }),
      Code.NotFound,
      "SESSION_EXPIRED",
    );
    expect(info.metadata).toEqual({ why: "max_lifetime" });
  });

  it("fail with SESSION_NOT_FOUND when CloseSession closes the session", async () => {
    const app = await chaosApp(h);
    const token = await openSession(h, app, "closing");
    await serverPid(app, "closing", token);
    const running = expectRpcError(
      call(app, "closing", token, "sleep", { ms: 10_000 }),
      Code.NotFound,
      "SESSION_NOT_FOUND",
    );
    await waitFor(
      () => app.events.read().some((e) => e.event === "message" && e.method === "tools/call"),
      "the sleep call to reach the server",
    );
    const closed = await app.client.closeSession({ sessionId: "closing" }, bearer(token));
    expect(closed.closed).toBe(true);
    await running;
  });

  it("count idle time from the end of the last call", async () => {
    const app = await chaosApp(h, { sessions: { idleTimeoutMs: 400 } });
    const token = await openSession(h, app, "patient");
    const pid = await serverPid(app, "patient", token);
    expect(textOf(await call(app, "patient", token, "sleep", { ms: 1_000 }))).toBe("slept");
    await sleep(250);
    await echo(app, "patient", token, "still here");
    expect(await serverPid(app, "patient", token)).toBe(pid);
  });
});
