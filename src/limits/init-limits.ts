import { ServiceError } from "../errors.js";
import { createRateLimiter, type RateLimit } from "./token-bucket.js";

/** The Init rates: per caller and per session_id. */
export interface InitRateLimits {
  readonly initPerCaller: RateLimit;
  readonly initPerSession: RateLimit;
}

/**
 * Creates the Init rate check: one token bucket per caller and one per
 * session_id. Over either, RESOURCE_EXHAUSTED `INIT_RATE_LIMITED` with
 * metadata `scope` (`caller` or `session`) and `retry_after_ms`, the wait
 * until a retry can pass.
 */
export function createInitRateCheck(
  limits: InitRateLimits,
  now?: () => number,
): (callerId: string, sessionId: string) => void {
  const perCaller = createRateLimiter(limits.initPerCaller, { now });
  const perSession = createRateLimiter(limits.initPerSession, { now });
  return (callerId, sessionId) => {
    // The session bucket is charged only for callers within their own rate,
    // so a caller over its limit cannot drain another user's session budget.
    const callerWait = perCaller.take(callerId);
    if (callerWait > 0) throw limited("caller", callerWait);
    const sessionWait = perSession.take(sessionId);
    if (sessionWait > 0) throw limited("session", sessionWait);
  };
}

function limited(scope: "caller" | "session", waitMs: number): ServiceError {
  return new ServiceError(
    "INIT_RATE_LIMITED",
    `Too many Init calls for this ${scope}; retry in ${waitMs} ms.`,
    {
      metadata: { scope, retry_after_ms: String(waitMs) },
    },
  );
}
