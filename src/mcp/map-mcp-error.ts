import { ErrorCode, McpError } from "@modelcontextprotocol/sdk/types.js";
import { ServiceError } from "../errors.js";
import { redactText } from "../log/redact.js";

const maxServerMessageLength = 500;

/**
 * Turns what an MCP request threw into the caller's error:
 * the caller's own abort is rethrown as its abort reason (the RPC layer owns
 * deadline and cancel codes); -32001 is `MCP_TIMEOUT`; a closed connection,
 * or any failure that is not a JSON-RPC error (the transport broke), is
 * `MCP_SERVER_EXITED`; -32602 is `TOOL_INVALID_ARGUMENTS`; any other
 * JSON-RPC error is `MCP_ERROR` with its code. A server's own message is
 * passed on only redacted and shortened, since servers may echo anything.
 */
export function mapMcpError(
  error: unknown,
  context: { server: string; signal: AbortSignal; connectionClosed: boolean },
): unknown {
  if (context.signal.aborted) {
    return context.signal.reason ?? new ServiceError("CANCELED", "The call was canceled.");
  }
  const metadata = { server: context.server };
  const transportFailed = !(error instanceof McpError);
  if (
    context.connectionClosed ||
    transportFailed ||
    isMcpError(error, ErrorCode.ConnectionClosed)
  ) {
    return new ServiceError(
      "MCP_SERVER_EXITED",
      `MCP server "${context.server}" closed the connection; call Init again to restart the session.`,
      { metadata, cause: error },
    );
  }
  if (isMcpError(error, ErrorCode.RequestTimeout)) {
    return new ServiceError(
      "MCP_TIMEOUT",
      `MCP server "${context.server}" did not answer in time.`,
      {
        metadata,
        cause: error,
      },
    );
  }
  const detail = redactText(error.message).slice(0, maxServerMessageLength);
  const reason = error.code === ErrorCode.InvalidParams ? "TOOL_INVALID_ARGUMENTS" : "MCP_ERROR";
  return new ServiceError(reason, `MCP server "${context.server}" answered: ${detail}`, {
    metadata: { ...metadata, mcp_code: String(error.code) },
    cause: error,
  });
}

function isMcpError(error: unknown, code: number): boolean {
  return error instanceof McpError && error.code === code;
}
