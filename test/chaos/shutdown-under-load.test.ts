import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { type ClientHttp2Session, connect as http2Connect } from "node:http2";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type Client, Code, createClient } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { SessionService } from "../../gen/mcpclient/v1/session_service_pb.js";
import {
  connectOutcome,
  jsonErrorInfo,
  makeJwt,
  postJson,
  servicePath,
  startUpstream,
  type Upstream,
} from "../integration/harness.js";
import { bearer } from "../support/bearer.js";
import {
  cmdline,
  descendants,
  type ProcStat,
  processesWithEnv,
  readStat,
  waitUntilGone,
  zombies,
} from "../support/proc-tree.js";
import { repoPath, repoRoot, requireBuilt } from "../support/repo-paths.js";
import { toRpcFailure } from "../support/rpc-failure.js";
import { waitFor } from "../support/wait.js";

const cli = repoPath("dist/src/cli.js");
const chaosServer = fileURLToPath(new URL("./fixtures/chaos-server.mjs", import.meta.url));

// The whole shutdown is designed to fit in this; in-flight calls get the
// first 3 s of it (the grace less a quarter, at most 2 s).
const shutdownGraceMs = 4_000;
// Calls that finish well inside the drain window.
const shortMs = 300;
// Calls that outlast the whole grace period by far.
const longMs = 30_000;

let upstream: Upstream;
let dir: string;
/**
 * In the environment of every chaos server and, inherited, of its
 * grandchildren: afterEach finds them by it even if the test never learnt their pids.
 */
let eventsEntry: string;
let eventsFile: string;
/** Every process a test started or saw below the service, by `pid/startTime`. */
const tracked = new Map<string, ProcStat>();
const cleanups: (() => void)[] = [];

beforeAll(async () => {
  requireBuilt(cli);
  upstream = await startUpstream();
  dir = mkdtempSync(join(tmpdir(), "mcs-chaos-shutdown-"));
  eventsFile = join(dir, "events.jsonl");
  eventsEntry = `CHAOS_EVENTS=${eventsFile}`;
});

// SIGKILL, because the chaos servers and their grandchildren ignore SIGTERM.
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
  if (eventsEntry) processesWithEnv(eventsEntry).forEach(track);
  for (const proc of tracked.values()) {
    // The start time guards against killing an unrelated process that reused the pid.
    if (readStat(proc.pid)?.startTime !== proc.startTime) continue;
    try {
      process.kill(proc.pid, "SIGKILL");
    } catch {
      // Gone between the check and the kill.
    }
  }
  tracked.clear();
});

