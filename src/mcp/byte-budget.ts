/** A bucket of bytes refilled continuously. */
export interface ByteBudget {
  /** Takes `bytes`; false when the bucket holds fewer (it is then left empty). */
  take(bytes: number): boolean;
}

/** Creates a bucket holding up to `burst` bytes, refilled at `perSecond`. */
export function createByteBudget(
  perSecond: number,
  burst: number,
  now: () => number = performance.now.bind(performance),
): ByteBudget {
  let tokens = burst;
  let at = now();
  return {
    take(bytes) {
      const time = now();
      tokens = Math.min(burst, tokens + ((time - at) / 1000) * perSecond);
      at = time;
      if (tokens < bytes) {
        tokens = 0;
        return false;
      }
      tokens -= bytes;
      return true;
    },
  };
}
