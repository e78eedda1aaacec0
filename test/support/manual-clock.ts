/** A clock that moves only when a test moves it. */
export interface ManualClock {
  /** The current time in ms; pass it where the code takes a `now` function. */
  readonly now: () => number;
  /** Moves the clock by `ms` (negative moves it back). */
  advance(ms: number): void;
}

/** Creates a manual clock that reads `startMs` until advanced. */
export function createManualClock(startMs: number): ManualClock {
  let at = startMs;
  return {
    now: () => at,
    advance(ms) {
      at += ms;
    },
  };
}
