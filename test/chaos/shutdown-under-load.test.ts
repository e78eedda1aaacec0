import { type Client, Code, createClient } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { describe, expect, it } from "vitest";
import { SessionService } from "../../gen/mcpclient/v1/session_service_pb.js";
import { jsonErrorInfo, postJson, servicePath, whenRefused } from "../integration/harness.js";
import { bearer } from "../support/bearer.js";
import type { LogEntry } from "../support/cli-process.js";
import { openH2Session } from "../support/h2c-session.js";
import { descendants, isRunning } from "../support/proc-tree.js";
import { toRpcFailure } from "../support/rpc-failure.js";
import { valueWithin, waitFor } from "../support/wait.js";
import { useChaosCli } from "./cli-service.js";
import { expectGone, expectNoZombies } from "./harness.js";

// The whole shutdown is designed to fit in this; in-flight calls get the
// first 3 s of it (the grace less a quarter, at most 2 s).
const shutdownGraceMs = 4_000;
// Calls that finish well inside the drain window.
const shortMs = 300;
// Calls that outlast the whole grace period by far.
const longMs = 30_000;

const suite = useChaosCli();

/** How many `sleep {ms}` tools/call requests have reached a chaos server. */
function sleepsArrived(ms: number): number {
  return suite.events.read().filter((e) => {
    const params = e.params as { name?: unknown; arguments?: { ms?: unknown } } | undefined;
    return (
      e.event === "message" &&
      e.method === "tools/call" &&
      params?.name === "sleep" &&
      params.arguments?.ms === ms
    );
  }).length;
}

/** A session as the test holds it. */
interface TestSession {
  readonly sessionId: string;
  readonly jwtToken: string;
}

/** A call's result reduced to what the assertions compare. */
type Outcome = Record<string, unknown>;

/** A CallTool in flight, with whether it has settled yet. */
interface PendingCall {
  readonly label: string;
  readonly outcome: Promise<Outcome>;
  settled: boolean;
}

function startCall(label: string, call: () => Promise<Outcome>): PendingCall {
  const pending: PendingCall = {
    label,
    settled: false,
    outcome: call()
      .catch((error: unknown): Outcome => ({ transportError: String(error) }))
      .finally(() => {
        pending.settled = true;
      }),
  };
  return pending;
}

/** `sleep {ms}` as gRPC over h2c; a failure is reduced to its code name and ErrorInfo reason. */
async function grpcSleep(
  client: Client<typeof SessionService>,
  session: TestSession,
  ms: number,
): Promise<Outcome> {
  try {
    const result = await client.callTool(
      { sessionId: session.sessionId, name: "sleep", arguments: { ms } },
      bearer(session.jwtToken),
    );
    const first = result.content[0]?.kind;
    return {
      isError: result.isError,
      text: first?.case === "text" ? first.value.text : first?.case,
    };
  } catch (thrown) {
    const failure = toRpcFailure(thrown);
    return { code: Code[failure.code], reason: failure.reason };
  }
}

/** `sleep {ms}` as Connect JSON over HTTP/1.1 (a fresh connection each). */
async function jsonSleep(url: string, session: TestSession, ms: number): Promise<Outcome> {
  const response = await postJson(
    `${url}${servicePath}/CallTool`,
    { sessionId: session.sessionId, name: "sleep", arguments: { ms } },
    { headers: { authorization: `Bearer ${session.jwtToken}` } },
  );
  if (response.status !== 200) {
    return {
      status: response.status,
      code: response.json?.code,
      reason: jsonErrorInfo(response.json)?.reason,
    };
  }
  const content = response.json?.content as { text?: { text?: string } }[] | undefined;
  return {
    status: response.status,
    isError: response.json?.isError ?? false,
    text: content?.[0]?.text?.text,
  };
}

/**
 * The service's log from "signal received" on, each message with its ms
 * after the signal; a run of the same message is one entry with its count.
 */
