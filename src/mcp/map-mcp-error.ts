import { ErrorCode, McpError } from "@modelcontextprotocol/sdk/types.js";
import { ServiceError } from "../errors.js";
import { redactText } from "../log/redact.js";
import type { LostReason, ServerConnection } from "./server-connection.js";

const maxServerMessageLength = 500;

/**
 * Turns what an MCP request on `connection` threw into the caller's error
 * (`error` undefined: the connection was closed before the request):
 * the caller's own abort (`signal`) is rethrown as its abort reason (the RPC
 * layer owns deadline and cancel codes); a closed or broken connection is
 * `MCP_SERVER_EXITED` with its `lostReason`;
 * -32001 is `MCP_TIMEOUT`; -32602 is `TOOL_INVALID_ARGUMENTS`; any other
 * JSON-RPC error is `MCP_ERROR` with its code in `mcp_code`, and a result
 * that cannot be read is `MCP_ERROR` without one. A server's own message is
 * passed on only redacted and shortened, since servers may echo anything.
 */
export function mapMcpError(
  error: unknown,
  connection: Pick<ServerConnection, "name" | "closed" | "lostReason">,
  signal: AbortSignal,
): unknown {
  if (signal.aborted) {
    return signal.reason ?? new ServiceError("CANCELED", "The call was canceled.");
  }
  const server = connection.name;
  const metadata = { server };
  if (connection.closed || isMcpError(error, ErrorCode.ConnectionClosed)) {
    return serverLost(server, connection.lostReason ?? { why: "connection_lost" }, error);
  }
  if (isMcpError(error, ErrorCode.RequestTimeout)) {
    const message = `MCP server "${server}" did not answer in time.`;
    return new ServiceError("MCP_TIMEOUT", message, { metadata, cause: error });
  }
  if (!(error instanceof McpError)) {
    const message = `MCP server "${server}" sent a response that is not valid MCP.`;
    return new ServiceError("MCP_ERROR", message, { metadata, cause: error });
  }
  const detail = redactText(error.message).slice(0, maxServerMessageLength);
  const reason = error.code === ErrorCode.InvalidParams ? "TOOL_INVALID_ARGUMENTS" : "MCP_ERROR";
  return new ServiceError(reason, `MCP server "${server}" answered: ${detail}`, {
    metadata: { ...metadata, mcp_code: String(error.code) },
    cause: error,
  });
}

const lostMessages: Record<LostReason["why"], string> = {
  exited: "exited",
  stdout_flood: "was stopped: it wrote a stdout line longer than stdio.maxMessageBytes",
  stderr_flood: "was stopped: it wrote stderr faster than stdio.maxStderrBytesPerSecond",
  connection_lost: "closed the connection",
};

/**
 * UNAVAILABLE `MCP_SERVER_EXITED` for a server that went away, saying why in
 * `why` (and `exit_code` or `signal` when it exited).
 */
function serverLost(server: string, reason: LostReason, cause?: unknown): ServiceError {
  const how =
    reason.signal !== undefined
      ? ` (signal ${reason.signal})`
      : reason.exitCode !== undefined
        ? ` (exit code ${reason.exitCode})`
        : "";
  const message = `MCP server "${server}" ${lostMessages[reason.why]}${how}; the next call or Init restarts the session.`;
  return new ServiceError("MCP_SERVER_EXITED", message, {
    metadata: {
      server,
      why: reason.why,
      ...(reason.exitCode === undefined ? {} : { exit_code: String(reason.exitCode) }),
      ...(reason.signal === undefined ? {} : { signal: reason.signal }),
    },
    cause,
  });
}

function isMcpError(error: unknown, code: number): boolean {
  return error instanceof McpError && error.code === code;
}
