import { Readable } from "node:stream";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js";
import type { FetchLike, Transport } from "@modelcontextprotocol/sdk/shared/transport.js";
import { createBuiltinServer } from "../builtin/create-builtin-server.js";
import { renderRecord } from "../config/template.js";
import type { Config, McpServerConfig } from "../config/types.js";
import type { Logger } from "../log/logger.js";
import type { OutboundClient } from "../outbound/http-client.js";
import { createServerConnection, type ServerConnection } from "./server-connection.js";
import { forwardStderrLines } from "./stderr-lines.js";
import { clientInfo } from "./version.js";

/** The credentials of one session, as the server templates see them. */
export interface SessionCredentials {
  readonly sessionId: string;
  readonly apiUrl: URL;
  readonly jwtToken: string;
}

/** What connecting a server needs besides its own config. */
export interface ConnectDeps {
  readonly config: Pick<Config, "builtin" | "tools" | "limits">;
  /** Outbound HTTP for the built-in server, behind the user-facing outbound policy. */
  readonly http: OutboundClient;
  /** `fetch` for Streamable HTTP servers, limited to the configured servers' origins. */
  readonly fetch: FetchLike;
  readonly logger: Logger;
}

/**
 * Starts (stdio), reaches (Streamable HTTP) or creates (built-in) one MCP
 * server for one session and completes the MCP handshake within
 * `tools.startTimeoutMs`. On any failure everything started is closed before
 * the error is rethrown.
 */
export async function connectServer(
  name: string,
  server: McpServerConfig,
  credentials: SessionCredentials,
  deps: ConnectDeps,
  signal: AbortSignal,
): Promise<ServerConnection> {
  const { transport, stop } = createTransport(name, server, credentials, deps);
  const client = new Client(clientInfo, { capabilities: {} });
  const connection = createServerConnection(name, client, stop);
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
  server: McpServerConfig,
  credentials: SessionCredentials,
  deps: ConnectDeps,
): { transport: Transport; stop: () => Promise<void> } {
  const vars = {
    apiUrl: credentials.apiUrl.href,
    jwtToken: credentials.jwtToken,
    sessionId: credentials.sessionId,
  };
  switch (server.type) {
    case "stdio": {
      const transport = new StdioClientTransport({
        command: server.command,
        args: [...server.args],
        env: renderRecord(server.env, vars),
        ...(server.cwd === undefined ? {} : { cwd: server.cwd }),
        stderr: "pipe",
      });
      const log = deps.logger.child({ server: name, session_id: credentials.sessionId });
      const stderr = transport.stderr;
      // The logger masks JWT shapes; the session's own token is masked whatever its shape.
      const mask = (line: string) => line.split(credentials.jwtToken).join("[REDACTED]");
      if (stderr instanceof Readable) {
        forwardStderrLines(stderr, (line) => log.info({ stderr: mask(line) }, "mcp server stderr"));
      }
      // Closing the client closes this transport, which ends the child.
      return { transport, stop: async () => {} };
    }
    case "http": {
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
    case "builtin": {
      const mcpServer = createBuiltinServer({
        apiUrl: credentials.apiUrl,
        jwtToken: credentials.jwtToken,
        http: deps.http,
        requestTimeoutMs: deps.config.builtin.requestTimeoutMs,
        maxResponseBytes: deps.config.builtin.maxResponseBytes,
      });
      const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
      const started = mcpServer.connect(serverSide);
      return {
        transport: clientSide,
        stop: async () => {
          await started.catch(() => {});
          await mcpServer.close();
        },
      };
    }
  }
}
