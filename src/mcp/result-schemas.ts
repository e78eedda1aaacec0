import { CallToolResultSchema } from "@modelcontextprotocol/sdk/types.js";
import { z } from "zod";

/**
 * The `tools/call` result, lenient about content: any object with a string
 * `type` passes, so content types newer than this SDK reach the caller
 * instead of failing the call. The RPC layer maps the types it knows.
 */
export const lenientCallToolResultSchema = CallToolResultSchema.extend({
  content: z.array(z.looseObject({ type: z.string() })).default([]),
});

/** A tool result as the session passes it on. */
export type ToolCallResult = z.infer<typeof lenientCallToolResultSchema>;
