import { z } from "zod";
import { parseOriginPattern } from "../outbound/outbound-policy.js";
import { templateProblems } from "./template.js";
import type { Config } from "./types.js";

const hourMs = 3_600_000;
const mib = 1024 * 1024;
const argvMessage = 'must not contain "${"; pass credentials through env templating';

function required(what = "a string") {
  return z.string({ error: (iss) => (iss.input === undefined ? "required" : `must be ${what}`) });
}

function positiveInt(defaultValue: number, max: number, unit: string) {
  const range = `must be an integer from 1 to ${max} (${unit})`;
  return z.number({ error: range }).int(range).min(1, range).max(max, range).default(defaultValue);
}

// Durations above an hour are typos (seconds vs milliseconds), not policy.
const durationMs = (defaultValue: number) => positiveInt(defaultValue, hourMs, "ms");
// Session lifetimes may reach a week.
const lifetimeMs = (defaultValue: number) => positiveInt(defaultValue, 7 * 24 * hourMs, "ms");
const byteSize = (defaultValue: number) => positiveInt(defaultValue, 256 * mib, "bytes");

// YAML turns a section whose keys are all commented out into null: treat it as absent.
function section<T extends z.ZodType>(schema: T) {
  return z.preprocess((value) => (value === null ? undefined : value), schema);
}

const portMessage = "must be an integer from 0 to 65535";

/** A listen port: an integer 0-65535, where 0 picks a free port. */
export const portSchema = z
  .number({ error: portMessage })
  .int(portMessage)
  .min(0, portMessage)
  .max(65535, portMessage);

/** A listen address: a non-empty host name or IP address. */
export const hostSchema = required().regex(/^\S+$/, "must be a host name or IP address");

const logLevels = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;

/** A pino log level name (lowercase). */
export const logLevelSchema = z.enum(logLevels, {
  error: `must be one of ${logLevels.join(", ")}`,
});

const templated = required().superRefine((value, ctx) => {
  for (const message of templateProblems(value)) ctx.addIssue({ code: "custom", message });
});
const untemplated = (message: string) =>
  required().refine((value) => !value.includes("${"), message);

const envName = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "environment variable names are letters, digits and _");
const headerName = z
  .string()
  .regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, "header names are HTTP tokens (RFC 9110)");
const headerValue = templated.refine((value) => !/[\r\n\0]/.test(value), "must be one line");

const httpUrl = required().superRefine((value, ctx) => {
  if (value.includes("${")) {
    ctx.addIssue({ code: "custom", message: "is not templated; put credentials in headers" });
  } else if (!URL.canParse(value) || !/^https?:$/.test(new URL(value).protocol)) {
    ctx.addIssue({ code: "custom", message: "must be an absolute http:// or https:// URL" });
  }
});

const apiKeyEntry = z.strictObject({
  name: required().regex(/^[A-Za-z0-9_.-]{1,64}$/, "must be 1-64 characters of A-Z a-z 0-9 _ . -"),
  sha256: required().regex(
    /^[0-9a-f]{64}$/,
    "must be the key's SHA-256 as 64 lower-case hex digits (printf %s KEY | sha256sum)",
  ),
  role: z
    .enum(["client", "operator"], { error: 'must be "client" or "operator"' })
    .default("client"),
});

const flag = (defaultValue: boolean) =>
  z.boolean({ error: "must be true or false" }).default(defaultValue);

function rate(burst: number, perSecond: number) {
  return z
    .strictObject({
      burst: positiveInt(burst, 1_000_000, "requests"),
      perSecond: z
        .number({ error: "must be a number of requests per second above 0" })
        .positive("must be a number of requests per second above 0")
        .max(1_000_000, "must be at most 1000000")
        .default(perSecond),
    })
    .prefault({});
}

const originPattern = required().superRefine((value, ctx) => {
  try {
    parseOriginPattern(value);
  } catch {
    ctx.addIssue({
      code: "custom",
      message: "must be an origin such as https://api.example.com or https://*.example.com:8443",
    });
  }
});

const serverName = z
  .string()
  .regex(/^[A-Za-z0-9_-]{1,64}$/, "server names are 1-64 characters of A-Z a-z 0-9 _ -")
  // `__` separates server and tool in exposed tool names; a trailing `_` would make that split ambiguous.
  .refine((name) => !name.includes("__"), 'server names must not contain "__"')
  .refine((name) => !name.endsWith("_"), 'server names must not end with "_"');

const stdioServer = z.strictObject({
  type: z.literal("stdio"),
  command: untemplated(argvMessage).min(1, "must not be empty"),
  args: z.array(untemplated(argvMessage)).default(() => []),
  env: z.record(envName, templated).default(() => ({})),
  cwd: untemplated("is not templated").min(1, "must not be empty").optional(),
});

const httpServer = z.strictObject({
  type: z.enum(["http", "streamable-http"]).transform(() => "http" as const),
  url: httpUrl,
  headers: z.record(headerName, headerValue).default(() => ({})),
});

const builtinServer = z.strictObject({ type: z.literal("builtin") });

// Claude Desktop leaves `type` out: a `url` means http, a `command` means stdio.
function withImpliedType(input: unknown): unknown {
  if (typeof input !== "object" || input === null || Array.isArray(input) || "type" in input) {
    return input;
  }
  if ("url" in input) return { type: "http", ...input };
  if ("command" in input) return { type: "stdio", ...input };
  return input;
}

