import type { Tool } from "@modelcontextprotocol/sdk/types.js";
import type { ServerConnection } from "./server-connection.js";
import type { McpCallOptions } from "./tool-peer.js";

/** Separates the server name from the tool name when a session has several servers. */
const toolNameSeparator = "__";

/** A tool as a session exposes it: the server's tool plus where it lives. */
export interface SessionTool {
  /** The name callers use: bare with one server, `<server>__<tool>` with several. */
  readonly name: string;
  readonly server: string;
  readonly tool: Tool;
}

/**
 * Lists every tool of one connection, following `nextCursor` until the last
 * page. A server that repeats a cursor would loop forever, so a repeat ends
 * the listing. With `prefixed`, names become `<server>__<tool>`.
 */
export async function listServerTools(
  connection: ServerConnection,
  prefixed: boolean,
  options: McpCallOptions,
): Promise<SessionTool[]> {
  const tools: SessionTool[] = [];
  const seen = new Set<string>();
  let cursor: string | undefined;
  do {
    const page = await connection.peer.listTools(cursor, options);
    for (const tool of page.tools) {
      const name = prefixed ? `${connection.name}${toolNameSeparator}${tool.name}` : tool.name;
      tools.push({ name, server: connection.name, tool });
    }
    cursor = page.nextCursor;
    if (cursor !== undefined && seen.has(cursor)) break;
    if (cursor !== undefined) seen.add(cursor);
  } while (cursor !== undefined);
  return tools;
}
