import { parseArgs } from "node:util";

/** The command-line help text, one line per option. */
export const usage = `Usage: mcp-client-server [--config FILE] [--host H] [--port N]

Options:
  --config FILE  YAML or JSON config file (default: built-in defaults)
  --host H       listen address; beats MCP_CLIENT_SERVER_HOST and the file
  --port N       listen port 0-65535 (0 picks a free one); beats MCP_CLIENT_SERVER_PORT
  -h, --help     print this help and exit
  -v, --version  print the version and exit`;

/** The command line asks for something this program does not accept; the message says what. */
export class CliUsageError extends Error {
  override readonly name = "CliUsageError";
}

/** What the command line asked for; unset options are absent. */
export interface CliArgs {
  readonly config?: string;
  readonly host?: string;
  readonly port?: number;
  readonly help: boolean;
  readonly version: boolean;
}

const options = {
  config: { type: "string" },
  host: { type: "string" },
  port: { type: "string" },
  help: { type: "boolean", short: "h" },
  version: { type: "boolean", short: "v" },
} as const;

/**
 * Parses the arguments after the script name (`process.argv.slice(2)`).
 * Throws CliUsageError on an unknown option, a positional argument, a
 * missing or empty value, or a port outside 0-65535. A repeated option
 * takes its last value.
 */
export function parseCliArgs(argv: readonly string[]): CliArgs {
  const values = parseValues(argv);
  for (const name of ["config", "host", "port"] as const) {
    if (values[name] === "") throw new CliUsageError(`option --${name} needs a non-empty value`);
  }
  return {
    ...(values.config !== undefined && { config: values.config }),
    ...(values.host !== undefined && { host: values.host }),
    ...(values.port !== undefined && { port: parsePort(values.port) }),
    help: values.help === true,
    version: values.version === true,
  };
}

function parseValues(argv: readonly string[]) {
  try {
    return parseArgs({ args: [...argv], options, strict: true, allowPositionals: false }).values;
  } catch (error) {
    throw new CliUsageError(describeParseError(error), { cause: error });
  }
}

function parsePort(text: string): number {
  const port = /^\d{1,5}$/.test(text) ? Number(text) : Number.NaN;
  if (!(port >= 0 && port <= 65535)) {
    throw new CliUsageError(`option --port must be an integer from 0 to 65535, got "${text}"`);
  }
  return port;
}

// node:util's messages are long and suggest `--`, which this program does not use.
function describeParseError(error: unknown): string {
  const code = (error as { code?: unknown }).code;
  const message = error instanceof Error ? error.message : String(error);
  const quoted = /'([^']*)'/.exec(message)?.[1] ?? "";
  switch (code) {
    case "ERR_PARSE_ARGS_UNKNOWN_OPTION":
      return `unknown option ${quoted}`;
    case "ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL":
      return `unexpected argument "${quoted}"`;
    case "ERR_PARSE_ARGS_INVALID_OPTION_VALUE": {
      // `quoted` is "--port <value>" or "-h, --help": name the long form.
      const flag = quoted.split(/[ ,]+/).find((word) => word.startsWith("--")) ?? quoted;
      const problem = message.includes("does not take") ? "does not take a value" : "needs a value";
      return `option ${flag} ${problem}`;
    }
    default:
      return message;
  }
}
