import { randomUUID } from "node:crypto";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import type { ServerResponse } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { toJson } from "@bufbuild/protobuf";
import { type Client, type Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import { expect } from "vitest";
import { type ErrorInfo, ErrorInfoSchema } from "../../gen/mcpclient/v1/error_info_pb.js";
import type { SessionService } from "../../gen/mcpclient/v1/session_service_pb.js";
import { type App, createApp } from "../../src/app.js";
import { loadConfig } from "../../src/config/load-config.js";
import type { Config, McpServerConfig } from "../../src/config/types.js";
import type { StartSessionClients } from "../../src/mcp/start-session-clients.js";
import { createInMemoryClient } from "../support/in-memory-client.js";
import { hs256Header, jwtFrom } from "../support/jwt.js";
import { useEach } from "../support/lifecycle.js";
import { captureLogs } from "../support/log-capture.js";
import { sendJson, startLoopbackServer } from "../support/loopback-server.js";
import { nodeServer } from "../support/node-server-config.js";
import { processGone } from "../support/process-gone.js";
import { unlimitedInitRates } from "../support/unlimited-init-rates.js";

/** The SessionService client every test uses. */
export type SessionClient = Client<typeof SessionService>;

// ---------------------------------------------------------------- upstream

/** One request as the upstream API received it. */
export interface UpstreamRequest {
  readonly method: string;
  readonly path: string;
  readonly authorization: string | undefined;
  readonly body: string;
}

/** How the upstream answers a credential check: a status, a status after a delay, or never. */
export type Reply = number | { status: number; delayMs?: number } | "hang";

/** A real HTTP/1.1 API on 127.0.0.1 standing in for the user's API. */
export interface Upstream {
  /** `http://127.0.0.1:<port>/api/v1`, the `api_url` tests send. */
  readonly apiUrl: string;
  /** The path the credential check must POST to. */
  readonly validatePath: string;
  /** Every request, in arrival order. */
  readonly requests: readonly UpstreamRequest[];
  /** The requests to `validatePath`. */
  validations(): UpstreamRequest[];
  /** Answers `POST <base>/settings/validate`; the default answers 200. */
  onValidate: (request: UpstreamRequest) => Reply;
  close(): Promise<void>;
}

const basePath = "/api/v1";

/**
 * Starts the upstream. `<base>/settings/validate` answers as `onValidate`
 * says; `<base>/echo-auth` echoes the authorization header (an API that
 * leaks it back); `<base>/hang` never answers; any other path answers 200
 * `{"method","path"}` as JSON.
 */
export async function startUpstream(): Promise<Upstream> {
  const requests: UpstreamRequest[] = [];
  const timers = new Set<NodeJS.Timeout>();
  const validatePath = `${basePath}/settings/validate`;
  const upstream = {
    onValidate: (() => 200) as (request: UpstreamRequest) => Reply,
  };
  const server = await startLoopbackServer((_req, res, { method, path, headers, body }) => {
    const request: UpstreamRequest = { method, path, authorization: headers.authorization, body };
    requests.push(request);
    answer(res, request);
  });

  function answer(res: ServerResponse, request: UpstreamRequest): void {
    if (request.path === `${basePath}/hang`) return;
    if (request.path === `${basePath}/echo-auth`) {
      sendJson(res, 200, { authorization: request.authorization ?? null });
    } else if (request.path !== validatePath) {
      sendJson(res, 200, { method: request.method, path: request.path });
    } else {
      const reply = upstream.onValidate(request);
      if (reply === "hang") return;
      const { status, delayMs = 0 } = typeof reply === "number" ? { status: reply } : reply;
      const send = () => sendJson(res, status, status < 300 ? { ok: true } : { error: "no" });
      if (delayMs === 0) {
        send();
      } else {
        const timer = setTimeout(() => {
          timers.delete(timer);
          send();
        }, delayMs);
        timers.add(timer);
      }
    }
  }

  return Object.assign(upstream, {
    apiUrl: `${server.origin}${basePath}`,
    validatePath,
    requests,
    validations: () => requests.filter((r) => r.path === validatePath),
    close() {
      for (const timer of timers) clearTimeout(timer);
      return server.close();
    },
  });
}

// ---------------------------------------------------------------- JWTs

/** What buildJwt puts into a token. */
export interface JwtOptions {
  /** Default `{"alg":"HS256","typ":"JWT"}`. */
  readonly header?: Record<string, unknown>;
  /** Merged over `{"sub":"CANARY-<uuid>"}` and `exp`. */
  readonly payload?: Record<string, unknown>;
  /** `exp` in seconds since the epoch; `null` leaves it out. Default: an hour from now. */
  readonly exp?: number | null;
  /** The third segment; default 32 random bytes, base64url. */
  readonly signature?: string;
}

/**
 * A JWT-shaped token, unsigned but with a random signature segment. Every
 * token carries `"sub":"CANARY-<uuid>"`, so its payload segment is unique
 * and any copy of it in a log or a response is a leak.
 */
export function buildJwt(options: JwtOptions = {}): string {
  const exp = options.exp === undefined ? Math.floor(Date.now() / 1000) + 3600 : options.exp;
  const payload = {
    sub: `CANARY-${randomUUID()}`,
    ...(exp === null ? {} : { exp }),
    ...options.payload,
  };
  return jwtFrom(options.header ?? hs256Header, payload, options.signature);
}

// ---------------------------------------------------------------- errors

/**
 * Awaits `call`, which must fail with `code` and an `mcpclient.v1.ErrorInfo`
 * detail whose reason is `reason`; returns both for further checks.
 */
export async function expectRpcError(
  call: Promise<unknown>,
  code: Code,
  reason: string,
): Promise<{ error: ConnectError; info: ErrorInfo }> {
  const error = await call.then(
    (value) => {
      throw new Error(`expected ${reason}, got a response: ${JSON.stringify(value, bigints)}`);
    },
    (e: unknown) => ConnectError.from(e),
  );
  const infos = error.findDetails(ErrorInfoSchema);
  expect({ code: error.code, reasons: infos.map((i) => i.reason) }).toEqual({
    code,
    reasons: [reason],
  });
  const info = infos[0] as ErrorInfo;
  expect(info.domain).toBe("mcp-client-server");
  return { error, info };
}

function bigints(_key: string, value: unknown): unknown {
  return typeof value === "bigint" ? value.toString() : value;
}

// ---------------------------------------------------------------- apps

/** What the wrapped MCP starter saw. */
export interface StartCounts {
  /** Times the starter was called. */
  calls: number;
  /** Starts that resolved. */
  started: number;
  /** Started session clients that were closed since. */
  closed: number;
  /** The session id of each successful start, in order. */
  readonly sessions: string[];
}

/** An app wired to an in-memory client, with its log lines and start counts. */
export interface TestApp {
  readonly app: App;
  readonly config: Config;
  readonly client: SessionClient;
  /** Every JSON line the app logged. */
  readonly logs: readonly string[];
  readonly starts: StartCounts;
}

/**
 * The defaults of `loadConfig()` (one built-in MCP server) with a 300 ms
 * credential check timeout and the development outbound profile, then
 * `overrides`.
 */
export async function testConfig(overrides: Partial<Config> = {}): Promise<Config> {
  const defaults = await loadConfig({ env: {} });
  return {
    ...defaults,
    credentialCheck: { ...defaults.credentialCheck, timeoutMs: 300 },
    // The upstream listens on loopback, which only the development profile reaches.
    outbound: { ...defaults.outbound, profile: "development" },
    // Suites run many Inits on one session_id; the limits have their own tests.
    limits: { ...defaults.limits, ...unlimitedInitRates },
    ...overrides,
  };
}

function countStarts(counts: StartCounts): (start: StartSessionClients) => StartSessionClients {
  return (start) => async (credentials, signal, reservation) => {
    counts.calls++;
    const clients = await start(credentials, signal, reservation);
    counts.started++;
    counts.sessions.push(credentials.sessionId);
    const close = clients.close;
    let closed = false;
    clients.close = (...args) => {
      if (!closed) counts.closed++;
      closed = true;
      return close.apply(clients, args);
    };
    return clients;
  };
}

// ---------------------------------------------------------------- harness

/**
 * Owns everything one test starts and checks, at cleanup, that no token it
 * minted leaked into a log line or anything a caller received.
 */
export interface Harness {
  /** Starts an upstream API, closed at cleanup. */
  upstream(): Promise<Upstream>;
  /** Creates an app (default config: testConfig()), closed at cleanup. */
  app(config?: Config): Promise<TestApp>;
  /** buildJwt, with the token registered as a secret. */
  jwt(options?: JwtOptions): string;
  /** Registers `value` (a token) as a secret: neither it nor its payload or signature may leak. */
  secret(value: string): string;
  /** A temporary directory, removed at cleanup. */
  tempDir(): Promise<string>;
  /** Every log line, error text, ErrorInfo value and response JSON seen so far. */
  observed(): string[];
  /** The observed strings that contain a secret, each with the secret part it holds. */
  leaks(): string[];
  /** Closes every app and upstream, removes temp dirs, then fails on any leak. */
  cleanup(): Promise<void>;
}

/** Creates a harness for one test. */
export function createHarness(): Harness {
  const apps: TestApp[] = [];
  const upstreams: Upstream[] = [];
  const dirs: string[] = [];
  const secrets = new Set<string>();
  const seen: string[] = [];

  const recorder: Interceptor = (next) => async (req) => {
    try {
      const res = await next(req);
      if (!res.stream) {
        seen.push(JSON.stringify(toJson(res.method.output, res.message)));
        res.header.forEach((value) => void seen.push(value));
        res.trailer.forEach((value) => void seen.push(value));
      }
      return res;
    } catch (e) {
      const error = ConnectError.from(e);
      seen.push(error.message, error.rawMessage);
      error.metadata.forEach((value) => void seen.push(value));
      for (const info of error.findDetails(ErrorInfoSchema)) {
        seen.push(info.reason, info.domain, ...Object.values(info.metadata));
        seen.push(JSON.stringify(toJson(ErrorInfoSchema, info)));
      }
      throw e;
    }
  };

  const harness: Harness = {
    async upstream() {
      const upstream = await startUpstream();
      upstreams.push(upstream);
      return upstream;
    },
    async app(config) {
      const resolved = config ?? (await testConfig());
      const log = captureLogs("trace");
      const starts: StartCounts = { calls: 0, started: 0, closed: 0, sessions: [] };
      const app = createApp(resolved, log.logger, { wrapStartClients: countStarts(starts) });
      const testApp = {
        app,
        config: resolved,
        client: createInMemoryClient(app, [recorder]),
        logs: log.lines,
        starts,
      };
      apps.push(testApp);
      return testApp;
    },
    jwt(options) {
      return harness.secret(buildJwt(options));
    },
    secret(value) {
      secrets.add(value);
      return value;
    },
    async tempDir() {
      const dir = await mkdtemp(join(tmpdir(), "mcp-service-test-"));
      dirs.push(dir);
      return dir;
    },
    observed() {
      return [...apps.flatMap((a) => a.logs), ...seen];
    },
    leaks() {
      // The payload segment is unique too (it holds the canary `sub`).
      const parts = [...secrets].flatMap((s) => [
        s,
        ...s
          .split(".")
          .slice(1)
          .filter((part) => part.length >= 16),
      ]);
      return harness
        .observed()
        .flatMap((text) => parts.filter((p) => text.includes(p)).map((p) => `${p} in ${text}`));
    },
    async cleanup() {
      await Promise.allSettled(apps.map((a) => a.app.close()));
      await Promise.allSettled(upstreams.map((u) => u.close()));
      await Promise.allSettled(dirs.map((d) => rm(d, { recursive: true, force: true })));
      expect(harness.leaks()).toEqual([]);
    },
  };
  return harness;
}

/**
 * A fresh harness for each test of the file, cleaned up (leak check
 * included) after it. The returned object stands for the current test's.
 */
export function useHarness(): Harness {
  return useEach(createHarness, (h) => h.cleanup());
}

/** An app plus an upstream, the setup most tests need. */
export async function appWithUpstream(
  h: Harness,
  config?: Config,
): Promise<TestApp & { upstream: Upstream }> {
  const upstream = await h.upstream();
  const testApp = await h.app(config);
  return { ...testApp, upstream };
}

/** Inits `sessionId` with `token` against `upstream` and expects a new session. */
export async function initSession(
  client: SessionClient,
  upstream: Upstream,
  sessionId: string,
  token: string,
): Promise<void> {
  const res = await client.init({ sessionId, apiUrl: upstream.apiUrl, jwtToken: token });
  expect({ status: res.status, reused: res.reused }).toEqual({ status: "ok", reused: false });
}

// ---------------------------------------------------------------- stdio children

const pidServerPath = fileURLToPath(new URL("./fixtures/pid-server.mjs", import.meta.url));

/** Optional behaviour of fixtures/pid-server.mjs. */
export interface PidServerOptions {
  /** Waits this long after recording its pid before it answers the MCP handshake. */
  readonly startDelayMs?: number;
  /** Keeps running this long after its stdin has ended: only a signal ends it early. */
  readonly lingerMs?: number;
  /** Records its pid here too once the MCP handshake is done. */
  readonly readyDir?: string;
}

/**
 * A stdio server config for fixtures/pid-server.mjs: a real child process
 * that records its pid in `pidDir` and fails to start for a token whose
 * signature starts with "FAIL"; `options` make it slow to start or to end.
 */
export function pidServer(pidDir: string, options: PidServerOptions = {}): McpServerConfig {
  const env: Record<string, string> = {
    PID_DIR: pidDir,
    // biome-ignore lint/suspicious/noTemplateCurlyInString: the service's own env template syntax.
    MCP_TOKEN: "${jwtToken}",
  };
  if (options.startDelayMs !== undefined) env.START_DELAY_MS = String(options.startDelayMs);
  if (options.lingerMs !== undefined) env.LINGER_MS = String(options.lingerMs);
  if (options.readyDir !== undefined) env.READY_DIR = options.readyDir;
  return nodeServer(pidServerPath, env);
}

/** The pids recorded in `pidDir` whose process is still running. */
export async function livePids(pidDir: string): Promise<number[]> {
  const pids = (await readdir(pidDir)).map(Number);
  return pids.filter((pid) => !processGone(pid));
}

/** The number of pids recorded in `pidDir`: children ever spawned. */
export async function spawnedPids(pidDir: string): Promise<number> {
  return (await readdir(pidDir)).length;
}
