import { setNewest } from "./bounded-map.js";

const tolerance = 1e-9;

/** A token bucket's size and refill rate. */
export interface RateLimit {
  /** Most requests in a burst. */
  readonly burst: number;
  /** Requests per second sustained. */
  readonly perSecond: number;
}

/** Token buckets by key. */
export interface RateLimiter {
  /** Takes one token for `key`: 0 when allowed, else the milliseconds until one is available. */
  take(key: string): number;
}

/**
 * Creates token buckets by key, refilled continuously. At most `maxKeys`
 * buckets are kept; past that the least recently used bucket is dropped
 * (it restarts full), so memory stays bounded under many keys.
 */
export function createRateLimiter(
  limit: RateLimit,
  options: { now?: () => number; maxKeys?: number } = {},
): RateLimiter {
  const now = options.now ?? Date.now;
  const maxKeys = options.maxKeys ?? 100_000;
  const buckets = new Map<string, { tokens: number; at: number }>();
  return {
    take(key) {
      const at = now();
      const bucket = buckets.get(key) ?? { tokens: limit.burst, at };
      bucket.tokens = Math.min(
        limit.burst,
        bucket.tokens + ((at - bucket.at) / 1000) * limit.perSecond,
      );
      bucket.at = at;
      setNewest(buckets, key, bucket, maxKeys);
      // The tolerance absorbs floating-point drift, so that a retry at exactly
      // the hinted time finds its token.
      if (bucket.tokens >= 1 - tolerance) {
        bucket.tokens = Math.max(0, bucket.tokens - 1);
        return 0;
      }
      return Math.ceil(((1 - bucket.tokens) / limit.perSecond) * 1000);
    },
  };
}
