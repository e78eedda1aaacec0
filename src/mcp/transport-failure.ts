import { SseError } from "@modelcontextprotocol/sdk/client/sse.js";
import { StreamableHTTPError } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { ErrorCode, McpError } from "@modelcontextprotocol/sdk/types.js";
import { OutboundError } from "../outbound/http-client.js";

/**
 * Whether an MCP request failed because the connection broke (the server is
 * gone, refused the connection, or lost its HTTP session), as opposed to the
 * server answering with an error or an unreadable result.
 */
export function isTransportFailure(error: unknown): boolean {
  if (error instanceof StreamableHTTPError || error instanceof SseError) return true;
  if (error instanceof OutboundError) return error.kind !== "aborted";
  if (error instanceof McpError) return error.code === ErrorCode.ConnectionClosed;
  // fetch() rejects with TypeError("fetch failed"); pipes and sockets fail with system errors.
  if (error instanceof TypeError && error.message === "fetch failed") return true;
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" && /^E[A-Z]+$/.test(code);
}
