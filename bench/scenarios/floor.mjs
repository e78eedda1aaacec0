// Framework floor: what a CallTool costs over the cheapest RPC the same Connect stack serves
// (grpc.health.v1.Health/Check), serial and at concurrency 64, on one service with the built-in
// server. The gap is the service's own path: auth, session lookup, the tool's argument and
// result checks and the conversions (the built-in tools run in the service's process).
//
// The two RPCs take turns in rounds (Health/Check first in even rounds, CallTool first in odd
// ones), and each RPC's samples are pooled over the rounds: a machine that slows down or speeds
// up during the scenario shifts both sides alike, instead of whichever ran second.

// The built-in server's `echo`: no call to the user API, so only the service's own path counts.
const tool = "echo";
const toolArguments = { text: "floor" };

/** The scenario's title in the report. */
export const title = "Framework floor: CallTool vs Health/Check";

/** Runs the floor scenario; see the file comment. */
export async function run(ctx) {
  const { quick, startService, startUserApi, makeJwt, runLoad, initSessions, stats, log } = ctx;
  const lanes = 64;
  const rounds = quick ? 2 : 5;
  const serialCalls = quick ? 300 : 3_000;
  const concurrentCalls = quick ? 3_000 : 30_000;
  const warmup = quick ? 100 : 1_000;

  const api = await startUserApi();
  const service = await startService({ name: "floor" });
  const jwt = makeJwt("floor");
  // One session per lane: a session allows 16 calls in flight, and many users is the real case.
  await initSessions({
    url: service.url,
    apiUrl: api.apiUrl,
    jwt,
    sessionId: "floor-{i}",
    count: lanes,
    concurrency: 8,
  });

  const targets = {
    HealthCheck: { url: service.url, rpc: "HealthCheck", request: { service: "" } },
    CallTool: {
      url: service.url,
      rpc: "CallTool",
      request: { session_id: "floor-{lane}", name: tool, arguments: toolArguments },
      headers: { authorization: `Bearer ${jwt}` },
    },
  };
  const rows = [];
  const notes = [];
  const cpu = [];
  for (const [label, concurrency, calls] of [
    ["serial", 1, serialCalls],
    [`c${lanes}`, lanes, concurrentCalls],
  ]) {
    // Per RPC: pooled latencies, wall time, calls, errors and the load process's CPU.
    const pooled = Object.fromEntries(
      Object.keys(targets).map((rpc) => [
        rpc,
        { latencies: [], wallMs: 0, calls: 0, cpuMs: 0, errors: {} },
      ]),
    );
    for (let round = 0; round < rounds; round++) {
      const order = round % 2 === 0 ? ["HealthCheck", "CallTool"] : ["CallTool", "HealthCheck"];
      for (const rpc of order) {
        // Each load process is new, so each warms its own client up first.
        const result = await runLoad({
          mode: "grpc",
          target: targets[rpc],
          concurrency,
          calls: Math.ceil(calls / rounds),
          warmup,
        });
        const into = pooled[rpc];
        into.latencies.push(...result.latenciesMs);
        into.wallMs += result.wallMs;
        into.calls += result.calls;
        into.cpuMs += result.workerCpuMs;
        for (const [reason, n] of Object.entries(result.errors)) {
          into.errors[reason] = (into.errors[reason] ?? 0) + n;
        }
      }
    }
    for (const [rpc, { latencies, wallMs, calls: made, cpuMs, errors }] of Object.entries(pooled)) {
      const { medianMs, p99Ms, callsPerSec } = stats.summarize(latencies, wallMs);
      log(`${rpc} ${label}: median ${medianMs} ms, p99 ${p99Ms} ms, ${Math.round(callsPerSec)}/s`);
      cpu.push(`${rpc} ${label} ${(cpuMs / Math.max(1, made)).toFixed(3)} ms`);
      rows.push({
        name: `${rpc} ${label}`,
        medianMs,
        p99Ms,
        callsPerSec,
        ...(rpc === "CallTool" ? { baseline: `HealthCheck ${label}` } : {}),
        ...(Object.keys(errors).length > 0 ? { errors } : {}),
      });
    }
    const [health, call] = rows.slice(-2);
    notes.push(`p99 ratio ${label}: ${(call.p99Ms / health.p99Ms).toFixed(2)}x.`);
  }
  notes.push(
    `${serialCalls} serial and ${concurrentCalls} concurrent calls per RPC, in ${rounds} rounds that alternate ` +
      `which RPC goes first, each load process after ${warmup} warm-up calls of its own; gRPC over h2c ` +
      `from a separate load process on one HTTP/2 connection; ${lanes} sessions, one per lane.`,
  );
  notes.push(
    `Tool: the built-in \`${tool}\`, which runs in the service's process and does not call the user API.`,
  );
  notes.push(
    `Load-process CPU per call (the client's own cost, larger for CallTool's bigger messages): ${cpu.join(", ")}.`,
  );
  await service.stop();
  await api.stop();
  return {
    rows,
    notes,
    target: { text: "CallTool median within 1.2x of Health/Check median", maxRatio: 1.2 },
  };
}
