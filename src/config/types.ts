/** A stdio MCP server: a child process speaking MCP on stdin/stdout. */
export interface StdioServerConfig {
  readonly type: "stdio";
  readonly command: string;
  /** Static arguments. Never templated: credentials do not go into argv. */
  readonly args: readonly string[];
  /**
   * Extra environment variables for the child. Values may use `${apiUrl}`,
   * `${jwtToken}` and `${sessionId}`. The child gets only these plus a
   * minimal base environment, never the service's own.
   */
  readonly env: Readonly<Record<string, string>>;
  readonly cwd?: string;
}

/** A Streamable HTTP MCP server. */
export interface HttpServerConfig {
  readonly type: "http";
  /** The MCP endpoint. Not templated. */
  readonly url: string;
  /** Request headers; values are templated like stdio `env`. */
  readonly headers: Readonly<Record<string, string>>;
}

/** The project's own MCP server, one in-process instance per session. */
export interface BuiltinServerConfig {
  readonly type: "builtin";
}

/** One entry of `mcpServers`. */
export type McpServerConfig = StdioServerConfig | HttpServerConfig | BuiltinServerConfig;

/** The validated service configuration. Every field has a documented default. */
export interface Config {
  readonly server: {
    /** Listen address. Default `127.0.0.1`. */
    readonly host: string;
    /** Listen port; 0 picks a free one. Default 8080. */
    readonly port: number;
    /** PEM files; with both set the port serves TLS with ALPN h2/http1.1. */
    readonly tls?: {
      readonly certFile: string;
      readonly keyFile: string;
      /** PEM CA; when set, every caller must present a client certificate it signed (mTLS). */
      readonly clientCaFile?: string;
    };
    /** Largest accepted request message. Default 4 MiB. */
    readonly maxMessageBytes: number;
    /** Largest RPC deadline a client may ask for. Default 300000 (5 min). */
    readonly maxTimeoutMs: number;
    /** How long in-flight calls may run after SIGTERM. Default 10000. */
    readonly shutdownGraceMs: number;
  };
  /** How callers of the service authenticate. Default: no API keys, no client certificates. */
  readonly auth: {
    /**
     * When not empty, every RPC, `POST /init` and `GET /metrics` need
     * `x-api-key` with one of these keys (the health service and the probes
     * never do; see `anonymous`); the config holds each key's SHA-256 (hex),
     * never the key.
     */
    readonly apiKeys: readonly {
      readonly name: string;
      readonly sha256: string;
      /** `operator` keys may also call SessionAdminService. Default `client`. */
      readonly role: "client" | "operator";
    }[];
    /**
     * Client certificates whose callers are operators, named as the caller id
     * shows them (`cert:<name>`): the certificate's subject CN, or its SHA-256
     * fingerprint when it has none. Only certificates the client CA signed
     * count. Default empty.
     */
    readonly operatorCertificates: readonly string[];
    /**
     * Extras callers may reach without an API key or certificate (the health
     * service and `/healthz` / `/readyz` always may). Default none.
     */
    readonly anonymous: { readonly reflection: boolean; readonly metrics: boolean };
  };
  /** Abuse limits. */
  readonly limits: {
    /** Most sessions with live MCP clients. Default 10000. */
    readonly maxSessions: number;
    /** Most tool calls running at once in one session. Default 16. */
    readonly maxInFlightCallsPerSession: number;
    /** Init rate per caller (API key, certificate or address). Default burst 60, 10/s. */
    readonly initPerCaller: { readonly burst: number; readonly perSecond: number };
    /** Init rate per session_id. Default burst 10, 1/s. */
    readonly initPerSession: { readonly burst: number; readonly perSecond: number };
    /**
     * Most stdio server processes alive at once, counting those still
     * starting and those still exiting. Default 256.
     */
    readonly maxChildProcesses: number;
  };
  /** How long sessions live and how crashed MCP servers come back. */
  readonly sessions: {
    /** A session unused for this long is closed. Default 1800000 (30 min). */
    readonly idleTimeoutMs: number;
    /** A session is closed this long after its Init, used or not. Default 43200000 (12 h). */
    readonly maxLifetimeMs: number;
    /** When a session whose MCP server crashed or failed to start may start again. */
    readonly restart: {
      /** Wait before the second restart within `crashWindowMs`; doubles after each crash. Default 1000. */
      readonly backoffMs: number;
      /** Longest wait between restarts. Default 30000. */
      readonly maxBackoffMs: number;
      /** Crashes within `crashWindowMs` after which restarts stop until the oldest leaves it. Default 5. */
      readonly crashBudget: number;
      /** Default 300000 (5 min). */
      readonly crashWindowMs: number;
    };
  };
  /** How stdio MCP server processes are run and stopped. */
  readonly stdio: {
    /**
     * After stdin closes, how long a server gets to exit before its process
     * group gets SIGTERM, and again before SIGKILL. Default 2000.
     */
    readonly stopGraceMs: number;
    /** Longest JSON-RPC line a server may write to stdout; a longer one ends it. Default 16 MiB. */
    readonly maxMessageBytes: number;
    /**
     * Sustained stderr a server may write; ten seconds' worth may come at
     * once. A server over it is ended. Default 1 MiB/s.
     */
    readonly maxStderrBytesPerSecond: number;
  };
  /** Rules for every outbound HTTP call made for a user (credential check, built-in tools). */
  readonly outbound: {
    /**
     * `production` (default): https only, public addresses only.
     * `development`: http too, and loopback and private addresses.
     */
    readonly profile: "production" | "development";
    /**
     * When not empty, the only API origins Init accepts (`https://api.example.com`,
     * `https://*.example.com`, `http://10.0.0.5:8080`); their addresses are
     * not range-checked. Default empty.
     */
    readonly allowedOrigins: readonly string[];
  };
  readonly credentialCheck: {
    /** Total time for `POST {api_url}/settings/validate`. Default 5000. */
    readonly timeoutMs: number;
    /** Largest response body read from the check. Default 65536. */
    readonly maxResponseBytes: number;
  };
  readonly tools: {
    /** Tool timeout when a CallTool gives none. Default 60000. */
    readonly defaultTimeoutMs: number;
    /** Largest tool timeout a CallTool may ask for. Default 300000. */
    readonly maxTimeoutMs: number;
    /** Time allowed for one session's MCP servers to start. Default 30000. */
    readonly startTimeoutMs: number;
  };
  readonly builtin: {
    /** Total time for one `api_request`/`validate_settings` call. Default 30000. */
    readonly requestTimeoutMs: number;
    /** Largest response body `api_request` returns. Default 1 MiB. */
    readonly maxResponseBytes: number;
  };
  /** Audit events (structured log lines, `audit: true`). */
  readonly audit: {
    /** Whether tool_called events carry the tool's arguments (redacted). Default false. */
    readonly logToolArguments: boolean;
  };
  /** OpenTelemetry tracing; off by default. */
  readonly tracing: {
    /** Default false. */
    readonly enabled: boolean;
    /** OTLP/HTTP traces endpoint. Default `http://127.0.0.1:4318/v1/traces`. */
    readonly otlpEndpoint: string;
    /** `service.name` of the spans. Default `mcp-client-server`. */
    readonly serviceName: string;
    /** Share of new traces sampled (parents' decisions are kept). Default 1. */
    readonly sampleRatio: number;
  };
  readonly log: {
    /** pino level. Default `info`. */
    readonly level: "fatal" | "error" | "warn" | "info" | "debug" | "trace" | "silent";
  };
  /** Named MCP servers started for every session. Default `{ builtin: { type: builtin } }`. */
  readonly mcpServers: Readonly<Record<string, McpServerConfig>>;
}
