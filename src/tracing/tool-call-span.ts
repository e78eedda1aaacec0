import { type Span, SpanKind, type Tracer } from "@opentelemetry/api";

/**
 * Starts the CLIENT span `mcp.tools/call` of one MCP tool call, under the
 * active span, with `mcp.method.name`, `mcp.server.name` (the configured
 * server name) and `gen_ai.tool.name` (the server's name for the tool).
 * Arguments and results are never recorded. End it with endSpan.
 */
export function startToolCallSpan(tracer: Tracer, server: string, tool: string): Span {
  return tracer.startSpan("mcp.tools/call", {
    kind: SpanKind.CLIENT,
    attributes: {
      "mcp.method.name": "tools/call",
      "mcp.server.name": server,
      "gen_ai.tool.name": tool,
    },
  });
}
