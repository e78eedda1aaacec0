// Framework floor: what a CallTool costs over the cheapest RPC the same Connect stack serves
// (grpc.health.v1.Health/Check), serial and at concurrency 64, on one service with the built-in
// MCP server. The gap is the service's own path: session lookup, auth, the MCP round trip.

// The built-in server's `echo`: no call to the user API, so only the service's own path counts.
const tool = "echo";
const toolArguments = { text: "floor" };

/** The scenario's title in the report. */
export const title = "Framework floor: CallTool vs Health/Check";

/** Runs the floor scenario; see the file comment. */
export async function run({ quick, startService, startUserApi, makeJwt, runLoad, log }) {
  const lanes = 64;
  const serialCalls = quick ? 300 : 3_000;
  const concurrentCalls = quick ? 3_000 : 30_000;
  const warmup = quick ? 100 : 1_000;

  const api = await startUserApi();
  const service = await startService({ name: "floor" });
  const jwt = makeJwt("floor");
  // One session per lane: a session allows 16 calls in flight, and many users is the real case.
  const init = await runLoad({
    mode: "grpc",
    target: {
      url: service.url,
      rpc: "Init",
      request: { session_id: "floor-{i}", api_url: api.apiUrl, jwt_token: jwt },
    },
    concurrency: 8,
    calls: lanes,
  });
  if (init.ok !== lanes) throw new Error(`Init failed: ${JSON.stringify(init.errors)}`);

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
  for (const [label, concurrency, calls] of [
    ["serial", 1, serialCalls],
    [`c${lanes}`, lanes, concurrentCalls],
  ]) {
    for (const [rpc, target] of Object.entries(targets)) {
      const result = await runLoad({ mode: "grpc", target, concurrency, calls, warmup });
      const { medianMs, p99Ms, callsPerSec } = result.summary;
      log(`${rpc} ${label}: median ${medianMs} ms, p99 ${p99Ms} ms, ${Math.round(callsPerSec)}/s`);
      rows.push({
        name: `${rpc} ${label}`,
        medianMs,
        p99Ms,
        callsPerSec,
        ...(rpc === "CallTool" ? { baseline: `HealthCheck ${label}` } : {}),
        ...(Object.keys(result.errors).length > 0 ? { errors: result.errors } : {}),
      });
    }
    const [health, call] = rows.slice(-2);
    notes.push(`p99 ratio ${label}: ${(call.p99Ms / health.p99Ms).toFixed(2)}x.`);
  }
  notes.push(
    `${serialCalls} serial and ${concurrentCalls} concurrent calls per RPC after ${warmup} warm-up calls, ` +
      `gRPC over h2c from a separate load process on one HTTP/2 connection; ${lanes} sessions, one per lane.`,
  );
  notes.push(`Tool: the built-in \`${tool}\`, which does not call the user API.`);
  await service.stop();
  await api.stop();
  return {
    rows,
    notes,
    target: { text: "CallTool median within 1.2x of Health/Check median", maxRatio: 1.2 },
  };
}
