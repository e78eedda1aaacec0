import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import * as z from "zod";

/** Longest text `echo` takes. */
const maxEchoLength = 65_536;

// Shared by every session's server: schemas are immutable.
const inputSchema = { text: z.string().max(maxEchoLength) };
const outputSchema = { text: z.string() };

/**
 * Registers `echo`: returns its `text` unchanged, as text and as structured
 * content `{text}`. It never calls the API, so it checks the path from a
 * caller through the service to the MCP server and back, and measures what
 * that path costs.
 */
export function registerEcho(server: McpServer): void {
  server.registerTool(
    "echo",
    {
      title: "Echo",
      description: "Returns `text` unchanged, without calling the API.",
      inputSchema,
      outputSchema,
      annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false },
    },
    async ({ text }) => ({ content: [{ type: "text", text }], structuredContent: { text } }),
  );
}
