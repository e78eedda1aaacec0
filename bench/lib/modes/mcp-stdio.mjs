// Load mode "mcp-stdio": the MCP TypeScript SDK's own `Client` over `StdioClientTransport`,
// calling a tool of a stdio MCP server it starts itself, with no service in between. ONE client
// and ONE server process are shared by all lanes: MCP multiplexes requests over the pipe by
// JSON-RPC id, so lanes overlap as they would through any single stdio connection.
//
// target: {
//   command,             the server's executable (e.g. process.execPath)
//   args = [],           its arguments
//   tool = "echo",       the tool to call
//   toolArgs,            the tool's arguments (default { text: "echo" }); "{i}" and "{lane}"
//                        inside its strings become the call's index / lane
//   timeoutMs = 30000,   per-call timeout
// }
// The server's stderr is ignored. A failed call is counted as "McpError <code>" (see
// ../mcp-tool-call.mjs), a result with isError as "TOOL_IS_ERROR".
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { classifyMcpError, toolCaller } from "../mcp-tool-call.mjs";

/** Starts the server, connects one client (initialize included) and returns `{ call, close }`. */
export async function open(target) {
  const { command, args = [], tool, toolArgs, timeoutMs } = target;
  if (typeof command !== "string") throw new Error("target.command is required");
  const client = new Client({ name: "bench-mcp-stdio", version: "1.0.0" });
  await client.connect(new StdioClientTransport({ command, args, stderr: "ignore" }));
  return {
    call: toolCaller(client, { tool, args: toolArgs, timeoutMs }),
    async close() {
      // Closing the transport ends the server's stdin, which is what makes it exit.
      await client.close();
    },
  };
}

export const classify = classifyMcpError;
