import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { type Agent, request as httpRequest, type IncomingHttpHeaders } from "node:http";
import { request as httpsRequest } from "node:https";
import { connect as netConnect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { afterEach } from "vitest";
import { SessionService } from "../../gen/mcpclient/v1/session_service_pb.js";
import { type App, createApp } from "../../src/app.js";
import { configSchema } from "../../src/config/schema.js";
import type { Config } from "../../src/config/types.js";
import { createLogger } from "../../src/log/logger.js";
import { type RunningServer, startServer } from "../../src/server/server.js";
import { hs256Header, jwtFrom } from "../support/jwt.js";
import { useAll } from "../support/lifecycle.js";
import { closedPort } from "../support/loopback-port.js";
import { sendJson, startLoopbackServer } from "../support/loopback-server.js";
import { unlimitedInitRates } from "../support/unlimited-init-rates.js";

/** The Connect/gRPC path prefix of the service. */
export const servicePath = "/mcpclient.v1.SessionService";

/** The credential check timeout every in-process server uses. */
export const credentialTimeoutMs = 300;

/**
 * A syntactically valid JWT (`base64url(header).base64url(payload).sig`),
 * unique per call so that sessions never share credentials by accident.
 */
export function makeJwt(claims: Record<string, unknown> = {}): string {
  const payload = { sub: "user_123", jti: `${Date.now()}-${Math.random()}`, ...claims };
  return jwtFrom(hs256Header, payload, "c2lnbmF0dXJl");
}

/**
 * How the upstream answers `POST <base>/settings/validate`; the first path
 * segment of the base picks it: `ok` 200, `reject` 401, `slow` after 5 s
 * (beyond every credential timeout), `delay` after 500 ms with 200.
 */
export type UpstreamMode = "ok" | "reject" | "slow" | "delay";

/** A real loopback HTTP server standing in for the user's API. */
export interface Upstream {
  /** A base URL `http://127.0.0.1:<port>/<mode>/<tag>` for `api_url`. */
  apiUrl(mode: UpstreamMode, tag: string): string;
  /** How many validation requests reached `apiUrl(mode, tag)` so far. */
  validations(mode: UpstreamMode, tag: string): number;
  /** The Authorization headers seen for that base, in order. */
  authorizations(mode: UpstreamMode, tag: string): (string | undefined)[];
  /** Resolves once a validation for that base has arrived (not answered). */
  arrived(mode: UpstreamMode, tag: string): Promise<void>;
  close(): Promise<void>;
}

/** Starts the upstream on 127.0.0.1, port 0. */
export async function startUpstream(): Promise<Upstream> {
  const seen = new Map<string, (string | undefined)[]>();
  const waiters = new Map<string, (() => void)[]>();
  const server = await startLoopbackServer((_req, res, { method, path: target, headers }) => {
    const path = target.split("?", 1)[0] ?? "";
    const match = /^\/(ok|reject|slow|delay)\/([^/]+)\/settings\/validate$/.exec(path);
    if (method !== "POST" || !match) return sendJson(res, 404, { error: "not found" });
    const key = `${match[1]}/${match[2]}`;
    seen.set(key, [...(seen.get(key) ?? []), headers.authorization]);
    for (const wake of waiters.get(key) ?? []) wake();
    waiters.delete(key);
    switch (match[1] as UpstreamMode) {
      case "ok":
        return sendJson(res, 200, { ok: true });
      case "reject":
        return sendJson(res, 401, { error: "unauthorized" });
      case "delay":
        return void setTimeout(() => sendJson(res, 200, { ok: true }), 500);
      case "slow": {
        const timer = setTimeout(() => sendJson(res, 200, { ok: true }), 5_000);
        res.on("close", () => clearTimeout(timer));
      }
    }
  });
  return {
    apiUrl: (mode, tag) => `${server.origin}/${mode}/${tag}`,
    validations: (mode, tag) => seen.get(`${mode}/${tag}`)?.length ?? 0,
    authorizations: (mode, tag) => seen.get(`${mode}/${tag}`) ?? [],
    arrived(mode, tag) {
      const key = `${mode}/${tag}`;
      if (seen.has(key)) return Promise.resolve();
      return new Promise((resolve) => waiters.set(key, [...(waiters.get(key) ?? []), resolve]));
    },
    close: () => server.close(),
  };
}

/**
 * The upstream of the file's tests: started before the first, closed after
 * the last. The returned object stands for the running one.
 */
export function useUpstream(): Upstream {
  return useAll(startUpstream, (upstream) => upstream.close());
}

/** A URL on which nothing listens: a port that was bound and released. */
export async function unreachableUrl(): Promise<string> {
  return `http://127.0.0.1:${await closedPort()}/api`;
}

/**
 * Opens a TCP connection to 127.0.0.1:`port` and resolves "connected" (then
 * closes it) or the connect error's code, for example "ECONNREFUSED".
 */
export function connectOutcome(port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = netConnect(port, "127.0.0.1");
    socket.once("connect", () => {
      socket.destroy();
      resolve("connected");
    });
    socket.once("error", (error: NodeJS.ErrnoException) => resolve(error.code ?? "error"));
  });
}

