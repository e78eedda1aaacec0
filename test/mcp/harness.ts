import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Client } from "@connectrpc/connect";
import { afterEach } from "vitest";
import type { SessionService } from "../../gen/mcpclient/v1/session_service_pb.js";
import { type App, createApp } from "../../src/app.js";
import { loadConfig } from "../../src/config/load-config.js";
import type { Config, McpServerConfig } from "../../src/config/types.js";
import { createInMemoryClient } from "../support/in-memory-client.js";
import { hs256Header, jwtFrom } from "../support/jwt.js";
import { useEach } from "../support/lifecycle.js";
import { captureLogs } from "../support/log-capture.js";
import { type ReceivedRequest, sendJson, startLoopbackServer } from "../support/loopback-server.js";
import { builtinBin, everythingServer, repoPath } from "../support/repo-paths.js";
import { unlimitedInitRates } from "../support/unlimited-init-rates.js";
import { waitFor } from "../support/wait.js";

/** Absolute paths of the MCP servers the suites start. */
export const paths = {
  everything: everythingServer,
  everythingTools: repoPath("node_modules/@modelcontextprotocol/server-everything/dist/tools/"),
  builtinBin,
  stdioFixture: fileURLToPath(new URL("./fixtures/stdio-server.mjs", import.meta.url)),
  pagedFixture: fileURLToPath(new URL("./fixtures/paged-server.mjs", import.meta.url)),
  rawFixture: fileURLToPath(new URL("./fixtures/raw-server.mjs", import.meta.url)),
};

/**
 * A syntactically valid HS256 JWT with a far `exp`; the signature is random.
 * `headerJson` is the header's exact JSON text, to vary its spacing.
 */
export function makeJwt(subject = "user-1", headerJson = JSON.stringify(hs256Header)): string {
  return jwtFrom(headerJson, { sub: subject, exp: Math.floor(Date.now() / 1000) + 3600 });
}

const validatePath = "/api/settings/validate";
const isValidation = (r: ReceivedRequest) => r.method === "POST" && r.path === validatePath;

/** The user's API on loopback: 200 `{}` on `POST .../settings/validate`, else 404. */
export interface Upstream {
  /** `http://127.0.0.1:<port>/api/` */
  readonly apiUrl: string;
  readonly requests: readonly ReceivedRequest[];
  /** The `POST .../settings/validate` requests, in order. */
  validations(): ReceivedRequest[];
  close(): Promise<void>;
}

/** Starts the upstream on 127.0.0.1, port 0. */
export async function startUpstream(): Promise<Upstream> {
  const server = await startLoopbackServer((_req, res, request) => {
    if (isValidation(request)) sendJson(res, 200, {});
    else sendJson(res, 404, { error: "not found" });
  });
  return {
    apiUrl: `${server.origin}/api/`,
    requests: server.requests,
    validations: () => server.requests.filter(isValidation),
    close: () => server.close(),
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
    // The upstream listens on loopback, which only the development profile reaches.
    outbound: { ...defaults.outbound, profile: "development" },
    limits: { ...defaults.limits, ...unlimitedInitRates },
    ...(mcpServers === undefined ? {} : { mcpServers }),
  };
  const log = captureLogs("info");
  const app = createApp(config, log.logger);
  return {
    app,
    client: createInMemoryClient(app),
    logs: () => log.entries(),
    logText: () => log.text(),
  };
}

/** A JSON-lines file a fixture appends its events to. */
export interface EventLog {
  readonly path: string;
  /** The events written so far; a line still being written is left out. */
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
      // The last piece is "" after a whole line, or a line still being written.
      return text
        .split("\n")
        .slice(0, -1)
        .filter((line) => line !== "")
        .map((line) => JSON.parse(line) as Record<string, unknown>);
    },
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** A `tools/call` message as a fixture logged it on receipt. */
export interface ReceivedCall {
  /** The fixture process that received it. */
  readonly pid: unknown;
  /** Its JSON-RPC id. */
  readonly id: unknown;
  readonly params: { name?: unknown; _meta?: { progressToken?: unknown } };
}

/** The `tools/call` messages for `tool` the fixtures logging to `events` received, in order. */
export function toolCalls(events: EventLog, tool: string): ReceivedCall[] {
  return events
    .read()
    .filter(
      (e) =>
        e.method === "tools/call" && (e.params as { name?: unknown } | undefined)?.name === tool,
    ) as unknown as ReceivedCall[];
}

/** Waits until the fixture that received `call` logs `notifications/cancelled` for it. */
export function cancellationOf(
  events: EventLog,
  call: ReceivedCall,
): Promise<Record<string, unknown>> {
  return waitFor(
    () =>
      events
        .read()
        .find(
          (e) =>
            e.method === "notifications/cancelled" &&
            e.pid === call.pid &&
            (e.params as { requestId?: unknown }).requestId === call.id,
        ),
    `notifications/cancelled for request ${String(call.id)}`,
  );
}

/** What useMcpHarness gives a suite: each test has its own of each. */
export interface McpHarness {
  /** The test's upstream, closed after it. */
  readonly upstream: Upstream;
  /** The test's event log, removed after it. */
  readonly events: EventLog;
  /** startService(mcpServers, tools); the app is closed after the test. */
  start(
    mcpServers?: Record<string, McpServerConfig>,
    tools?: Partial<Config["tools"]>,
  ): Promise<Service>;
  /** start(mcpServers), then an Init of `sessionId` with `token` against the upstream. */
  open(
    mcpServers: Record<string, McpServerConfig>,
    sessionId: string,
    token: string,
  ): Promise<Service>;
}

/**
 * Gives each test of the file an upstream and an event log, and closes the
 * services it starts. `upstream` and `events` stand for the current test's.
 */
export function useMcpHarness(): McpHarness {
  const upstream = useEach(startUpstream, (u) => u.close());
  const events = useEach(createEventLog, (log) => log.remove());
  const services: Service[] = [];
  // Registered last, so it runs first: the apps end before the log and the upstream go.
  afterEach(async () => {
    for (const service of services.splice(0)) await service.app.close();
  });
  const harness: McpHarness = {
    upstream,
    events,
    async start(mcpServers, tools) {
      const service = await startService(mcpServers, tools);
      services.push(service);
      return service;
    },
    async open(mcpServers, sessionId, token) {
      const service = await harness.start(mcpServers);
      await service.client.init({ sessionId, apiUrl: upstream.apiUrl, jwtToken: token });
      return service;
    },
  };
  return harness;
}
