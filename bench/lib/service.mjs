// The processes a benchmark scenario measures: the service itself (`node dist/src/cli.js`, one
// child process per call of startService), a stand-in user API in the orchestrator process, and
// the JWTs that API accepts. Services left running are SIGKILLed when the orchestrator exits.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { connect, createServer as createTcpServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

/** The repository root (absolute, no trailing slash). */
export const root = fileURLToPath(new URL("../..", import.meta.url)).replace(/\/$/, "");

const cliPath = join(root, "dist/src/cli.js");
const hourMs = 3_600_000;
const keptLogLines = 200;
const running = new Set();

/**
 * The config every benchmarked service starts from: loopback, development outbound profile
 * (plain-http loopback user APIs), warn logging (no per-call audit lines), and limits high
 * enough that only the scenario's own load decides. `server.port` is filled in by startService.
 */
export const baseConfig = Object.freeze({
  server: { host: "127.0.0.1", shutdownGraceMs: 2_000 },
  outbound: { profile: "development" },
  log: { level: "warn" },
  limits: {
    maxSessions: 100_000,
    maxChildProcesses: 1_000,
    initPerCaller: { burst: 1_000_000, perSecond: 1_000_000 },
    initPerSession: { burst: 1_000_000, perSecond: 1_000_000 },
  },
  sessions: { idleTimeoutMs: 7 * 24 * hourMs, maxLifetimeMs: 7 * 24 * hourMs },
});

/**
 * Starts one service process from dist/ (run `npm run build` first) with `baseConfig`, then
 * `mcpServers` (default: the built-in server only), then `config` deep-merged over it (objects
 * merge, anything else replaces), written to a temp JSON file. `env` is added to the child's
 * environment; the MCP_CLIENT_SERVER_* variables are blanked so the file alone decides.
 * `nodeArgs` go to node before the script (e.g. `--cpu-prof`).
 *
 * Resolves once the service accepts TCP connections on its port, with
 * `{ name, url, pid, child, logs, stderr(), stop() }`: `logs` holds the last 200 JSON log lines,
 * `stop()` sends SIGTERM, waits for the exit, SIGKILLs after `stopTimeoutMs` (default 5 s) and
 * never rejects. Rejects when the process exits or is not ready within `startTimeoutMs`
 * (default 20 s). At warn level the CLI does not log its "listening" line, so the port is picked
 * here (a free loopback port) unless `config.server.port` is set; a "listening" line, when the
 * level lets it through, is used as well.
 */
export async function startService({
  name = "service",
  mcpServers,
  config = {},
  env = {},
  nodeArgs = [],
  startTimeoutMs = 20_000,
  stopTimeoutMs = 5_000,
} = {}) {
  const options = { name, mcpServers, config, env, nodeArgs, startTimeoutMs, stopTimeoutMs };
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(options);
    } catch (error) {
      // Another process may take the picked port between our probe and the service's bind.
      if (attempt >= 3 || !String(error.message).includes("EADDRINUSE")) throw error;
    }
  }
}

