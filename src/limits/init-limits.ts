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
  const clock = now === undefined ? {} : { now };
  const perCaller = createRateLimiter(limits.initPerCaller, clock);
  const perSession = createRateLimiter(limits.initPerSession, clock);
  return (callerId, sessionId) => {
    for (const [scope, wait] of [
      ["caller", perCaller.take(callerId)],
      ["session", perSession.take(sessionId)],
    ] as const) {
      if (wait > 0) {
        throw new ServiceError(
          "INIT_RATE_LIMITED",
          `Too many Init calls for this ${scope}; retry in ${wait} ms.`,
          { metadata: { scope, retry_after_ms: String(wait) } },
        );
      }
    }
  };
}