function shutdownLog(logs: readonly LogEntry[]): string {
  const from = logs.findIndex((entry) => entry.msg === "signal received");
  if (from < 0) return "(no signal received)";
  const start = Date.parse(String(logs[from]?.time));
  const runs: { msg: string; atMs: number; count: number }[] = [];
  for (const entry of logs.slice(from)) {
    const finished = entry.in_flight_finished === undefined ? "" : ` ${entry.in_flight_finished}`;
    const msg = `${entry.msg}${finished}`;
    const last = runs.at(-1);
    if (last?.msg === msg) last.count++;
    else runs.push({ msg, atMs: Date.parse(String(entry.time)) - start, count: 1 });
  }
  return runs.map((r) => `+${r.atMs} ${r.msg}${r.count > 1 ? ` x${r.count}` : ""}`).join(" | ");
}

describe("SIGTERM under load", () => {
  it("finishes short calls, ends long ones with SERVER_SHUTTING_DOWN, kills every server and exits 0 within shutdownGraceMs", async () => {
    const service = await suite.start({ shutdownGraceMs, configName: "config.json" });

    const sessions: TestSession[] = [];
    const servers: number[] = [];
    const grandchildren: number[] = [];
    for (const [i, sessionId] of ["load-a", "load-b", "load-c", "load-d"].entries()) {
      const jwtToken = await service.init(sessionId);
      sessions.push({ sessionId, jwtToken });
      const { pid } = await service.callTool(sessionId, jwtToken, "pids");
      expect(pid).toEqual(expect.any(Number));
      servers.push(pid as number);
      if (i < 2) {
        const spawned = await service.callTool(sessionId, jwtToken, "spawn_grandchild");
        expect(spawned.pid).toEqual(expect.any(Number));
        grandchildren.push(spawned.pid as number);
      }
    }
    expect(new Set(servers).size, "one chaos server per session").toBe(4);
    const watched = [...servers, ...grandchildren];
    const below = descendants(service.pid);
    below.forEach(suite.tracker.track);
    for (const pid of watched) {
      expect(
        below.map((p) => p.pid),
        `${pid} runs below the service`,
      ).toContain(pid);
    }

    // One shared HTTP/2 connection for every gRPC call, aborted after the test.
    const manager = new Http2SessionManager(service.url);
    suite.onCleanup(() => manager.abort());
    const grpc = createClient(
      SessionService,
      createGrpcTransport({ baseUrl: service.url, sessionManager: manager }),
    );
    const idleH2 = await openH2Session(service.url);
    suite.onCleanup(() => idleH2.destroy());
    // The service destroys the session at the end of its shutdown.
    idleH2.on("error", () => {});
    const goaway = new Promise<{ errorCode: number; atMs: number }>((resolve) =>
      idleH2.once("goaway", (errorCode) => resolve({ errorCode, atMs: performance.now() })),
    );

    // Long calls first, then short ones, so that the short ones are still
    // running when SIGTERM arrives right after they reached their servers.
    const launch = (ms: number, perProtocol: number): PendingCall[] =>
      Array.from({ length: perProtocol * 2 }, (_, i) => {
        const session = sessions[i % sessions.length] as TestSession;
        const viaGrpc = i % 2 === 0;
        const label = `${viaGrpc ? "grpc" : "json"} sleep ${ms} #${i} on ${session.sessionId}`;
        return startCall(label, () =>
          viaGrpc ? grpcSleep(grpc, session, ms) : jsonSleep(service.url, session, ms),
        );
      });
    const long = launch(longMs, 7);
    await waitFor(() => sleepsArrived(longMs) === long.length, "the long calls to arrive", 5_000);
    const short = launch(shortMs, 8);
    await waitFor(
      () => sleepsArrived(shortMs) === short.length,
      "the short calls to arrive",
      5_000,
    );

    service.child.kill("SIGTERM");
    const sigtermAtMs = performance.now();
    const runningAtExit = service.exited.then(() => watched.filter(isRunning));
    const all = [...long, ...short];
    expect(
      all.filter((c) => c.settled).map((c) => c.label),
      "calls already over at SIGTERM: the load did not meet the shutdown",
    ).toEqual([]);

    // While the service drains, new connections are refused.
    const refusedAtMs = await whenRefused(service.port, 2_000);

    const exit = await valueWithin(shutdownGraceMs + 4_000, service.exited, undefined);
    const tookMs = exit === undefined ? Number.POSITIVE_INFINITY : exit.atMs - sigtermAtMs;
    const diagnostics = `SIGTERM to exit: ${tookMs.toFixed(0)} ms; shutdown log: ${shutdownLog(service.logs)}; stderr: ${service.stderr()}`;
    expect(exit, diagnostics).toMatchObject({ code: 0, signal: null });

    // Answers written just before the exit may still be on their way in.
    await valueWithin(2_000, Promise.all(all.map((c) => c.outcome)), undefined);
    expect(
      all.filter((c) => !c.settled).map((c) => c.label),
      "calls still pending 2 s after the service exited",
    ).toEqual([]);

    const labelled = async (calls: PendingCall[]) =>
      Promise.all(calls.map(async (c) => ({ call: c.label, ...(await c.outcome) })));
    const shortOutcomes = await labelled(short);
    const longOutcomes = await labelled(long);
    for (const outcome of shortOutcomes) {
      const json = outcome.call.startsWith("json") ? { status: 200 } : {};
      expect(outcome, "a short call finishes inside the grace").toEqual({
        call: outcome.call,
        ...json,
        isError: false,
        text: "slept",
      });
    }
    for (const outcome of longOutcomes) {
      const expected = outcome.call.startsWith("json")
        ? { status: 503, code: "unavailable", reason: "SERVER_SHUTTING_DOWN" }
        : { code: Code[Code.Unavailable], reason: "SERVER_SHUTTING_DOWN" };
      expect(outcome, "a long call ends cleanly at the end of the grace").toEqual({
        call: outcome.call,
        ...expected,
      });
    }

    const goawayOutcome = await valueWithin(0, goaway, undefined);
    expect(goawayOutcome, "the idle h2c session got GOAWAY").toBeDefined();
    expect(goawayOutcome?.errorCode, "GOAWAY NO_ERROR").toBe(0);
    expect(
      (goawayOutcome?.atMs ?? Number.POSITIVE_INFINITY) - sigtermAtMs,
      "GOAWAY within 1 s of SIGTERM",
    ).toBeLessThan(1_000);
    expect(refusedAtMs, "a new connection was refused during the drain").toBeDefined();
    expect(
      (refusedAtMs ?? Number.POSITIVE_INFINITY) - sigtermAtMs,
      "refused within 1 s of SIGTERM",
    ).toBeLessThan(1_000);
    expect(
      refusedAtMs ?? Number.POSITIVE_INFINITY,
      "refused before the service exited",
    ).toBeLessThan(exit?.atMs ?? 0);

    // Soft, so that a late exit still shows whether everything else held.
    expect.soft(tookMs, diagnostics).toBeLessThan(shutdownGraceMs);

    // The service's own escalation ended them, not the guardian it leaves behind.
    expect(
      await runningAtExit,
      "servers and grandchildren running when the service exited",
    ).toEqual([]);
    for (const pid of servers) {
      const seen = suite.events
        .read()
        .filter((e) => e.pid === pid)
        .map((e) => e.event);
      expect(seen, `server ${pid} saw its stdin end and ignored SIGTERM`).toEqual(
        expect.arrayContaining(["stdin_end", "sigterm_ignored"]),
      );
    }
    await expectGone(watched, 3_000, "servers and grandchildren still running 3 s after exit");
    // Whatever else ran below the service (the process guardian, say) goes with it too.
    await expectGone(
      suite.tracker.tracked().map((p) => p.pid),
      3_000,
    );
    expectNoZombies();
  });
});
