#!/usr/bin/env node
// biome-ignore-all lint/suspicious/noTemplateCurlyInString: config values hold the service's own ${name} placeholders.
// Init and CallTool latency, built-in MCP server versus the same server over
// stdio. Starts a demo API and two service processes (one per MCP server
// kind) from dist/, drives them from this process over gRPC (h2c), and prints
// median and p99 per scenario plus the stdio/built-in ratios. Run after
// `npm run build`: `npm run bench`. Figures are wall time on a shared machine:
// compare the ratios of one run, not absolute numbers across runs.
import { spawn } from "node:child_process";
import { once } from "node:events";
import { writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { SessionService } from "../dist/gen/mcpclient/v1/session_service_pb.js";

const initRuns = Number(process.env.BENCH_INIT_RUNS ?? 40);
const callRuns = Number(process.env.BENCH_CALL_RUNS ?? 400);
const root = new URL("..", import.meta.url).pathname;

const api = createServer((req, res) => {
  req.resume();
  req.on("end", () => res.writeHead(200, { "content-type": "application/json" }).end("{}"));
});
api.listen(0, "127.0.0.1");
await once(api, "listening");
const apiUrl = `http://127.0.0.1:${api.address().port}`;

const b64 = (v) => Buffer.from(JSON.stringify(v)).toString("base64url");
const jwt = `${b64({ alg: "HS256", typ: "JWT" })}.${b64({ sub: "bench" })}.c2ln`;

const kinds = {
  builtin: { builtin: { type: "builtin" } },
  stdio: {
    builtin: {
      command: process.execPath,
      args: [join(root, "dist/src/builtin/stdio-main.js")],
      env: {
        API_BASE_URL: "${apiUrl}",
        API_TOKEN: "${jwtToken}",
        API_OUTBOUND_PROFILE: "development",
      },
    },
  },
};

async function startService(name, mcpServers) {
  const file = join(tmpdir(), `mcs-bench-${name}-${process.pid}.json`);
  writeFileSync(
    file,
    JSON.stringify({
      server: { port: 0 },
      outbound: { profile: "development" },
      log: { level: "warn" },
      mcpServers,
    }),
  );
  const child = spawn(process.execPath, [join(root, "dist/src/cli.js"), "--config", file], {
    env: { ...process.env, MCP_CLIENT_SERVER_LOG_LEVEL: "info" },
    stdio: ["ignore", "pipe", "inherit"],
  });
  let buffered = "";
  for await (const chunk of child.stdout) {
    buffered += chunk;
    const line = buffered.split("\n").find((l) => l.includes('"listening"'));
    if (line) return { child, url: JSON.parse(line).url };
  }
  throw new Error(`service ${name} did not start`);
}

function stats(samples) {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
  return { median: at(0.5), p99: at(0.99), n: sorted.length };
}

async function time(fn) {
  const start = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - start) / 1e6;
}

const results = {};
for (const [kind, mcpServers] of Object.entries(kinds)) {
  const { child, url } = await startService(kind, mcpServers);
  const sessions = new Http2SessionManager(url);
  const client = createClient(
    SessionService,
    createGrpcTransport({ baseUrl: url, sessionManager: sessions }),
  );
  const headers = { authorization: `Bearer ${jwt}` };
  // Warm up the connection and the JIT on one session before measuring.
  await client.init({ sessionId: "warmup", apiUrl, jwtToken: jwt });
  for (let i = 0; i < 50; i++)
    await client.callTool({ sessionId: "warmup", name: "validate_settings" }, { headers });

  const init = [];
  for (let i = 0; i < initRuns; i++) {
    init.push(await time(() => client.init({ sessionId: `s${i}`, apiUrl, jwtToken: jwt })));
  }
  const call = [];
  for (let i = 0; i < callRuns; i++) {
    const sessionId = `s${i % initRuns}`;
    call.push(
      await time(() => client.callTool({ sessionId, name: "validate_settings" }, { headers })),
    );
  }
  results[kind] = { init: stats(init), call: stats(call) };
  sessions.abort();
  child.kill("SIGTERM");
  await once(child, "exit");
}
api.close();

const fmt = (ms) => `${ms.toFixed(2)} ms`;
console.log(
  `node ${process.version}, ${initRuns} Inits and ${callRuns} CallTools per kind, serial, gRPC over h2c`,
);
console.log(
  "| scenario | built-in median | built-in p99 | stdio median | stdio p99 | stdio / built-in (median) |",
);
console.log("|---|---|---|---|---|---|");
for (const op of ["init", "call"]) {
  const b = results.builtin[op];
  const s = results.stdio[op];
  const label = op === "init" ? "Init (new session)" : "CallTool validate_settings";
  console.log(
    `| ${label} | ${fmt(b.median)} | ${fmt(b.p99)} | ${fmt(s.median)} | ${fmt(s.p99)} | ${(s.median / b.median).toFixed(2)}x |`,
  );
}
