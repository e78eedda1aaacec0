import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import type { OutboundClient } from "../outbound/http-client.js";
import { registerApiRequest } from "./api-request-tool.js";
import { registerEcho } from "./echo-tool.js";
import { registerValidateSettings } from "./validate-settings-tool.js";

/** The name and version the built-in server reports in `initialize`. */
const builtinServerInfo = {
  name: "mcp-client-server-builtin",
  version: "0.1.0",
} as const;

/** What one built-in server instance needs; it serves exactly one user. */
export interface BuiltinServerOptions {
  /** The user's API base; every request goes under it, never elsewhere. */
  readonly apiUrl: URL;
  /** Sent as `Authorization: Bearer`; never appears in a result. */
  readonly jwtToken: string;
  readonly http: OutboundClient;
  /** Total time for one upstream request. */
  readonly requestTimeoutMs: number;
  /** Largest upstream body `api_request` returns; the rest is cut off. */
  readonly maxResponseBytes: number;
}

/**
 * Creates the built-in MCP server with the tools `validate_settings`,
 * `api_request` and `echo`, bound to one user's API and token. The caller owns the
 * returned server: it connects it to a transport and closes it. Tool
 * failures are results with `isError: true`, whose text never holds the
 * token, an Authorization header or a query string.
 */
export function createBuiltinServer(options: BuiltinServerOptions): McpServer {
  const server = new McpServer(builtinServerInfo, {
    capabilities: { tools: {} },
  });
  registerValidateSettings(server, options);
  registerApiRequest(server, options);
  registerEcho(server);
  return server;
}
