// The soak's load, run as a worker thread by main.mjs: a stand-in user API on 127.0.0.1 and
// gRPC (h2c) clients that drive Init -> CallTools -> CloseSession cycles against the service.
//
// Messages: sends {type: "tools", names, missing} once, then for each {type: "run", cycles}
// received sends {type: "progress", done, total, unexpected} (measured runs only) and
// {type: "done", cycles, elapsedMs, outcomes, unexpected, crashCycles}; on any other message
// it closes its connections and the user API and sends {type: "stopped"}.
import { createServer } from "node:http";
import { parentPort, workerData } from "node:worker_threads";
import { crashEvery, warmupCycles } from "./plan.mjs";

const callTimeoutMs = 30_000;
// The service keeps a crash budget per session id across CloseSession; when the injected
// crashes pile up on one id, its next Init is refused with one of these (policy, not a fault).
const crashBudgetReasons = ["MCP_SERVER_BACKOFF", "MCP_SERVER_CRASH_LOOP"];
const tools = {
  builtin: "builtin__validate_settings",
  info: "fixture__info",
  crash: "fixture__crash",
};

await drive(workerData);

async function drive({ url, sessions, concurrency, calls }) {
  const { Code, ConnectError, createClient } = await import("@connectrpc/connect");
  const { createGrpcTransport, Http2SessionManager } = await import("@connectrpc/connect-node");
  const { SessionService } = await import("../../dist/gen/mcpclient/v1/session_service_pb.js");
  const { ErrorInfoSchema } = await import("../../dist/gen/mcpclient/v1/error_info_pb.js");

  const api = createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      const ok = req.method === "POST" && req.url === "/api/settings/validate";
      res.writeHead(ok ? 200 : 404, { "content-type": "application/json" }).end("{}");
    });
  });
  await new Promise((resolve) => api.listen(0, "127.0.0.1", resolve));
  const apiUrl = `http://127.0.0.1:${api.address().port}/api`;

  const h2 = new Http2SessionManager(url);
  const client = createClient(
    SessionService,
    createGrpcTransport({ baseUrl: url, sessionManager: h2 }),
  );
  const exp = Math.floor(Date.now() / 1000) + 3600;
  const b64 = (value) => Buffer.from(JSON.stringify(value)).toString("base64url");
  const jwtFor = (sub) => `${b64({ alg: "HS256", typ: "JWT" })}.${b64({ sub, exp })}.c29haw`;
  const bearer = (jwt) => ({
    headers: { authorization: `Bearer ${jwt}` },
    timeoutMs: callTimeoutMs,
  });

  let outcomes = {};
  let unexpected = 0;
  // Crash cycles per session id: the service's crash budget is kept per id, across Inits.
  let crashCycles = {};
  // Runs one RPC and counts its outcome; `expected` says which failure reasons are normal.
  async function count(label, call, expected = () => false) {
    try {
      const response = await call();
      const key = `${label} ok${response?.isError ? " (is_error)" : ""}${response?.reused ? " (reused)" : ""}`;
      outcomes[key] = (outcomes[key] ?? 0) + 1;
      return true;
    } catch (thrown) {
      const error = ConnectError.from(thrown);
      const reason = error.findDetails(ErrorInfoSchema)[0]?.reason ?? "(no ErrorInfo)";
      const key = `${label} ${Code[error.code]} ${reason}`;
      outcomes[key] = (outcomes[key] ?? 0) + 1;
      if (!expected(error.code, reason)) unexpected++;
      return false;
    }
  }

  async function cycle(n, sessionId) {
    const jwt = jwtFor(sessionId);
    const init = await count(
      "Init",
      () => client.init({ sessionId, apiUrl, jwtToken: jwt }, { timeoutMs: callTimeoutMs }),
      (code, reason) => code === Code.Unavailable && crashBudgetReasons.includes(reason),
    );
    if (init) {
      for (let j = 0; j < calls; j++) {
        const name = j % 2 === 0 ? tools.builtin : tools.info;
        await count(`CallTool ${name}`, () =>
          client.callTool({ sessionId, name, arguments: {} }, bearer(jwt)),
        );
      }
      if (n % crashEvery === crashEvery - 1) {
        crashCycles[sessionId] = (crashCycles[sessionId] ?? 0) + 1;
        await count(
          `CallTool ${tools.crash}`,
          () => client.callTool({ sessionId, name: tools.crash }, bearer(jwt)),
          (code, reason) => code === Code.Unavailable && reason === "MCP_SERVER_EXITED",
        );
        await count(
          `CallTool ${tools.info} after crash`,
          () => client.callTool({ sessionId, name: tools.info }, bearer(jwt)),
          () => true,
        );
      }
    }
    await count("CloseSession", () => client.closeSession({ sessionId }, bearer(jwt)));
  }

  // Lane l owns the sessions s with s % concurrency == l, so no two cycles share a session.
  let next = 0;
  async function run(total) {
    outcomes = {};
    unexpected = 0;
    crashCycles = {};
    let done = 0;
    const first = next;
    const started = performance.now();
    const lane = async (l) => {
      const own = Array.from({ length: sessions }, (_, s) => s).filter(
        (s) => s % concurrency === l,
      );
      for (let k = 0; next - first < total; k++) {
        const n = next++;
        await cycle(n, `soak-${own[k % own.length]}`);
        if (++done % Math.max(1, Math.floor(total / 10)) === 0 && total > warmupCycles) {
          parentPort.postMessage({ type: "progress", done, total, unexpected });
        }
      }
    };
    await Promise.all(Array.from({ length: concurrency }, (_, l) => lane(l)));
    const elapsedMs = performance.now() - started;
    parentPort.postMessage({
      type: "done",
      cycles: done,
      elapsedMs,
      outcomes,
      unexpected,
      crashCycles,
    });
  }

  const probe = "soak-probe";
  const jwt = jwtFor(probe);
  await client.init({ sessionId: probe, apiUrl, jwtToken: jwt });
  const listed = await client.listTools({ sessionId: probe }, bearer(jwt));
  await client.closeSession({ sessionId: probe }, bearer(jwt));
  const names = listed.tools.map((tool) => tool.name);
  const missing = Object.values(tools).filter((name) => !names.includes(name));
  parentPort.postMessage({ type: "tools", names, missing });

  for (;;) {
    const message = await new Promise((resolve) => parentPort.once("message", resolve));
    if (message.type === "run") await run(message.cycles);
    else break;
  }
  h2.abort();
  await new Promise((resolve) => api.close(resolve));
  parentPort.postMessage({ type: "stopped" });
}
