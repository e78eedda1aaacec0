// What the MCP load modes (modes/mcp-stdio.mjs, modes/mcp-http.mjs) share: one tool call per
// load call through an already connected SDK `Client`, and how a failed call is counted.
import { McpError } from "@modelcontextprotocol/sdk/types.js";

/**
 * A `call(i, lane)` that calls `tool` (default "echo") with `args` (default `{ text: "echo" }`;
 * every "{i}" and "{lane}" inside its strings becomes the call's index / lane) through `client`,
 * with a per-call `timeoutMs` (default 30 000). A result with `isError: true` throws, counted as
 * "TOOL_IS_ERROR", as the grpc mode counts one.
 */
export function toolCaller(client, { tool = "echo", args = { text: "echo" }, timeoutMs = 30_000 }) {
  const text = JSON.stringify(args);
  const fixed = /\{(i|lane)\}/.test(text) ? undefined : args;
  const argsFor = (i, lane) =>
    fixed ?? JSON.parse(text.replaceAll("{i}", String(i)).replaceAll("{lane}", String(lane)));
  return async (i, lane) => {
    const result = await client.callTool({ name: tool, arguments: argsFor(i, lane) }, undefined, {
      timeout: timeoutMs,
    });
    if (result.isError === true)
      throw Object.assign(new Error("is_error"), { reason: "TOOL_IS_ERROR" });
  };
}

/** `"McpError <code>"` for an MCP error (-32001 timeout, -32000 closed), else reason or name. */
export function classifyMcpError(error) {
  if (typeof error?.reason === "string") return error.reason;
  if (error instanceof McpError) return `McpError ${error.code}`;
  return String(error?.name ?? "Error");
}
