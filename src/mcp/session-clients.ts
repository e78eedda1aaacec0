import type { Tracer } from "@opentelemetry/api";
import { ServiceError } from "../errors.js";
import { endSpan } from "../tracing/in-span.js";
import { noopTracer } from "../tracing/noop-tracer.js";
import { startToolCallSpan } from "../tracing/tool-call-span.js";
import { mapMcpError } from "./map-mcp-error.js";
import type { ToolCallResult } from "./result-schemas.js";
import type { LostReason, ServerConnection } from "./server-connection.js";
import { listServerTools, type SessionTool } from "./tool-index.js";
import type { McpCallOptions, ToolCallOptions } from "./tool-peer.js";
import { isTransportFailure } from "./transport-failure.js";

/** What a finished tool call reports, for audit. */
export interface ToolCallRecord {
  readonly server: string;
  readonly tool: string;
  readonly durationMs: number;
  /** `ok`, `is_error`, or the reason of the error the call ended with. */
  readonly outcome: string;
  readonly args: Record<string, unknown>;
}

/** One server of a session as an operator sees it. */
export interface ServerStatus {
  readonly name: string;
  /** True once the server stopped: it went away by itself, or the session closed it. */
  readonly closed: boolean;
  /** Why it went away by itself; undefined while it runs or when the session closed it. */
  readonly lostReason: LostReason | undefined;
}

/**
 * The server connections of one session, one per configured server (an MCP
 * client, or the built-in tools in process). It is the only owner of its
 * connections: closing it closes them all.
 */
export interface SessionClients {
  readonly servers: readonly string[];
  /** True once any server went away; the session must then be restarted. */
  readonly lost: boolean;
  /** MCP requests running now. */
  readonly inFlight: number;
  /** When the last MCP request ended (`Date.now()`), or 0 before any. */
  readonly lastActiveAtMs: number;
  /** Tool calls sent to a server so far, whatever their outcome (running ones included). */
  readonly toolCalls: number;
  /** Tools known from the last listing: 0 before the first, and after a server said they changed. */
  readonly knownTools: number;
  /** Each server, in configuration order: stopped or not, and why it went away if it did by itself. */
  serverStatus(): ServerStatus[];
  /** Called once, when the first server goes away, with why it did. */
  onLost: ((server: string, reason: LostReason) => void) | undefined;
  /** Called after every tool call that reached a server, with its outcome. */
  onToolCall: ((call: ToolCallRecord) => void) | undefined;
  /** Every tool of every server; rejects with ServiceError or the caller's abort reason. */
  listTools(options: McpCallOptions): Promise<SessionTool[]>;
  /**
   * Calls a tool by its session name. `TOOL_NOT_FOUND` when no server has
   * it; a result with `isError` is returned, not thrown. The result is passed
   * on as the server sent it: validating it against the tool's output schema
   * is the caller's choice.
   */
  callTool(
    name: string,
    args: Record<string, unknown>,
    options: ToolCallOptions,
  ): Promise<ToolCallResult>;
  /**
   * Closes every connection; `graceMs` shortens stdio servers' grace.
   * Requests still running then fail with `cause` when given (why the
   * session ended), else as the lost connection. Idempotent.
   */
  close(graceMs?: number, cause?: ServiceError): Promise<void>;
}

/**
 * Groups connected servers into one session's clients. At most
 * `maxInFlightCalls` MCP requests (tool calls and listings) run at once; one
 * more is RESOURCE_EXHAUSTED `TOO_MANY_IN_FLIGHT_CALLS` at once, never queued.
 * Each tool call sent to a server gets an `mcp.tools/call` span from `tracer`.
 */
