import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { FetchLike, Transport } from "@modelcontextprotocol/sdk/shared/transport.js";
import { createInProcessPeer } from "../builtin/in-process-peer.js";
import { renderRecord } from "../config/template.js";
import type { Config, McpServerConfig } from "../config/types.js";
import type { Logger } from "../log/logger.js";
import { maskSecrets } from "../log/redact.js";
import type { OutboundClient } from "../outbound/http-client.js";
import type { ProcessGuardian } from "../process/guardian.js";
import type { ProcessBudget, ProcessReservation } from "../process/process-budget.js";
import { createByteBudget } from "./byte-budget.js";
import { createClientPeer } from "./client-peer.js";
import {
  createServerConnection,
  type LostReason,
  type ServerConnection,
  type StopServer,
} from "./server-connection.js";
import { StdioProcessTransport } from "./stdio-process-transport.js";
import { clientInfo } from "./version.js";

/** The credentials of one session, as the server templates see them. */
export interface SessionCredentials {
  readonly sessionId: string;
  readonly apiUrl: URL;
  readonly jwtToken: string;
}

/** What connecting a server needs besides its own config. */
export interface ConnectDeps {
  readonly config: Pick<Config, "builtin" | "tools" | "limits" | "stdio">;
  /** Outbound HTTP for the built-in server, behind the user-facing outbound policy. */
  readonly http: OutboundClient;
  /** `fetch` for Streamable HTTP servers, limited to the configured servers' origins. */
  readonly fetch: FetchLike;
  readonly logger: Logger;
  /** Counts stdio server processes against `limits.maxChildProcesses`. */
  readonly processes: ProcessBudget;
  /** Kills every stdio server's process group if the service dies. */
  readonly guardian: ProcessGuardian;
  /** Told the outcome of each server start (for metrics); not for starts whose callers gave up. */
  readonly onServerStart?: (server: string, outcome: "ok" | "failed") => void;
}

// stderr lines logged per second per server (with a burst); more are counted, not logged.
const stderrLinesPerSecond = 50;
const stderrLineBurst = 200;

/**
 * Connects one session to one configured server: starts a stdio server or
 * reaches a Streamable HTTP one and completes the MCP handshake within
 * `tools.startTimeoutMs`, or binds the built-in tools to the session's
 * credentials (they run in this process, with no handshake: see
 * createInProcessPeer). On any failure everything started is closed before
 * the error is rethrown.
 */
export async function connectServer(
  name: string,
  server: McpServerConfig,
  credentials: SessionCredentials,
  deps: ConnectDeps,
  signal: AbortSignal,
  reservation: ProcessReservation,
): Promise<ServerConnection> {
  if (server.type === "builtin") {
    signal.throwIfAborted();
    const peer = createInProcessPeer({
      apiUrl: credentials.apiUrl,
      jwtToken: credentials.jwtToken,
      http: deps.http,
      requestTimeoutMs: deps.config.builtin.requestTimeoutMs,
      maxResponseBytes: deps.config.builtin.maxResponseBytes,
    });
    return createServerConnection(name, peer, async () => {});
  }
  const { transport, stop, lostReason } = createTransport(
    name,
    server,
    credentials,
    deps,
    reservation,
  );
  const client = new Client(clientInfo, { capabilities: {} });
  const connection = createServerConnection(name, createClientPeer(client), stop, lostReason);
  try {
    await client.connect(transport, { timeout: deps.config.tools.startTimeoutMs, signal });
  } catch (error) {
    await connection.close().catch(() => {});
    throw error;
  }
  return connection;
}

function createTransport(
  name: string,
  server: Exclude<McpServerConfig, { type: "builtin" }>,
  credentials: SessionCredentials,
  deps: ConnectDeps,
  reservation: ProcessReservation,
): { transport: Transport; stop: StopServer; lostReason?: () => LostReason | undefined } {
  const vars = {
    apiUrl: credentials.apiUrl.href,
    jwtToken: credentials.jwtToken,
    sessionId: credentials.sessionId,
  };
  if (server.type === "http") {
    const transport = new StreamableHTTPClientTransport(new URL(server.url), {
      requestInit: { headers: renderRecord(server.headers, vars), redirect: "error" },
      fetch: deps.fetch,
    });
    return {
      transport,
      // Ends the server-side MCP session; a server that does not support it is not an error.
      stop: () => transport.terminateSession().catch(() => {}),
    };
  }
  const log = deps.logger.child({ server: name, session_id: credentials.sessionId });
  const transport = new StdioProcessTransport({
    command: server.command,
    args: server.args,
    env: renderRecord(server.env, vars),
    ...(server.cwd === undefined ? {} : { cwd: server.cwd }),
    ...deps.config.stdio,
    stderr: stderrLogger(log, credentials),
    reservation,
    onExited: () => deps.processes.exited(),
    guardian: deps.guardian,
  });
  return {
    transport,
    // Closing the client closes the transport too, with the configured grace.
    stop: (graceMs) => (graceMs === undefined ? Promise.resolve() : transport.stop(graceMs)),
    lostReason: () => transport.lostReason,
  };
}

// Query values of the api_url at least this long are masked in stderr lines.
const minMaskedQueryValue = 6;

// Logs a server's stderr lines with the session's own secrets masked: its
// token and the values of its api_url's query, whatever their shape (the
// logger masks JWT shapes and the queries of whole URLs only). The rate is
// bounded: a chatty server cannot flood the service's log. Lines over the
// rate are counted in the next logged line, or in a last line when the
// server ends.
function stderrLogger(log: Logger, credentials: SessionCredentials) {
  const secrets = [
    credentials.jwtToken,
    ...[...credentials.apiUrl.searchParams.values()].filter(
      (value) => value.length >= minMaskedQueryValue,
    ),
  ];
  const budget = createByteBudget(stderrLinesPerSecond, stderrLineBurst);
  let dropped = 0;
  return {
    line(line: string): void {
      if (!budget.take(1)) {
        dropped++;
        return;
      }
      const stderr = maskSecrets(line, secrets);
      log.info({ stderr, ...(dropped > 0 ? { dropped_lines: dropped } : {}) }, "mcp server stderr");
      dropped = 0;
    },
    end(): void {
      if (dropped > 0) log.info({ dropped_lines: dropped }, "mcp server stderr lines dropped");
      dropped = 0;
    },
  };
}
