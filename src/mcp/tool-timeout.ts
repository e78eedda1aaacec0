import { ServiceError } from "../errors.js";

/** The operator's tool timeout policy. */
export interface ToolTimeoutLimits {
  readonly defaultTimeoutMs: number;
  readonly maxTimeoutMs: number;
}

/**
 * The timeout for one MCP request: the requested one (or the default),
 * shortened to the caller's remaining deadline. `INVALID_TIMEOUT` when the
 * requested timeout is not a positive number of at most `maxTimeoutMs`.
 */
export function resolveToolTimeout(
  requestedMs: number | undefined,
  deadlineMs: number | undefined,
  limits: ToolTimeoutLimits,
): number {
  if (requestedMs !== undefined && !(requestedMs > 0 && requestedMs <= limits.maxTimeoutMs)) {
    throw new ServiceError(
      "INVALID_TIMEOUT",
      `timeout must be greater than 0 and at most ${limits.maxTimeoutMs} ms.`,
      { metadata: { max_timeout_ms: String(limits.maxTimeoutMs) } },
    );
  }
  const timeoutMs = requestedMs ?? limits.defaultTimeoutMs;
  return deadlineMs === undefined ? timeoutMs : Math.max(1, Math.min(timeoutMs, deadlineMs));
}
