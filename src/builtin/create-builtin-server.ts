import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import type { BuiltinServerOptions } from "./builtin-tool.js";
import { builtinTools } from "./tools.js";

/** The name and version the built-in server reports in `initialize`. */
const builtinServerInfo = {
  name: "mcp-client-server-builtin",
  version: "0.1.0",
} as const;

/**
 * Creates the built-in tools (`validate_settings`, `api_request`, `echo`) as
 * an SDK MCP server, bound to one user's API and token: what the stdio entry
 * point serves. A session's `builtin` server calls the same tools in
 * process instead (see createInProcessPeer). The caller owns the returned
 * server: it connects it to a transport and closes it. Tool failures are
 * results with `isError: true`, whose text never holds the token, an
 * Authorization header or a query string.
 */
export function createBuiltinServer(options: BuiltinServerOptions): McpServer {
  const server = new McpServer(builtinServerInfo, {
    capabilities: { tools: {} },
  });
  for (const tool of builtinTools) {
    const { name, title, description, inputSchema, outputSchema, annotations } = tool;
    server.registerTool(
      name,
      { title, description, inputSchema, outputSchema, annotations },
      (args, extra) => tool.run(args, options, extra.signal),
    );
  }
  return server;
}
