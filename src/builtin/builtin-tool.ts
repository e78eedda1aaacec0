import type { CallToolResult, ToolAnnotations } from "@modelcontextprotocol/sdk/types.js";
import type * as z from "zod";
import type { OutboundClient } from "../outbound/http-client.js";

/** What the built-in tools of one session need; they serve exactly one user. */
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
 * One built-in tool, defined once and served two ways: registered on an
 * SDK `McpServer` (the stdio entry point) and called in this process (a
 * session's `builtin` server). Schemas are zod shapes, shared by every
 * session. `run` gets arguments already checked against `inputSchema`;
 * failures are results with `isError: true`, never throws, and no result
 * holds the token.
 */
export interface BuiltinTool<Shape extends z.ZodRawShape = z.ZodRawShape> {
  readonly name: string;
  readonly title: string;
  readonly description: string;
  readonly inputSchema: Shape;
  /** When set, every result without `isError` has `structuredContent` of this shape. */
  readonly outputSchema?: z.ZodRawShape;
  readonly annotations: ToolAnnotations;
  run(
    args: z.output<z.ZodObject<Shape>>,
    options: BuiltinServerOptions,
    signal: AbortSignal,
  ): Promise<CallToolResult>;
}
