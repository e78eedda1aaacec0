import type { ListToolsResult } from "@modelcontextprotocol/sdk/types.js";
import type { ToolCallResult } from "./result-schemas.js";

/** Per-request limits for an MCP request. */
export interface McpCallOptions {
  readonly signal: AbortSignal;
  readonly timeoutMs: number;
}

/** An MCP `notifications/progress` for a running tool call. */
export interface ToolCallProgress {
  readonly progress: number;
  readonly total?: number | undefined;
  readonly message?: string | undefined;
}

/** Per-call options of a tool call. */
export interface ToolCallOptions extends McpCallOptions {
  /**
   * Receives the server's progress notifications for the call, in order,
   * until it ends. Setting it makes the request carry a `progressToken`,
   * which is how a server knows to report progress. Progress does not
   * extend `timeoutMs`: it bounds the whole call, so a server that reports
   * forever cannot hold a call (and its in-flight slot) past the operator's
   * maximum.
   */
  readonly onProgress?: ((progress: ToolCallProgress) => void) | undefined;
}

/**
 * The tool requests a session sends to one server: over an MCP client
 * (stdio, Streamable HTTP), or straight to the built-in tools in this
 * process. Failures are what an MCP client throws: `McpError` -32001 for a
 * timeout, -32000 for a closed connection, -32602 for arguments the tool
 * refused, the caller's abort reason when `signal` aborted.
 */
export interface ToolPeer {
  /** One page of `tools/list`; `cursor` is the previous page's `nextCursor`. */
  listTools(cursor: string | undefined, options: McpCallOptions): Promise<ListToolsResult>;
  /** `tools/call`; a result with `isError` is a result, not a failure. */
  callTool(
    name: string,
    args: Record<string, unknown>,
    options: ToolCallOptions,
  ): Promise<ToolCallResult>;
  /** Set by the session: called when the server says its tool list changed. */
  onToolsChanged: (() => void) | undefined;
  /** Set by the connection: called when the peer closed without `close()`. */
  onClosed: (() => void) | undefined;
  /** Closes the peer; requests still running fail as on a closed connection. */
  close(): Promise<void>;
}
