/**
 * The error classes a caller can see. The RPC boundary maps each class to a
 * gRPC code (and so to an HTTP status); the class of every reason is fixed
 * here, so one reason always surfaces with one code.
 */
export type ErrorClass =
  | "invalid_argument"
  | "unauthenticated"
  | "permission_denied"
  | "not_found"
  | "deadline_exceeded"
  | "unavailable"
  | "resource_exhausted"
  | "canceled"
  | "internal";

/** Every reason the service reports, with its class. */
export const reasons = {
  MISSING_PARAMETERS: "invalid_argument",
  INVALID_SESSION_ID: "invalid_argument",
  INVALID_TIMEOUT: "invalid_argument",
  INVALID_REQUEST_BODY: "invalid_argument",
  TOOL_INVALID_ARGUMENTS: "invalid_argument",
  INVALID_PAGE_SIZE: "invalid_argument",
  INVALID_PAGE_TOKEN: "invalid_argument",
  INVALID_API_URL: "unauthenticated",
  API_URL_NOT_ALLOWED: "unauthenticated",
  INVALID_JWT_FORMAT: "unauthenticated",
  TOKEN_EXPIRED: "unauthenticated",
  CREDENTIALS_REJECTED: "unauthenticated",
  SESSION_CREDENTIALS_MISMATCH: "unauthenticated",
  API_KEY_REQUIRED: "unauthenticated",
  API_KEY_INVALID: "unauthenticated",
  CLIENT_CERTIFICATE_REQUIRED: "unauthenticated",
  OPERATOR_REQUIRED: "permission_denied",
  INIT_RATE_LIMITED: "resource_exhausted",
  SESSION_LIMIT_REACHED: "resource_exhausted",
  TOO_MANY_IN_FLIGHT_CALLS: "resource_exhausted",
  PROCESS_LIMIT_REACHED: "resource_exhausted",
  SESSION_NOT_FOUND: "not_found",
  SESSION_EXPIRED: "not_found",
  TOOL_NOT_FOUND: "not_found",
  SERVICE_NOT_FOUND: "not_found",
  MCP_TIMEOUT: "deadline_exceeded",
  CANCELED: "canceled",
  MCP_SERVER_EXITED: "unavailable",
  MCP_SERVER_BACKOFF: "unavailable",
  MCP_SERVER_CRASH_LOOP: "unavailable",
  SERVER_SHUTTING_DOWN: "unavailable",
  UPSTREAM_TIMEOUT: "internal",
  UPSTREAM_UNREACHABLE: "internal",
  UPSTREAM_ERROR: "internal",
  MCP_SERVER_START_FAILED: "internal",
  MCP_ERROR: "internal",
} as const satisfies Record<string, ErrorClass>;

/** A stable, machine-readable error reason. */
export type Reason = keyof typeof reasons;

/** The domain of every reason, as `google.rpc.ErrorInfo` uses it. */
export const errorDomain = "mcp-client-server";

/**
 * An error meant for the caller. Its message must be safe to show: it never
 * holds a token, an Authorization header or a URL's query string. The
 * original failure, which may hold anything, travels as `cause` for the log.
 */
export class ServiceError extends Error {
  override readonly name = "ServiceError";
  readonly reason: Reason;
  readonly metadata: Readonly<Record<string, string>>;

  constructor(
    reason: Reason,
    message: string,
    options: { metadata?: Record<string, string>; cause?: unknown } = {},
  ) {
    super(message, { cause: options.cause });
    this.reason = reason;
    this.metadata = options.metadata ?? {};
  }

  /** The class of this error's reason. */
  get errorClass(): ErrorClass {
    return reasons[this.reason];
  }
}

/** The reason of `error`: its own for a ServiceError, else `INTERNAL`. */
export function reasonOf(error: unknown): Reason | "INTERNAL" {
  return error instanceof ServiceError ? error.reason : "INTERNAL";
}