export function createSessionClients(
  connections: readonly ServerConnection[],
  maxInFlightCalls = Number.POSITIVE_INFINITY,
  tracer: Tracer = noopTracer,
): SessionClients {
  const prefixed = connections.length > 1;
  let inFlight = 0;
  let lastActiveAtMs = 0;
  let toolCalls = 0;
  let closeCause: ServiceError | undefined;
  // Tool name -> the tool and the connection that serves it.
  let index: Map<string, { tool: SessionTool; connection: ServerConnection }> | undefined;
  let lost = false;

  // Every MCP request of the session (tool calls, listings, the listing an
  // unknown tool name triggers) takes a slot; none waits for one.
  async function withSlot<T>(run: () => Promise<T>): Promise<T> {
    if (inFlight >= maxInFlightCalls) {
      throw new ServiceError(
        "TOO_MANY_IN_FLIGHT_CALLS",
        `This session already runs ${maxInFlightCalls} MCP requests; retry when one has finished.`,
        { metadata: { max_in_flight_calls: String(maxInFlightCalls) } },
      );
    }
    inFlight++;
    try {
      return await run();
    } catch (error) {
      throw closeCause ?? error;
    } finally {
      inFlight--;
      lastActiveAtMs = Date.now();
    }
  }

  async function listAll(options: McpCallOptions): Promise<SessionTool[]> {
    const perServer = await Promise.all(
      connections.map(async (connection) => {
        const tools = await guard(connection, options.signal, () =>
          listServerTools(connection, prefixed, options),
        );
        return tools.map((tool) => ({ tool, connection }));
      }),
    );
    const entries = perServer.flat();
    index = new Map(entries.map((entry) => [entry.tool.name, entry]));
    return entries.map((entry) => entry.tool);
  }

  const clients: SessionClients = {
    servers: connections.map((c) => c.name),
    get lost() {
      return lost;
    },
    get inFlight() {
      return inFlight;
    },
    get lastActiveAtMs() {
      return lastActiveAtMs;
    },
    get toolCalls() {
      return toolCalls;
    },
    get knownTools() {
      return index?.size ?? 0;
    },
    serverStatus() {
      return connections.map((c) => ({ name: c.name, closed: c.closed, lostReason: c.lostReason }));
    },
    onLost: undefined,
    onToolCall: undefined,
    listTools(options) {
      return withSlot(() => listAll(options));
    },
    callTool(name, args, options) {
      return withSlot(async () => {
        let entry = index?.get(name);
        if (entry === undefined) {
          await listAll(options);
          entry = index?.get(name);
        }
        if (entry === undefined) {
          throw new ServiceError("TOOL_NOT_FOUND", "The session has no tool with this name.", {
            metadata: { tool: name.slice(0, 128) },
          });
        }
        const { connection } = entry;
        const serverToolName = entry.tool.tool.name;
        toolCalls++;
        const started = performance.now();
        let outcome = "CANCELED";
        const span = startToolCallSpan(tracer, connection.name, serverToolName);
        try {
          const result = await guard(connection, options.signal, () =>
            connection.peer.callTool(serverToolName, args, options),
          );
          outcome = result.isError === true ? "is_error" : "ok";
          return result;
        } catch (error) {
          if (error instanceof ServiceError) outcome = error.reason;
          throw error;
        } finally {
          const durationMs = Math.round(performance.now() - started);
          endSpan(span, outcome);
          clients.onToolCall?.({ server: connection.name, tool: name, durationMs, outcome, args });
        }
      });
    },
    async close(graceMs, cause) {
      closeCause ??= cause;
      await Promise.allSettled(connections.map((c) => c.close(graceMs)));
    },
  };
  for (const connection of connections) {
    connection.onLost = (server, reason) => {
      if (lost) return;
      lost = true;
      clients.onLost?.(server, reason);
    };
    connection.peer.onToolsChanged = () => {
      index = undefined;
    };
  }
  return clients;
}

/**
 * Runs one MCP request on one connection. A transport failure (a refused
 * connection, an HTTP error, a closed pipe) means the connection is broken:
 * it is marked lost, so the session turns inactive.
 */
async function guard<T>(
  connection: ServerConnection,
  signal: AbortSignal,
  run: () => Promise<T>,
): Promise<T> {
  if (connection.closed) throw mapMcpError(undefined, connection, signal);
  try {
    return await run();
  } catch (error) {
    if (!signal.aborted && isTransportFailure(error)) connection.markLost();
    throw mapMcpError(error, connection, signal);
  }
}
