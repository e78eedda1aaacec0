import * as z from "zod";
import type { BuiltinTool } from "./builtin-tool.js";

/** Longest text `echo` takes. */
const maxEchoLength = 65_536;

const inputSchema = { text: z.string().max(maxEchoLength) };

/**
 * `echo`: returns its `text` unchanged, as text and as structured
 * content `{text}`. It never calls the API, so it checks the path from a
 * caller through the service to a tool and back, and measures what that
 * path costs.
 */
export const echoTool: BuiltinTool<typeof inputSchema> = {
  name: "echo",
  title: "Echo",
  description: "Returns `text` unchanged, without calling the API.",
  inputSchema,
  outputSchema: { text: z.string() },
  annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false },
  run: async ({ text }) => ({ content: [{ type: "text", text }], structuredContent: { text } }),
};
