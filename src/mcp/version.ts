/** The implementation name and version this service announces to MCP servers. */
export const clientInfo = { name: "mcp-client-server", version: "0.1.0" } as const;
