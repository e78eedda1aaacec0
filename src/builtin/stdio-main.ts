#!/usr/bin/env node
/**
 * The built-in MCP server as its own process, over stdio, for MCP hosts
 * that run servers as commands. Configured by the environment (see
 * `readBuiltinEnv`); bad settings print one line on stderr and exit 2.
 * Exits when stdin ends.
 */
import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js";
import { createGuardedHttpClient } from "../outbound/guarded-http-client.js";
import { createOutboundPolicy } from "../outbound/outbound-policy.js";
import { createBuiltinServer } from "./create-builtin-server.js";
import { type BuiltinEnv, readBuiltinEnv } from "./stdio-env.js";

let env: BuiltinEnv;
try {
  env = readBuiltinEnv(process.env);
} catch (error) {
  process.stderr.write(`mcp-client-server-builtin: ${(error as Error).message}\n`);
  process.exit(2);
}

// The same guard as the service's: a name re-resolved here cannot reach what Init could not.
const http = createGuardedHttpClient(createOutboundPolicy(env.outbound));
const server = createBuiltinServer({ ...env, http });
const close = (): void => {
  // Closing aborts in-flight tool calls, so no upstream request outlives us.
  server.close().catch(() => undefined);
};
// The SDK's stdio transport does not watch for end of input.
process.stdin.once("end", close);
process.once("SIGINT", close);
process.once("SIGTERM", close);
await server.connect(new StdioServerTransport());
