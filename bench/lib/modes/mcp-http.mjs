// Load mode "mcp-http": the MCP TypeScript SDK's own `Client` over
// `StreamableHTTPClientTransport` to a Streamable HTTP MCP endpoint (a peer gateway such as
// supergateway, or any MCP server). ONE client, so ONE stateful MCP session (`Mcp-Session-Id`),
// is shared by all lanes, as one application talking to one gateway would. Requests are HTTP/1.1
// POSTs through Node's built-in fetch: its default pool keeps one keep-alive connection per
// request in flight (HTTP/1.1 has no multiplexing), so up to `concurrency` connections.
//
// target: {
//   url,                 the MCP endpoint, e.g. "http://127.0.0.1:8000/mcp"
//   tool = "echo",       the tool to call
//   toolArgs,            the tool's arguments (default { text: "echo" }); "{i}" and "{lane}"
//                        inside its strings become the call's index / lane
//   timeoutMs = 30000,   per-call timeout
// }
// close() ends the session with an HTTP DELETE, so a stateful gateway stops the server process
// it started for it. A failed call is counted as "McpError <code>" (see ../mcp-tool-call.mjs)
// or by the error's name (an HTTP failure), a result with isError as "TOOL_IS_ERROR".
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { classifyMcpError, toolCaller } from "../mcp-tool-call.mjs";

/** Connects one client (initialize, then a session id) and returns `{ call, close }`. */
export async function open(target) {
  const { url, tool, toolArgs, timeoutMs } = target;
  if (typeof url !== "string") throw new Error("target.url is required");
  const client = new Client({ name: "bench-mcp-http", version: "1.0.0" });
  const transport = new StreamableHTTPClientTransport(new URL(url));
  await client.connect(transport);
  return {
    call: toolCaller(client, { tool, args: toolArgs, timeoutMs }),
    async close() {
      await transport.terminateSession().catch(() => undefined);
      await client.close();
    },
  };
}

export const classify = classifyMcpError;
