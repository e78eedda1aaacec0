import type { McpServerConfig } from "../../src/config/types.js";

/**
 * A stdio MCP server config that runs `script` with this node binary and
 * `args`; `env` values may hold the service's `${name}` templates.
 */
export function nodeServer(
  script: string,
  env: Record<string, string> = {},
  args: string[] = [],
): McpServerConfig {
  return { type: "stdio", command: process.execPath, args: [script, ...args], env };
}
