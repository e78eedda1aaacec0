import {
  type CallToolResult,
  ErrorCode,
  ListToolsResultSchema,
  McpError,
  type Tool,
} from "@modelcontextprotocol/sdk/types.js";
import * as z from "zod";
import type { ToolCallResult } from "../mcp/result-schemas.js";
import type { ToolPeer } from "../mcp/tool-peer.js";
import type { BuiltinServerOptions, BuiltinTool } from "./builtin-tool.js";
import { errorResult } from "./tool-results.js";
import { builtinTools } from "./tools.js";

/** A built-in tool with its schemas compiled. */
interface CompiledTool {
  readonly tool: BuiltinTool;
  readonly input: z.ZodObject;
  readonly output: z.ZodObject | undefined;
}

/** The tools of a tool set by name, and their listing. */
interface CompiledTools {
  readonly byName: ReadonlyMap<string, CompiledTool>;
  readonly listing: readonly Tool[];
}

// Built once per tool set on first use and shared by every session: the
// tools, their schemas and their listing do not depend on the user.
const compiledSets = new WeakMap<readonly BuiltinTool[], CompiledTools>();

/**
 * The built-in tools (`tools`, default every one) of one session, called in
 * this process: no MCP client, server or JSON-RPC between them, and nothing
 * per session but the options. Callers get what the same tools served by
 * an SDK `McpServer` give: the same listing (one page), results, and
 * `isError` results for arguments the input schema refuses (a tool
 * execution error, as the MCP spec asks, so a model can correct them), for
 * a result that does not match the output schema and for a tool that
 * throws (with a fixed text). An unknown tool name is McpError -32602.
 *
 * Each call runs under `timeoutMs` (McpError -32001) and the caller's
 * signal, both passed on to the tool; `close()` ends running calls with
 * McpError -32000. The built-in tools send no progress: `onProgress` is
 * never called.
 */
export function createInProcessPeer(
  options: BuiltinServerOptions,
  tools: readonly BuiltinTool[] = builtinTools,
): ToolPeer {
  const { byName, listing } = compile(tools);
  const running = new Set<AbortController>();
  let closed = false;
  return {
    onToolsChanged: undefined,
    onClosed: undefined,
    async listTools() {
      if (closed) throw connectionClosed();
      return { tools: listing as Tool[] };
    },
    callTool(name, args, callOptions) {
      if (closed) return Promise.reject(connectionClosed());
      const entry = byName.get(name);
      if (entry === undefined) {
        return Promise.reject(new McpError(ErrorCode.InvalidParams, `Tool ${name} not found`));
      }
      const parsed = entry.input.safeParse(args);
      if (!parsed.success) {
        const issues = describeIssues(parsed.error);
        return Promise.resolve(
          errorResult(`Input validation error: Invalid arguments for tool ${name}: ${issues}`),
        );
      }
      const { signal, timeoutMs } = callOptions;
      if (signal.aborted) return Promise.reject(signal.reason);
      return new Promise<ToolCallResult>((resolve, reject) => {
        const controller = new AbortController();
        const cancel = () => controller.abort(signal.reason);
        const timer = setTimeout(
          () => controller.abort(new McpError(ErrorCode.RequestTimeout, "Request timed out")),
          timeoutMs,
        );
        // Whatever ends first settles the call; a tool still running after
        // an abort has its signal aborted and its late result is dropped.
        const settle = () => {
          clearTimeout(timer);
          signal.removeEventListener("abort", cancel);
          running.delete(controller);
        };
        controller.signal.addEventListener("abort", () => {
          settle();
          reject(controller.signal.reason);
        });
        signal.addEventListener("abort", cancel, { once: true });
        running.add(controller);
        // `async` turns a tool that throws before its first await into a rejection.
        const run = async () => entry.tool.run(parsed.data, options, controller.signal);
        run().then(
          (result) => {
            settle();
            resolve(checkOutput(entry, result));
          },
          () => {
            settle();
            // As the SDK server does: a throwing tool is an error result. Ours
            // return failures as results, so this is a bug: its text stays
            // ours alone, since an error message may hold anything.
            resolve(errorResult("The tool failed unexpectedly."));
          },
        );
      });
    },
    async close() {
      closed = true;
      for (const controller of running) controller.abort(connectionClosed());
    },
  };
}

// As the SDK server does: a result without `isError` must carry
// `structuredContent` of the tool's output shape.
function checkOutput(entry: CompiledTool, result: CallToolResult): ToolCallResult {
  if (entry.output === undefined || result.isError === true) return result;
  const name = entry.tool.name;
  if (result.structuredContent === undefined) {
    return errorResult(`Output validation error: tool ${name} returned no structured content`);
  }
  const parsed = entry.output.safeParse(result.structuredContent);
  return parsed.success
    ? result
    : errorResult(`Output validation error: tool ${name}: ${describeIssues(parsed.error)}`);
}

function compile(tools: readonly BuiltinTool[]): CompiledTools {
  const known = compiledSets.get(tools);
  if (known !== undefined) return known;
  const byName = new Map<string, CompiledTool>();
  const listed: unknown[] = [];
  for (const tool of tools) {
    const input = z.object(tool.inputSchema);
    const output = tool.outputSchema === undefined ? undefined : z.object(tool.outputSchema);
    byName.set(tool.name, { tool, input, output });
    listed.push({
      name: tool.name,
      title: tool.title,
      description: tool.description,
      inputSchema: z.toJSONSchema(input, { target: "draft-7", io: "input" }),
      ...(output === undefined
        ? {}
        : { outputSchema: z.toJSONSchema(output, { target: "draft-7", io: "output" }) }),
      annotations: tool.annotations,
      execution: { taskSupport: "forbidden" },
    });
  }
  // Parsed as a client parses a listing, so it has the exact shape callers
  // of an MCP server get; frozen, since every session shares it.
  const listing = deepFreeze(ListToolsResultSchema.parse({ tools: listed }).tools);
  const compiled = { byName, listing };
  compiledSets.set(tools, compiled);
  return compiled;
}

function deepFreeze<T>(value: T): T {
  if (typeof value === "object" && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}

function describeIssues(error: z.ZodError): string {
  return error.issues
    .map((issue) =>
      issue.path.length === 0 ? issue.message : `${issue.message} at ${issue.path.join(".")}`,
    )
    .join("; ");
}

function connectionClosed(): McpError {
  return new McpError(ErrorCode.ConnectionClosed, "Connection closed");
}
