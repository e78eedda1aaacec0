// Gateway overhead over stdio: the same stdio MCP server (bench/fixtures/echo-server.mjs, one
// `echo` tool) called through the service (gRPC CallTool) and directly by the MCP SDK's own
// Client over stdio, serial and at concurrency 16 and 64. The gap is everything the service adds
// to a tool call: the gRPC hop, session lookup and auth, its MCP client, its stdio transport.
import { join } from "node:path";

/** The scenario's title in the report. */
export const title = "Gateway overhead over stdio";

/** Runs the scenario; see the file comment. */
export async function run(ctx) {
  const { quick, root, startService, startUserApi, makeJwt, runLoad, initSessions, log } = ctx;
  const levels = [1, 16, 64];
  const lanes = Math.max(...levels);
  // Starting 64 echo processes takes seconds on 2 cores: a quick run opens 16 sessions and
  // measures c64 through one session only.
  const sessions = quick ? 16 : lanes;
  const durationMs = quick ? 800 : 5_000;
  const warmup = quick ? 200 : 1_000;
  const echoServer = {
    command: process.execPath,
    args: [join(root, "bench/fixtures/echo-server.mjs")],
  };
  const toolArgs = { text: "stdio-overhead" };

  const api = await startUserApi();
  // With one server, its tools keep their names: the tool is `echo`. The in-flight cap is raised
  // so that one session can take every lane (the "1 session" rows); it does not bind otherwise.
  const service = await startService({
    name: "stdio-overhead",
    mcpServers: { echo: echoServer },
    config: { limits: { maxInFlightCallsPerSession: lanes } },
  });
  const jwt = makeJwt("stdio-overhead");
  const init = await initSessions({
    url: service.url,
    apiUrl: api.apiUrl,
    jwt,
    sessionId: "stdio-{i}",
    count: sessions,
    concurrency: 8,
    timeoutMs: 60_000,
  });
  log(`${sessions} sessions (one echo process each) up in ${(init.wallMs / 1000).toFixed(1)} s`);

  const callTool = (session) => ({
    url: service.url,
    rpc: "CallTool",
    request: { session_id: session, name: "echo", arguments: toolArgs },
    headers: { authorization: `Bearer ${jwt}` },
  });
  const rows = [];
  const notes = [];
  const cpu = [];
  const measure = async (name, mode, target, concurrency, baseline) => {
    const result = await runLoad({ mode, target, concurrency, durationMs, warmup });
    const { medianMs, p99Ms, callsPerSec } = result.summary;
    log(`${name}: median ${medianMs} ms, p99 ${p99Ms} ms, ${Math.round(callsPerSec)}/s`);
    cpu.push(`${name} ${(result.workerCpuMs / Math.max(1, result.calls)).toFixed(3)} ms`);
    const row = { name, medianMs, p99Ms, callsPerSec, ...(baseline ? { baseline } : {}) };
    if (Object.keys(result.errors).length > 0) row.errors = result.errors;
    rows.push(row);
    if (baseline !== undefined) {
      const base = rows.find((r) => r.name === baseline);
      notes.push(
        `${name}: calls/s ${(callsPerSec / base.callsPerSec).toFixed(2)}x of direct, ` +
          `p99 ${(p99Ms / base.p99Ms).toFixed(2)}x.`,
      );
    }
  };

  for (const concurrency of levels) {
    const label = concurrency === 1 ? "serial" : `c${concurrency}`;
    const direct = `direct SDK ${label}`;
    await measure(direct, "mcp-stdio", { ...echoServer, toolArgs }, concurrency);
    if (concurrency <= sessions)
      await measure(`service ${label}`, "grpc", callTool("stdio-{lane}"), concurrency, direct);
    // The like-for-like case: one session, so one echo process, as the direct client has.
    if (concurrency > 1)
      await measure(
        `service ${label}, 1 session`,
        "grpc",
        callTool("stdio-0"),
        concurrency,
        direct,
      );
  }
  notes.push(
    "Ratio: the row's median latency over the direct SDK client's at the same concurrency (lower is better).",
    `Each case runs ${durationMs / 1000} s after ${warmup} warm-up calls, from a separate load process. ` +
      "Direct: one MCP SDK Client over StdioClientTransport to a fresh echo server, shared by all lanes " +
      "(JSON-RPC ids multiplex the pipe). Service: gRPC over h2c on one HTTP/2 connection; " +
      `${sessions} sessions (one echo process each), lane k using session k; "1 session" rows send ` +
      "every lane to one session (limits.maxInFlightCallsPerSession raised to 64), so one echo " +
      "process serves both sides alike. The per-session rows spread the calls over many echo " +
      "processes on 2 cores, each warmed by a share of the warm-up only: expect them slower.",
    `Load-process CPU per call (the client's own cost): ${cpu.join(", ")}.`,
  );
  await service.stop();
  await api.stop();
  return { rows, notes };
}
