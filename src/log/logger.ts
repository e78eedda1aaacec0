import { pino } from "pino";
import type { Config } from "../config/types.js";
import { redactedText, redactText, redactValue } from "./redact.js";

/** The service's logger. */
export type Logger = pino.Logger;

/** How createLogger writes. */
export interface CreateLoggerOptions {
  readonly level: Config["log"]["level"];
  /** Where JSON lines go; defaults to stdout. Tests pass a capturing stream. */
  readonly destination?: pino.DestinationStream;
}

const sensitiveKeys = [
  "token",
  "jwt",
  "jwtToken",
  "jwt_token",
  "accessToken",
  "access_token",
  "refreshToken",
  "refresh_token",
  "authorization",
  "Authorization",
  "password",
  "secret",
  "cookie",
  "Cookie",
  "set-cookie",
  "apiKey",
  "api_key",
  "x-api-key",
];

// pino's own redaction only knows fixed paths; it is the first layer, not the only one.
const redactPaths = sensitiveKeys
  .map((key) => (/^\w+$/.test(key) ? key : `["${key}"]`))
  .flatMap((key) => {
    const child = key.startsWith("[") ? key : `.${key}`;
    return [key, `*${child}`, `headers${child}`, `*.headers${child}`];
  });

/**
 * Creates the JSON logger: one line per entry with `service:
 * "mcp-client-server"` and an ISO `time`. Every entry is redacted twice:
 * pino `redact` masks known key paths, then redactValue/redactText run over
 * merge objects, child and setBindings bindings, errors, format arguments
 * and the final message, so a token inside an error message or a child's
 * stderr line is masked too.
 */
export function createLogger(options: CreateLoggerOptions): Logger {
  const loggerOptions: pino.LoggerOptions = {
    level: options.level,
    base: { service: "mcp-client-server" },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: redactPaths, censor: redactedText },
    hooks: {
      logMethod(args, method) {
        // Format arguments are spliced into msg after this hook; mask them first.
        const masked = args.map((arg, index) =>
          typeof arg === "string" ? redactText(arg) : index === 0 ? arg : redactValue(arg),
        );
        method.apply(this, masked as Parameters<pino.LogFn>);
      },
    },
    formatters: { log: (object) => redactValue(object) as Record<string, unknown> },
    serializers: {
      // pino's default would re-wrap the already plain error and call its type "Object".
      err: redactValue,
      // pino takes msg from an Error's message after the hooks have run.
      msg: (msg: unknown) => (typeof msg === "string" ? redactText(msg) : msg),
    },
  };
  const logger =
    options.destination === undefined
      ? pino(loggerOptions)
      : pino(loggerOptions, options.destination);
  return redactBindings(logger);
}

// pino runs formatters.bindings on the root's base only, never on child bindings.
// Children inherit from their parent's prototype, so this covers every descendant.
function redactBindings(logger: Logger): Logger {
  const { child, setBindings } = logger;
  logger.child = function (this: Logger, bindings, options) {
    return child.call(this, redactValue(bindings) as pino.Bindings, options);
  } as Logger["child"];
  logger.setBindings = function (this: Logger, bindings) {
    setBindings.call(this, redactValue(bindings) as pino.Bindings);
  };
  return logger;
}
