import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer, type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { CallOptions, Client } from "@connectrpc/connect";
import { type Code, ConnectError, createClient, createRouterTransport } from "@connectrpc/connect";
import { ErrorInfoSchema } from "../../gen/mcpclient/v1/error_info_pb.js";
import { SessionService } from "../../gen/mcpclient/v1/session_service_pb.js";
import { type App, createApp } from "../../src/app.js";
import { loadConfig } from "../../src/config/load-config.js";
import type { Config, McpServerConfig } from "../../src/config/types.js";
import { createLogger } from "../../src/log/logger.js";

/** Absolute paths of the MCP servers the suites start. */
export const paths = {
  everything: fileURLToPath(
    new URL(
      "../../node_modules/@modelcontextprotocol/server-everything/dist/index.js",
      import.meta.url,
    ),
  ),
  everythingTools: fileURLToPath(
    new URL(
      "../../node_modules/@modelcontextprotocol/server-everything/dist/tools/",
      import.meta.url,
    ),
  ),
  builtinBin: fileURLToPath(new URL("../../dist/src/builtin/stdio-main.js", import.meta.url)),
  stdioFixture: fileURLToPath(new URL("./fixtures/stdio-server.mjs", import.meta.url)),
  pagedFixture: fileURLToPath(new URL("./fixtures/paged-server.mjs", import.meta.url)),
};

/**
 * A syntactically valid HS256 JWT with a far `exp`; the signature is random.
 * `headerJson` is the header's exact JSON text, to vary its spacing.
 */
export function makeJwt(
  subject = "user-1",
  headerJson = JSON.stringify({ alg: "HS256", typ: "JWT" }),
): string {
  const part = (text: string) => Buffer.from(text).toString("base64url");
  const payload = JSON.stringify({ sub: subject, exp: Math.floor(Date.now() / 1000) + 3600 });
  return `${part(headerJson)}.${part(payload)}.${randomBytes(32).toString("base64url")}`;
}

/** One request the upstream API received. */
export interface UpstreamRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

/** The user's API on loopback: 200 `{}` on `POST .../settings/validate`, else 404. */
export interface Upstream {
  /** `http://127.0.0.1:<port>/api/` */
  readonly apiUrl: string;
  readonly requests: readonly UpstreamRequest[];
  /** The `POST .../settings/validate` requests, in order. */
  validations(): UpstreamRequest[];
  close(): Promise<void>;
}

/** Starts the upstream on 127.0.0.1, port 0. */
export async function startUpstream(): Promise<Upstream> {
  const requests: UpstreamRequest[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const path = req.url ?? "";
      const method = req.method ?? "";
      requests.push({
        method,
        path,
        headers: req.headers,
        body: Buffer.concat(chunks).toString("utf8"),
      });
      const ok = method === "POST" && path === "/api/settings/validate";
      res.writeHead(ok ? 200 : 404, { "content-type": "application/json" });
      res.end(ok ? "{}" : '{"error":"not found"}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    apiUrl: `http://127.0.0.1:${port}/api/`,
    requests,
    validations: () =>
      requests.filter((r) => r.method === "POST" && r.path === "/api/settings/validate"),
    close() {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

/** The service wired in memory, with its log lines captured. */
export interface Service {
  readonly app: App;
  readonly client: Client<typeof SessionService>;
  /** Every log line written so far, parsed. */
  logs(): Record<string, unknown>[];
  /** The raw log text, to check what it must never contain. */
  logText(): string;
}

/**
 * Creates the app from `loadConfig()` defaults (no file, no env) with
 * `mcpServers` replaced, and a SessionService client over an in-memory
 * router transport with the app's interceptors.
 */
export async function startService(
  mcpServers?: Record<string, McpServerConfig>,
  tools: Partial<Config["tools"]> = {},
): Promise<Service> {
  const defaults = await loadConfig({ env: {} });
  const config: Config = {
    ...defaults,
    tools: { ...defaults.tools, startTimeoutMs: 15_000, ...tools },
    ...(mcpServers === undefined ? {} : { mcpServers }),
  };
  const lines: string[] = [];
  const logger = createLogger({ level: "info", destination: { write: (l) => lines.push(l) } });
  const app = createApp(config, logger);
  const transport = createRouterTransport(app.routes, {
    router: { interceptors: app.interceptors },
  });
  return {
    app,
    client: createClient(SessionService, transport),
    logs: () => lines.map((line) => JSON.parse(line) as Record<string, unknown>),
    logText: () => lines.join(""),
  };
}

/** A stdio server config running `script` with node, env values templated by the service. */
export function nodeServer(
  script: string,
  env: Record<string, string> = {},
  args: string[] = [],
): McpServerConfig {
  return { type: "stdio", command: process.execPath, args: [script, ...args], env };
}

/** Call options that carry the session's token as a bearer. */
export function bearer(token: string): CallOptions {
  return { headers: { authorization: `Bearer ${token}` } };
}

/** What a failed RPC carried: its code and its ErrorInfo detail, if any. */
export interface RpcFailure {
  readonly code: Code;
  readonly reason: string | undefined;
  readonly metadata: Record<string, string>;
  readonly error: ConnectError;
}

/** Awaits `promise`, which must reject, and returns its code and ErrorInfo. */
export async function failureOf(promise: Promise<unknown>): Promise<RpcFailure> {
  let caught: unknown;
  try {
    await promise;
  } catch (error) {
    caught = error;
  }
  if (caught === undefined) throw new Error("expected the RPC to fail, but it succeeded");
  const error = ConnectError.from(caught);
  const info = error.findDetails(ErrorInfoSchema)[0];
  return { code: error.code, reason: info?.reason, metadata: { ...info?.metadata }, error };
}

/** Polls `check` every 25 ms until it returns a value other than undefined/false. */
export async function waitFor<T>(
  check: () => T | undefined | false,
  what: string,
  timeoutMs = 5_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** True when no process has `pid` (kill 0 fails with ESRCH). */
export function processGone(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return false;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "ESRCH";
  }
}

/** A JSON-lines file a fixture appends its events to. */
export interface EventLog {
  readonly path: string;
  read(): Record<string, unknown>[];
  remove(): void;
}

/** Creates an empty event log in a fresh temporary directory. */
export function createEventLog(): EventLog {
  const dir = mkdtempSync(join(tmpdir(), "mcs-mcp-test-"));
  const path = join(dir, "events.jsonl");
  return {
    path,
    read() {
      let text: string;
      try {
        text = readFileSync(path, "utf8");
      } catch {
        return [];
      }
      return text
        .split("\n")
        .filter((line) => line !== "")
        .map((line) => JSON.parse(line) as Record<string, unknown>);
    },
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
