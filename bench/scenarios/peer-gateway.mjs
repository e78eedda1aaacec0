// Peer gateway: supergateway, the common way to put a stdio MCP server behind a network port
// (stdio -> stateful Streamable HTTP), against this service, both in front of the same stdio
// MCP server (bench/fixtures/echo-server.mjs), at concurrency 1, 16 and 64. Each side gets one
// client and one session, so one echo process: what differs is the gateway and its protocol.
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";

/** The scenario's title in the report. */
export const title = "Peer gateway: supergateway vs this service";

/** Runs the scenario; see the file comment. supergateway is stopped however it ends. */
export async function run(ctx) {
  const { quick, root, startService, startUserApi, makeJwt, runLoad, initSessions, log } = ctx;
  const levels = [1, 16, 64];
  const durationMs = quick ? 1_500 : 6_000;
  const warmup = quick ? 200 : 1_000;
  const echoServer = {
    command: process.execPath,
    args: [join(root, "bench/fixtures/echo-server.mjs")],
  };
  const toolArgs = { text: "peer-gateway" };
  const { version } = JSON.parse(
    readFileSync(join(root, "node_modules/supergateway/package.json"), "utf8"),
  );

  const gateway = await startSupergateway(root, echoServer);
  try {
    const api = await startUserApi();
    // One session takes every lane, as supergateway's one session does: raise the in-flight cap.
    const service = await startService({
      name: "peer-gateway",
      mcpServers: { echo: echoServer },
      config: { limits: { maxInFlightCallsPerSession: Math.max(...levels) } },
    });
    const jwt = makeJwt("peer-gateway");
    await initSessions({ url: service.url, apiUrl: api.apiUrl, jwt, sessionId: "peer" });
    const ours = {
      url: service.url,
      rpc: "CallTool",
      request: { session_id: "peer", name: "echo", arguments: toolArgs },
      headers: { authorization: `Bearer ${jwt}` },
    };

    const rows = [];
    const cpu = [];
    const measure = async (name, mode, target, concurrency) => {
      const result = await runLoad({ mode, target, concurrency, durationMs, warmup });
      const { medianMs, p99Ms, callsPerSec } = result.summary;
      log(`${name}: median ${medianMs} ms, p99 ${p99Ms} ms, ${Math.round(callsPerSec)}/s`);
      cpu.push(`${name} ${(result.workerCpuMs / Math.max(1, result.calls)).toFixed(3)} ms`);
      const errors = Object.keys(result.errors).length > 0 ? { errors: result.errors } : {};
      return { name, medianMs, p99Ms, callsPerSec, ...errors };
    };
    for (const concurrency of levels) {
      const label = `c${concurrency}`;
      const theirs = await measure(
        `supergateway ${label}`,
        "mcp-http",
        { url: gateway.url, toolArgs },
        concurrency,
      );
      const mine = await measure(`this service ${label}`, "grpc", ours, concurrency);
      // Higher is better: ours over theirs in calls per second, not the report's median ratio.
      mine.baseline = theirs.name;
      mine.ratio = mine.callsPerSec / theirs.callsPerSec;
      rows.push(theirs, mine);
    }
    await service.stop();
    await api.stop();
    return {
      rows,
      notes: [
        "Ratio: this service's calls/s over supergateway's at the same concurrency; above 1x this service is faster.",
        `supergateway ${version} (stdio -> Streamable HTTP, --stateful): one MCP SDK Client over StreamableHTTPClientTransport, ` +
          "one MCP session (so one echo process) for all lanes; HTTP/1.1 POSTs answered as SSE, through Node's fetch pool, " +
          "which opens a keep-alive connection per request in flight (HTTP/1.1 cannot multiplex).",
        "This service: one gRPC client on one HTTP/2 connection (h2c), one session (so one echo process) for all lanes, " +
          "limits.maxInFlightCallsPerSession raised to 64 (default 16); its Init is not timed.",
        `Each case runs ${durationMs / 1000} s after ${warmup} warm-up calls from a separate load process; ` +
          `load-process CPU per call (the client's own cost): ${cpu.join(", ")}.`,
      ],
    };
  } finally {
    await gateway.stop();
  }
}

/**
 * Starts supergateway (node_modules, not npx) on a free loopback port in front of `server`, and
 * resolves once its endpoint answers HTTP, with `{ url, stop() }`. stdin is ignored: a closed
 * stdin pipe would stop it. stop() sends SIGTERM (supergateway then stops its echo processes),
 * SIGKILLs after 5 s, and never rejects.
 */
async function startSupergateway(root, server) {
  const port = await freePort();
  const quote = (s) => `'${s.replaceAll("'", "'\\''")}'`;
  const child = spawn(
    process.execPath,
    [
      join(root, "node_modules/supergateway/dist/index.js"),
      ["--stdio", [server.command, ...server.args].map(quote).join(" ")],
      ["--outputTransport", "streamableHttp", "--stateful"],
      ["--port", String(port), "--streamableHttpPath", "/mcp", "--logLevel", "none"],
    ].flat(),
    { cwd: root, stdio: ["ignore", "ignore", "pipe"] },
  );
  let stderr = "";
  child.stderr.setEncoding("utf8").on("data", (chunk) => {
    stderr = (stderr + chunk).slice(-4_096);
  });
  const exited = new Promise((resolve) => child.once("exit", resolve));
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
    await exited;
    clearTimeout(timer);
  };
  const url = `http://127.0.0.1:${port}/mcp`;
  const deadline = performance.now() + 15_000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null)
      throw new Error(`supergateway exited: ${stderr.trim()}`);
    // Any HTTP answer will do: a GET without a session is refused with 400 once it listens.
    if (
      await fetch(url).then(
        (res) => res.body?.cancel().then(() => true),
        () => false,
      )
    )
      break;
    if (performance.now() > deadline) {
      await stop();
      throw new Error(`supergateway not answering on ${url} within 15 s: ${stderr.trim()}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return { url, stop };
}

function freePort() {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}
