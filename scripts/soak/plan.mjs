// The shape of a soak run, shared by the main thread (main.mjs) and the load worker (load.mjs).

/** Every `crashEvery`-th cycle also crashes the stdio fixture server. */
export const crashEvery = 25;

/**
 * Cycles run before the baseline measurement: one crash cycle falls inside the warm-up,
 * so the crash path is loaded before the baseline.
 */
export const warmupCycles = crashEvery;