const mcpServer = z.preprocess(
  withImpliedType,
  z.discriminatedUnion("type", [stdioServer, httpServer, builtinServer], {
    error: (iss) =>
      iss.code === "invalid_union"
        ? 'must be "stdio", "http", "streamable-http" or "builtin", or have "command" or "url"'
        : undefined,
  }),
);

const tools = z
  .strictObject({
    defaultTimeoutMs: durationMs(60_000),
    maxTimeoutMs: durationMs(300_000),
    startTimeoutMs: durationMs(30_000),
  })
  .superRefine((value, ctx) => {
    if (value.defaultTimeoutMs > value.maxTimeoutMs) {
      const message = `must not exceed tools.maxTimeoutMs (${value.maxTimeoutMs})`;
      ctx.addIssue({ code: "custom", path: ["defaultTimeoutMs"], message });
    }
  });

const tlsFile = z
  .string({
    error: (iss) =>
      iss.input === undefined
        ? "required: tls needs both certFile and keyFile"
        : "must be a string",
  })
  .min(1, "must not be empty");

/**
 * The config file's schema. Every section and key is optional and takes the
 * default documented on `Config`; unknown keys are errors. A server's
 * `type: "streamable-http"` or bare `url` is normalized to `type: "http"`.
 * The `satisfies` makes tsc fail if the parsed output stops being a Config.
 */
export const configSchema = z.strictObject({
  server: section(
    z
      .strictObject({
        host: hostSchema.default("127.0.0.1"),
        port: portSchema.default(8080),
        tls: z
          .strictObject({
            certFile: tlsFile,
            keyFile: tlsFile,
            clientCaFile: required().min(1, "must not be empty").optional(),
          })
          .optional(),
        maxMessageBytes: byteSize(4 * mib),
        maxTimeoutMs: durationMs(300_000),
        shutdownGraceMs: durationMs(10_000),
      })
      .prefault({}),
  ),
  auth: section(
    z
      .strictObject({
        apiKeys: z.array(apiKeyEntry).default(() => []),
        operatorCertificates: z.array(required().min(1, "must not be empty")).default(() => []),
        anonymous: section(
          z.strictObject({ reflection: flag(false), metrics: flag(false) }).prefault({}),
        ),
      })
      .prefault({}),
  ),
  limits: section(
    z
      .strictObject({
        maxSessions: positiveInt(10_000, 1_000_000, "sessions"),
        maxInFlightCallsPerSession: positiveInt(16, 10_000, "calls"),
        initPerCaller: rate(60, 10),
        initPerSession: rate(10, 1),
        maxChildProcesses: positiveInt(256, 100_000, "processes"),
      })
      .prefault({}),
  ),
  sessions: section(
    z
      .strictObject({
        idleTimeoutMs: lifetimeMs(30 * 60_000),
        maxLifetimeMs: lifetimeMs(12 * hourMs),
        restart: section(
          z
            .strictObject({
              backoffMs: durationMs(1_000),
              maxBackoffMs: durationMs(30_000),
              crashBudget: positiveInt(5, 1_000, "crashes"),
              crashWindowMs: lifetimeMs(300_000),
            })
            .prefault({}),
        ),
      })
      .prefault({}),
  ),
  stdio: section(
    z
      .strictObject({
        stopGraceMs: durationMs(2_000),
        maxMessageBytes: byteSize(16 * mib),
        maxStderrBytesPerSecond: byteSize(mib),
      })
      .prefault({}),
  ),
  outbound: section(
    z
      .strictObject({
        profile: z
          .enum(["production", "development"], {
            error: 'must be "production" or "development"',
          })
          .default("production"),
        allowedOrigins: z.array(originPattern).default(() => []),
      })
      .prefault({}),
  ),
  credentialCheck: section(
    z
      .strictObject({ timeoutMs: durationMs(5_000), maxResponseBytes: byteSize(65_536) })
      .prefault({}),
  ),
  tools: section(tools.prefault({})),
  builtin: section(
    z
      .strictObject({ requestTimeoutMs: durationMs(30_000), maxResponseBytes: byteSize(mib) })
      .prefault({}),
  ),
  audit: section(z.strictObject({ logToolArguments: flag(false) }).prefault({})),
  tracing: section(
    z
      .strictObject({
        enabled: flag(false),
        otlpEndpoint: httpUrl.default("http://127.0.0.1:4318/v1/traces"),
        serviceName: required().min(1, "must not be empty").default("mcp-client-server"),
        sampleRatio: z
          .number({ error: "must be a number from 0 to 1" })
          .min(0, "must be a number from 0 to 1")
          .max(1, "must be a number from 0 to 1")
          .default(1),
      })
      .prefault({}),
  ),
  log: section(z.strictObject({ level: logLevelSchema.default("info") }).prefault({})),
  mcpServers: section(
    z
      .record(serverName, mcpServer)
      .refine((servers) => Object.keys(servers).length > 0, "must define at least one MCP server")
      .default(() => ({ builtin: { type: "builtin" as const } })),
  ),
}) satisfies z.ZodType<Config>;
