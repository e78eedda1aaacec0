// biome-ignore-all lint/suspicious/noTemplateCurlyInString: the env values are the service's own ${name} placeholders.
// The built-in MCP server run as a real stdio child (dist/src/builtin/stdio-main.js), as
// bench/latency.mjs configures it: every session that starts it spawns one node process.
import { join } from "node:path";

/**
 * The `mcpServers` config of one stdio server named "builtin": `node <root>/dist/src/builtin/
 * stdio-main.js` with the session's API URL and JWT in its environment and the development
 * outbound profile (the benchmark's user API is plain http on loopback).
 */
export function stdioBuiltinServers(root) {
  return {
    builtin: {
      command: process.execPath,
      args: [join(root, "dist/src/builtin/stdio-main.js")],
      env: {
        API_BASE_URL: "${apiUrl}",
        API_TOKEN: "${jwtToken}",
        API_OUTBOUND_PROFILE: "development",
      },
    },
  };
}