afterAll(async () => {
  await upstream?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function track(stat: ProcStat): void {
  tracked.set(`${stat.pid}/${stat.startTime}`, stat);
}

/** True while `pid` exists and is not a zombie. */
function running(pid: number): boolean {
  const stat = readStat(pid);
  return stat !== undefined && stat.state !== "Z";
}

/** How the service process ended, and when (`performance.now()`). */
interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly atMs: number;
}

/** The service CLI as a child process. */
interface CliService {
  readonly child: ChildProcess;
  readonly pid: number;
  readonly url: string;
  readonly port: number;
  readonly exited: Promise<Exit>;
  /** The JSON log lines written so far. */
  logs(): Record<string, unknown>[];
  stderr(): string;
}

/**
 * Starts the service CLI with one stdio chaos server per session that
 * ignores SIGTERM and the end of its stdin, and resolves once it logs
 * "listening". Every process that ever runs below it is tracked for afterEach.
 */
async function startCliService(): Promise<CliService> {
  const config = join(dir, "config.json");
  writeFileSync(
    config,
    JSON.stringify({
      server: { host: "127.0.0.1", port: 0, shutdownGraceMs },
      credentialCheck: { timeoutMs: 2_000 },
      // The upstream listens on loopback, which only the development profile reaches.
      outbound: { profile: "development" },
      limits: {
        initPerCaller: { burst: 1_000, perSecond: 1_000 },
        initPerSession: { burst: 1_000, perSecond: 1_000 },
      },
      tools: { startTimeoutMs: 15_000 },
      log: { level: "info" },
      mcpServers: {
        chaos: {
          type: "stdio",
          command: process.execPath,
          args: [chaosServer],
          env: {
            CHAOS_IGNORE_STDIN_END: "1",
            CHAOS_IGNORE_SIGTERM: "1",
            CHAOS_EVENTS: eventsFile,
          },
        },
      },
    }),
  );
  const child = spawn(process.execPath, [cli, "--config", config], {
    cwd: repoRoot,
    stdio: ["ignore", "pipe", "pipe"],
    // Empty values count as unset: the config file alone decides.
    env: {
      ...process.env,
      MCP_CLIENT_SERVER_HOST: "",
      MCP_CLIENT_SERVER_PORT: "",
      MCP_CLIENT_SERVER_LOG_LEVEL: "",
    },
  });
  const pid = child.pid ?? 0;
  const self = readStat(pid);
  if (self) track(self);
  const sampler = setInterval(() => descendants(pid).forEach(track), 20);
  cleanups.push(() => {
    clearInterval(sampler);
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  });

  const logs: Record<string, unknown>[] = [];
  let stderr = "";
  child.stderr?.setEncoding("utf8");
  child.stderr?.on("data", (chunk: string) => {
    stderr += chunk;
  });
  const exited = new Promise<Exit>((resolve) =>
    child.once("exit", (code, signal) => {
      const atMs = performance.now();
      clearInterval(sampler);
      resolve({ code, signal, atMs });
    }),
  );
  const url = await new Promise<string>((resolve, reject) => {
    let buffered = "";
    const timer = setTimeout(() => reject(new Error(`no "listening" log line: ${stderr}`)), 10_000);
    void exited.then((exit) => {
      clearTimeout(timer);
      reject(new Error(`the service exited with ${exit.code ?? exit.signal}: ${stderr}`));
    });
    child.stdout?.setEncoding("utf8");
    // Read stdout to the end, so that a full pipe never blocks the service's logging.
    child.stdout?.on("data", (chunk: string) => {
      buffered += chunk;
      const lines = buffered.split("\n");
      buffered = lines.pop() ?? "";
      for (const line of lines) {
        const entry = parseJsonLine(line);
        if (entry === undefined) continue;
        logs.push(entry);
        if (entry.msg === "listening" && typeof entry.url === "string") {
          clearTimeout(timer);
          resolve(entry.url);
        }
      }
    });
  });
  return {
    child,
    pid,
    url,
    port: Number(new URL(url).port),
    exited,
    logs: () => logs,
    stderr: () => stderr,
  };
}

function parseJsonLine(line: string): Record<string, unknown> | undefined {
  try {
    return JSON.parse(line) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

/** The chaos servers' event lines so far; a line still being written is skipped. */
function chaosEvents(): Record<string, unknown>[] {
  let text: string;
  try {
    text = readFileSync(eventsFile, "utf8");
  } catch {
    return [];
  }
  return text.split("\n").flatMap((line) => {
    const entry = parseJsonLine(line);
    return entry === undefined ? [] : [entry];
  });
}

/** How many `sleep {ms}` tools/call requests have reached a chaos server. */
function sleepsArrived(ms: number): number {
  return chaosEvents().filter((e) => {
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

/** Connects a raw h2c session and waits until it is established. */
async function openH2Session(url: string): Promise<ClientHttp2Session> {
  const session = http2Connect(url);
  cleanups.push(() => session.destroy());
  // The service destroys the session at the end of its shutdown.
  session.on("error", () => {});
  await new Promise<void>((resolve, reject) => {
    session.once("connect", () => resolve());
    session.once("error", reject);
  });
  return session;
}

/** Resolves with the value of `promise`, or with `fallback` after `ms`. */
function within<T, F>(ms: number, promise: Promise<T>, fallback: F): Promise<T | F> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<F>((resolve) => {
    timer = setTimeout(() => resolve(fallback), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Polls every 25 ms until a TCP connect to `port` is refused and resolves
 * with that moment (`performance.now()`), or with undefined after `timeoutMs`.
 */
async function whenRefused(port: number, timeoutMs: number): Promise<number | undefined> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    if ((await connectOutcome(port)) === "ECONNREFUSED") return performance.now();
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  return undefined;
}

/**
 * The service's log from "signal received" on, each message with its ms
 * after the signal; a run of the same message is one entry with its count.
 */
function shutdownLog(logs: readonly Record<string, unknown>[]): string {
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
    const service = await startCliService();

    const sessions: TestSession[] = [];
    const servers: number[] = [];
    const grandchildren: number[] = [];
    for (const [i, sessionId] of ["load-a", "load-b", "load-c", "load-d"].entries()) {
      const jwtToken = makeJwt({ sub: sessionId });
      const init = await postJson(`${service.url}${servicePath}/Init`, {
        sessionId,
        apiUrl: upstream.apiUrl("ok", sessionId),
        jwtToken,
      });
      expect(init.status, init.text).toBe(200);
      const session = { sessionId, jwtToken };
      sessions.push(session);
      const call = async (name: string) => {
        const response = await postJson(
          `${service.url}${servicePath}/CallTool`,
          { sessionId, name, arguments: {} },
          { headers: { authorization: `Bearer ${jwtToken}` } },
        );
        expect(response.status, response.text).toBe(200);
        return (response.json?.structuredContent ?? {}) as { pid?: unknown };
      };
      const { pid } = await call("pids");
      expect(pid).toEqual(expect.any(Number));
      servers.push(pid as number);
      if (i < 2) {
        const spawned = await call("spawn_grandchild");
        expect(spawned.pid).toEqual(expect.any(Number));
        grandchildren.push(spawned.pid as number);
      }
    }
    expect(new Set(servers).size, "one chaos server per session").toBe(4);
    const watched = [...servers, ...grandchildren];
    const below = descendants(service.pid);
    below.forEach(track);
    for (const pid of watched) {
      expect(
        below.map((p) => p.pid),
        `${pid} runs below the service`,
      ).toContain(pid);
    }

    // One shared HTTP/2 connection for every gRPC call, aborted after the test.
    const manager = new Http2SessionManager(service.url);
    cleanups.push(() => manager.abort());
    const grpc = createClient(
      SessionService,
      createGrpcTransport({ baseUrl: service.url, sessionManager: manager }),
    );
    const idleH2 = await openH2Session(service.url);
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
    const runningAtExit = service.exited.then(() => watched.filter(running));
    const all = [...long, ...short];
    expect(
      all.filter((c) => c.settled).map((c) => c.label),
      "calls already over at SIGTERM: the load did not meet the shutdown",
    ).toEqual([]);

    // While the service drains, new connections are refused.
    const refusedAtMs = await whenRefused(service.port, 2_000);

    const exit = await within(shutdownGraceMs + 4_000, service.exited, undefined);
    const tookMs = exit === undefined ? Number.POSITIVE_INFINITY : exit.atMs - sigtermAtMs;
    const diagnostics = `SIGTERM to exit: ${tookMs.toFixed(0)} ms; shutdown log: ${shutdownLog(service.logs())}; stderr: ${service.stderr()}`;
    expect(exit, diagnostics).toMatchObject({ code: 0, signal: null });

    // Answers written just before the exit may still be on their way in.
    await within(2_000, Promise.all(all.map((c) => c.outcome)), undefined);
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

    const goawayOutcome = await within(0, goaway, undefined);
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
      const seen = chaosEvents()
        .filter((e) => e.pid === pid)
        .map((e) => e.event);
      expect(seen, `server ${pid} saw its stdin end and ignored SIGTERM`).toEqual(
        expect.arrayContaining(["stdin_end", "sigterm_ignored"]),
      );
    }
    const survivors = await waitUntilGone(watched, 3_000);
    expect(
      survivors.map((pid) => `${pid} ${cmdline(pid)}`),
      "servers and grandchildren still running 3 s after exit",
    ).toEqual([]);
    // Whatever else ran below the service (the process guardian, say) goes with it too.
    const stragglers = await waitUntilGone(
      [...tracked.values()].map((p) => p.pid),
      3_000,
    );
    expect(stragglers.map((pid) => `${pid} ${cmdline(pid)}`)).toEqual([]);
    expect(zombies(process.pid), "unreaped children of the test process").toEqual([]);
  });
});
