import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { ToolListChangedNotificationSchema } from "@modelcontextprotocol/sdk/types.js";
import { ServiceError } from "../errors.js";
import { mapMcpError } from "./map-mcp-error.js";
import type { ServerConnection } from "./server-connection.js";
import { listSessionTools, type SessionTool } from "./tool-index.js";

/** Per-request limits for an MCP request. */
export interface McpCallOptions {
  readonly signal: AbortSignal;
  readonly timeoutMs: number;
}

/**
 * The MCP clients of one session, one per configured server. It is the only
 * owner of its connections: closing it closes them all.
 */
export interface SessionClients {
  readonly servers: readonly string[];
  /** True once any server went away; the session must then be re-created by Init. */
  readonly lost: boolean;
  /** Called once, when the first server goes away. */
  onLost: ((server: string) => void) | undefined;
  /** Every tool of every server; rejects with ServiceError or the caller's abort reason. */
  listTools(options: McpCallOptions): Promise<SessionTool[]>;
  /**
   * Calls a tool by its session name. `TOOL_NOT_FOUND` when no server has
   * it; a result with `isError` is returned, not thrown.
   */
  callTool(
    name: string,
    args: Record<string, unknown>,
    options: McpCallOptions,
  ): Promise<CallToolResult>;
  /** Closes every connection. Idempotent. */
  close(): Promise<void>;
}

/** Groups connected servers into one session's clients. */
export function createSessionClients(connections: readonly ServerConnection[]): SessionClients {
  let index: Map<string, SessionTool> | undefined;
  let lost = false;
  const clients: SessionClients = {
    servers: connections.map((c) => c.name),
    get lost() {
      return lost;
    },
    onLost: undefined,
    async listTools(options) {
      const tools = await guard(undefined, options.signal, () =>
        listSessionTools(connections, options),
      );
      index = new Map(tools.map((t) => [t.name, t]));
      return tools;
    },
    async callTool(name, args, options) {
      let tool = index?.get(name);
      if (tool === undefined) {
        await clients.listTools(options);
        tool = index?.get(name);
      }
      if (tool === undefined) {
        throw new ServiceError("TOOL_NOT_FOUND", "The session has no tool with this name.", {
          metadata: { tool: name.slice(0, 128) },
        });
      }
      const { server, tool: mcpTool } = tool;
      const connection = connections.find((c) => c.name === server);
      return guard(connection, options.signal, async () => {
        const result = await connection?.client.callTool(
          { name: mcpTool.name, arguments: args },
          undefined,
          { signal: options.signal, timeout: options.timeoutMs },
        );
        return result as CallToolResult;
      });
    },
    async close() {
      await Promise.allSettled(connections.map((c) => c.close()));
    },
  };
  for (const connection of connections) {
    connection.onLost = (server) => {
      if (lost) return;
      lost = true;
      clients.onLost?.(server);
    };
    connection.client.setNotificationHandler(ToolListChangedNotificationSchema, async () => {
      index = undefined;
    });
  }

  async function guard<T>(
    connection: ServerConnection | undefined,
    signal: AbortSignal,
    run: () => Promise<T>,
  ): Promise<T> {
    const closed = connection ? [connection] : connections;
    const gone = closed.find((c) => c.closed);
    if (gone) throw mapMcpError(undefined, { server: gone.name, signal, connectionClosed: true });
    try {
      return await run();
    } catch (error) {
      const server = connection?.name ?? connections.find((c) => c.closed)?.name ?? "*";
      const connectionClosed = closed.some((c) => c.closed);
      throw mapMcpError(error, { server, signal, connectionClosed });
    }
  }
  return clients;
}
