import { ServiceError } from "../errors.js";

/** The operator's tool timeout policy. */
export interface ToolTimeoutLimits {
  readonly defaultTimeoutMs: number;
  readonly maxTimeoutMs: number;
}

/**
 * Throws INVALID_ARGUMENT `INVALID_TIMEOUT` when a requested timeout is not a
 * positive number of at most `maxTimeoutMs`; no timeout requested is fine.
 */
export function checkToolTimeout(requestedMs: number | undefined, limits: ToolTimeoutLimits): void {
  if (requestedMs !== undefined && !(requestedMs > 0 && requestedMs <= limits.maxTimeoutMs)) {
    throw new ServiceError(
      "INVALID_TIMEOUT",
      `timeout must be greater than 0 and at most ${limits.maxTimeoutMs} ms.`,
      { metadata: { max_timeout_ms: String(limits.maxTimeoutMs) } },
    );
  }
}

/**
 * The timeout for one MCP request: the requested one (already passed
 * through checkToolTimeout) or the default, shortened to the caller's
 * remaining deadline.
 */
export function resolveToolTimeout(
  requestedMs: number | undefined,
  deadlineMs: number | undefined,
  limits: ToolTimeoutLimits,
): number {
  const timeoutMs = requestedMs ?? limits.defaultTimeoutMs;
  return deadlineMs === undefined ? timeoutMs : Math.max(1, Math.min(timeoutMs, deadlineMs));
}