/**
 * Polls every 25 ms until a TCP connect to 127.0.0.1:`port` is refused and
 * resolves with that moment (`performance.now()`), or with undefined after
 * `timeoutMs`.
 */
export async function whenRefused(port: number, timeoutMs: number): Promise<number | undefined> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    if ((await connectOutcome(port)) === "ECONNREFUSED") return performance.now();
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  return undefined;
}

/** The config file shape; only what a test changes. */
export type ConfigInput = {
  server?: Record<string, unknown>;
  credentialCheck?: Record<string, unknown>;
  tools?: Record<string, unknown>;
  mcpServers?: Record<string, unknown>;
};

/**
 * A validated config for an in-process server on 127.0.0.1, port 0, with a
 * 300 ms credential check and the built-in MCP server only.
 */
export function makeConfig(input: ConfigInput = {}): Config {
  return configSchema.parse({
    server: { host: "127.0.0.1", port: 0, shutdownGraceMs: 3_000, ...input.server },
    credentialCheck: { timeoutMs: credentialTimeoutMs, ...input.credentialCheck },
    // The upstream listens on loopback, which only the development profile reaches.
    outbound: { profile: "development" },
    limits: unlimitedInitRates,
    tools: input.tools ?? {},
    log: { level: "silent" },
    mcpServers: input.mcpServers ?? { builtin: { type: "builtin" } },
  });
}

/** A real server started as the CLI starts it, with a silent logger. */
export interface Service {
  readonly app: App;
  readonly server: RunningServer;
  /** `http(s)://127.0.0.1:<port>` */
  readonly url: string;
}

/** `startServer(createApp(config, logger), config.server, logger)`. */
export async function startService(config: Config = makeConfig()): Promise<Service> {
  const logger = createLogger({ level: "silent" });
  const app = createApp(config, logger);
  const server = await startServer(app, config.server, logger);
  return { app, server, url: server.url };
}

/** What useServices gives a file whose tests each start their own service. */
export interface Services {
  /** startService(config); the service is shut down after the test. */
  start(config?: Config): Promise<Service>;
  /** Runs `cleanup` after the test, before its services are shut down. */
  defer(cleanup: () => void): void;
  /**
   * Starts an Init that waits on the `slow` upstream, over its own HTTP/2
   * connection to `url`, and resolves once it has reached the upstream: a
   * drain of that service lasts until the returned function cancels the
   * Init (the test's end does too). The service's credential check must
   * outlast the test: see longCheckConfig.
   */
  holdDrainOpen(url: string): Promise<() => void>;
}

/**
 * makeConfig with a 10 s credential check, so that an Init on the `slow`
 * upstream outlasts any test (what holdDrainOpen needs).
 */
export function longCheckConfig(): Config {
  return makeConfig({ credentialCheck: { timeoutMs: 10_000 } });
}

