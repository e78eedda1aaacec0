#!/usr/bin/env node
import { createApp } from "./app.js";
import { CliUsageError, parseCliArgs, usage } from "./cli-args.js";
import { ConfigError, loadConfig } from "./config/load-config.js";
import { createLogger } from "./log/logger.js";
import { redactText } from "./log/redact.js";
import { clientInfo } from "./mcp/version.js";
import { exitOnSignals, startServer } from "./server/server.js";

/**
 * `mcp-client-server [--config FILE] [--host H] [--port N]`. Exit codes: 0
 * after a clean shutdown, 1 when the server fails, 2 for usage or config
 * errors.
 */
async function main(argv: readonly string[]): Promise<void> {
  const args = parseCliArgs(argv);
  if (args.help) {
    process.stdout.write(`${usage}\n`);
    return;
  }
  if (args.version) {
    process.stdout.write(`${clientInfo.version}\n`);
    return;
  }
  const config = await loadConfig({
    ...(args.config === undefined ? {} : { file: args.config }),
    env: process.env,
    overrides: {
      ...(args.host === undefined ? {} : { host: args.host }),
      ...(args.port === undefined ? {} : { port: args.port }),
    },
  });
  const logger = createLogger({ level: config.log.level });
  const app = createApp(config, logger);
  const server = await startServer(app, config.server, logger);
  exitOnSignals(server, logger);
  logger.info(
    {
      url: server.url,
      servers: Object.keys(config.mcpServers),
      tls: config.server.tls !== undefined,
    },
    "listening",
  );
}

main(process.argv.slice(2)).catch((error: unknown) => {
  // These lines bypass the logger, so they are masked here (a URL's query, a token).
  if (error instanceof CliUsageError || error instanceof ConfigError) {
    process.stderr.write(`mcp-client-server: ${redactText(error.message)}\n`);
    process.exit(2);
  }
  process.stderr.write(`mcp-client-server: failed to start: ${redactText(String(error))}\n`);
  process.exit(1);
});