async function startOnce({
  name,
  mcpServers,
  config,
  env,
  nodeArgs,
  startTimeoutMs,
  stopTimeoutMs,
}) {
  const merged = deepMerge(
    deepMerge(baseConfig, { mcpServers: mcpServers ?? { builtin: { type: "builtin" } } }),
    config,
  );
  merged.server.port ??= await freePort(merged.server.host);
  const dir = mkdtempSync(join(tmpdir(), `mcs-bench-${name}-`));
  const file = join(dir, "config.json");
  writeFileSync(file, JSON.stringify(merged, null, 2));
  const child = spawn(process.execPath, [...nodeArgs, cliPath, "--config", file], {
    cwd: root,
    stdio: ["ignore", "pipe", "pipe"],
    env: {
      ...process.env,
      MCP_CLIENT_SERVER_HOST: "",
      MCP_CLIENT_SERVER_PORT: "",
      MCP_CLIENT_SERVER_LOG_LEVEL: "",
      ...env,
    },
  });
  const logs = [];
  let stderr = "";
  let buffered = "";
  let listeningUrl;
  child.stdout.setEncoding("utf8");
  // Always drain stdout: a full pipe would block the service's logging and skew timings.
  child.stdout.on("data", (chunk) => {
    buffered += chunk;
    const lines = buffered.split("\n");
    buffered = lines.pop() ?? "";
    for (const line of lines) {
      const entry = parseObject(line);
      if (entry === undefined) continue;
      if (entry.msg === "listening" && typeof entry.url === "string") listeningUrl = entry.url;
      logs.push(entry);
      if (logs.length > keptLogLines) logs.shift();
    }
  });
  child.stderr.setEncoding("utf8");
  child.stderr.on("data", (chunk) => {
    stderr = (stderr + chunk).slice(-16_384);
  });
  const exited = new Promise((resolve) =>
    child.once("exit", (code, signal) => resolve({ code, signal })),
  );
  let stopping;
  const service = {
    name,
    pid: child.pid,
    child,
    logs,
    config: merged,
    stderr: () => stderr,
    url: `http://${merged.server.host}:${merged.server.port}`,
    stop() {
      stopping ??= (async () => {
        running.delete(service);
        if (child.exitCode === null && child.signalCode === null) {
          child.kill("SIGTERM");
          const timer = setTimeout(() => child.kill("SIGKILL"), stopTimeoutMs);
          await exited;
          clearTimeout(timer);
        }
        rmSync(dir, { recursive: true, force: true });
      })();
      return stopping;
    },
  };
  running.add(service);

  const deadline = performance.now() + startTimeoutMs;
  let ended;
  void exited.then((how) => {
    ended = how;
  });
  while (listeningUrl === undefined) {
    if (ended !== undefined) {
      await service.stop();
      throw new Error(
        `service ${name} exited with ${ended.code ?? ended.signal} before listening: ${stderr.trim()}`,
      );
    }
    if (performance.now() > deadline) {
      await service.stop();
      throw new Error(
        `service ${name} not listening within ${startTimeoutMs} ms: ${stderr.trim()}`,
      );
    }
    if (await accepts(merged.server.host, merged.server.port)) break;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  if (listeningUrl !== undefined) service.url = listeningUrl;
  return service;
}

/** Stops every service startService started that is still running; never rejects. */
export async function stopAllServices() {
  await Promise.all([...running].map((service) => service.stop()));
}

process.once("exit", () => {
  for (const service of running) service.child.kill("SIGKILL");
});

/**
 * Starts a stand-in user API on 127.0.0.1 (port 0) in this process. `POST <base>/settings/validate`
 * answers 200 `{}` for `Authorization: Bearer <token>` unless the token is `invalid` or a JWT
 * whose payload `sub` is `"invalid"` (then 401 `{}`), or there is no bearer (401). Any other
 * request answers 200 `{}` (what the built-in `api_request` tool calls). `delayMs` delays every
 * answer. Resolves with `{ apiUrl, requests(), stop() }`: `apiUrl` has the base path `/api`,
 * `requests()` counts the requests served so far, `stop()` closes it (and its keep-alive
 * connections).
 */
export async function startUserApi({ delayMs = 0 } = {}) {
  let served = 0;
  const server = createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      served++;
      const status = req.url?.endsWith("/settings/validate") ? validateStatus(req) : 200;
      const answer = () => res.writeHead(status, { "content-type": "application/json" }).end("{}");
      if (delayMs > 0) setTimeout(answer, delayMs);
      else answer();
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    apiUrl: `http://127.0.0.1:${server.address().port}/api`,
    requests: () => served,
    stop: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function validateStatus(req) {
  if (req.method !== "POST") return 405;
  const match = /^Bearer (\S+)$/.exec(req.headers.authorization ?? "");
  if (match === null || match[1] === "invalid") return 401;
  const payload = match[1].split(".")[1];
  try {
    if (JSON.parse(Buffer.from(payload ?? "", "base64url").toString()).sub === "invalid")
      return 401;
  } catch {
    // Not a JWT: the service checks the shape before calling us, so let it through.
  }
  return 200;
}

/**
 * A JWT the service accepts as well-formed: HS256 header, payload `{ sub, exp }` with `exp`
 * `expiresInSeconds` (default 3600) from now, and a fake signature (the API owns the key; the
 * service never checks it). `makeJwt("invalid")` is refused by startUserApi's API with 401.
 */
export function makeJwt(sub, { expiresInSeconds = 3_600 } = {}) {
  const b64 = (value) => Buffer.from(JSON.stringify(value)).toString("base64url");
  const exp = Math.floor(Date.now() / 1000) + expiresInSeconds;
  return `${b64({ alg: "HS256", typ: "JWT" })}.${b64({ sub, exp })}.${Buffer.from("bench-signature").toString("base64url")}`;
}

/** `over` merged into a copy of `base`: plain objects merge key by key, anything else replaces. */
export function deepMerge(base, over) {
  if (!isPlainObject(base) || !isPlainObject(over)) return structuredClone(over);
  const out = structuredClone(base);
  for (const [key, value] of Object.entries(over)) {
    if (value === undefined) continue;
    out[key] = key in out ? deepMerge(out[key], value) : structuredClone(value);
  }
  return out;
}

function isPlainObject(value) {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function freePort(host) {
  return new Promise((resolve, reject) => {
    const probe = createTcpServer();
    probe.once("error", reject);
    probe.listen(0, host, () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}

function accepts(host, port) {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

function parseObject(line) {
  try {
    const value = JSON.parse(line);
    return typeof value === "object" && value !== null ? value : undefined;
  } catch {
    return undefined;
  }
}