/** Services that each test starts for itself against `upstream`; see Services. */
export function useServices(upstream: Upstream): Services {
  const services: Service[] = [];
  const cleanups: (() => void)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0)) cleanup();
    for (const service of services.splice(0)) await service.server.shutdown();
  });
  const defer = (cleanup: () => void) => {
    cleanups.push(cleanup);
  };
  return {
    async start(config) {
      const service = await startService(config);
      services.push(service);
      return service;
    },
    defer,
    async holdDrainOpen(url) {
      const manager = new Http2SessionManager(url);
      const abort = new AbortController();
      defer(() => {
        abort.abort();
        manager.abort();
      });
      const client = createClient(
        SessionService,
        createGrpcTransport({ baseUrl: url, sessionManager: manager }),
      );
      const tag = `drain-${Date.now()}-${Math.random()}`;
      const input = { sessionId: tag, apiUrl: upstream.apiUrl("slow", tag), jwtToken: makeJwt() };
      client.init(input, { signal: abort.signal }).catch(() => undefined);
      await upstream.arrived("slow", tag);
      return () => abort.abort();
    },
  };
}

/** A plain HTTP/1.1 response with its JSON body parsed (`undefined` when not JSON). */
export interface JsonResponse {
  readonly status: number;
  readonly httpVersion: string;
  readonly headers: IncomingHttpHeaders;
  readonly text: string;
  readonly json: Record<string, unknown> | undefined;
}

/** Options of postRaw. */
export interface PostOptions {
  readonly headers?: Record<string, string>;
  /** A CA for https URLs. */
  readonly ca?: string | Buffer;
  /** Sends through this agent (for example a keep-alive one) instead of a fresh connection. */
  readonly agent?: Agent;
}

/**
 * POSTs `body` over HTTP/1.1 on a fresh connection (`agent: false`) unless an
 * agent is given, with `content-type: application/json` unless given. Works
 * for http and https.
 */
export function postRaw(
  url: string,
  body: string | Buffer,
  options: PostOptions = {},
): Promise<JsonResponse> {
  const target = new URL(url);
  const request = target.protocol === "https:" ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = request(
      target,
      {
        method: "POST",
        agent: options.agent ?? false,
        headers: {
          "content-type": "application/json",
          "content-length": Buffer.byteLength(body),
          ...options.headers,
        },
        ...(options.ca === undefined ? {} : { ca: options.ca }),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("error", reject);
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          resolve({
            status: res.statusCode ?? 0,
            httpVersion: res.httpVersion,
            headers: res.headers,
            text,
            json: parseJson(text),
          });
        });
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

/** POSTs `value` as JSON; see postRaw. */
export function postJson(url: string, value: unknown, options?: PostOptions) {
  return postRaw(url, JSON.stringify(value), options);
}

function parseJson(text: string): Record<string, unknown> | undefined {
  try {
    return JSON.parse(text) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

/** The `debug` form of a Connect JSON error's ErrorInfo detail, if there is one. */
export function jsonErrorInfo(
  body: Record<string, unknown> | undefined,
): { reason?: string; domain?: string; metadata?: Record<string, string> } | undefined {
  const details = body?.details as { type: string; debug?: Record<string, unknown> }[] | undefined;
  return details?.find((d) => d.type === "mcpclient.v1.ErrorInfo")?.debug;
}

/** A self-signed certificate for 127.0.0.1 and localhost, made with the openssl CLI. */
export interface TestCertificate {
  readonly certFile: string;
  readonly keyFile: string;
  readonly cert: Buffer;
  remove(): void;
}

/** Generates a fresh self-signed EC certificate in a temporary directory. */
export function makeCertificate(): TestCertificate {
  const dir = mkdtempSync(join(tmpdir(), "mcs-tls-"));
  const certFile = join(dir, "cert.pem");
  const keyFile = join(dir, "key.pem");
  execFileSync(
    "openssl",
    [
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:prime256v1",
      "-nodes",
      "-days",
      "1",
      "-subj",
      "/CN=localhost",
      "-addext",
      "subjectAltName=IP:127.0.0.1,DNS:localhost",
      "-keyout",
      keyFile,
      "-out",
      certFile,
    ],
    { stdio: "ignore" },
  );
  return {
    certFile,
    keyFile,
    cert: readFileSync(certFile),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
