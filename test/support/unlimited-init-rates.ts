/**
 * Init rate limits no suite reaches: suites run many Inits on one session_id
 * from one caller; the limits have their own tests.
 */
export const unlimitedInitRates = {
  initPerCaller: { burst: 1_000_000, perSecond: 1_000_000 },
  initPerSession: { burst: 1_000_000, perSecond: 1_000_000 },
} as const;
