import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { createRateLimiter } from "../../src/limits/token-bucket.js";

/** A clock tests move by hand. */
function manualClock(start = 1_000_000) {
  let at = start;
  return {
    now: () => at,
    advance(ms: number) {
      at += ms;
    },
  };
}

describe("createRateLimiter", () => {
  it("allows a burst, then refuses with the wait until the next token", () => {
    const clock = manualClock();
    const limiter = createRateLimiter({ burst: 3, perSecond: 2 }, { now: clock.now });
    expect([limiter.take("a"), limiter.take("a"), limiter.take("a")]).toEqual([0, 0, 0]);
    // Empty; 2 per second: a token every 500 ms.
    expect(limiter.take("a")).toBe(500);
    // A refusal takes nothing: the wait only shrinks as time passes.
    expect(limiter.take("a")).toBe(500);
    clock.advance(200);
    expect(limiter.take("a")).toBe(300);
  });

  it("refills over time, one token per 1/perSecond, and lets the caller in when told", () => {
    const clock = manualClock();
    const limiter = createRateLimiter({ burst: 2, perSecond: 4 }, { now: clock.now });
    limiter.take("a");
    limiter.take("a");
    const wait = limiter.take("a");
    expect(wait).toBe(250);
    clock.advance(wait - 1);
    expect(limiter.take("a")).toBeGreaterThan(0);
    clock.advance(1);
    expect(limiter.take("a")).toBe(0);
    expect(limiter.take("a")).toBe(250);
  });

  it("refills no further than the burst, however long it was idle", () => {
    const clock = manualClock();
    const limiter = createRateLimiter({ burst: 2, perSecond: 10 }, { now: clock.now });
    limiter.take("a");
    clock.advance(3_600_000);
    expect([limiter.take("a"), limiter.take("a")]).toEqual([0, 0]);
    expect(limiter.take("a")).toBe(100);
  });

  it("keeps one bucket per key", () => {
    const clock = manualClock();
    const limiter = createRateLimiter({ burst: 1, perSecond: 0.001 }, { now: clock.now });
    expect(limiter.take("a")).toBe(0);
    expect(limiter.take("a")).toBe(1_000_000);
    expect(limiter.take("b")).toBe(0);
    expect(limiter.take("b")).toBe(1_000_000);
  });

  it("holds at most maxKeys buckets, dropping the least recently used", () => {
    const clock = manualClock();
    const limiter = createRateLimiter(
      { burst: 1, perSecond: 0.001 },
      { now: clock.now, maxKeys: 2 },
    );
    expect(limiter.take("a")).toBe(0);
    expect(limiter.take("b")).toBe(0);
    // Using "a" again (refused) makes "b" the least recently used.
    expect(limiter.take("a")).toBeGreaterThan(0);
    expect(limiter.take("c")).toBe(0);
    // "b" was dropped, so it starts full; "a" was kept and is still empty.
    expect(limiter.take("a")).toBeGreaterThan(0);
    expect(limiter.take("b")).toBe(0);
  });

  it("forgets the oldest of many keys instead of growing without bound", () => {
    const clock = manualClock();
    const maxKeys = 100;
    const limiter = createRateLimiter({ burst: 1, perSecond: 0.001 }, { now: clock.now, maxKeys });
    for (let i = 0; i < 10 * maxKeys; i++) expect(limiter.take(`k${i}`)).toBe(0);
    // The newest maxKeys keys are remembered (empty); every older one was dropped (full).
    for (let i = 10 * maxKeys - 1; i >= 9 * maxKeys; i--) {
      expect(limiter.take(`k${i}`)).toBeGreaterThan(0);
    }
    expect(limiter.take("k0")).toBe(0);
  });

  it("keeps its promise: a retry after the wait it named passes, for any rate", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 20 }),
        fc.double({ min: 0.001, max: 1_000, noNaN: true }),
        fc.array(fc.integer({ min: 0, max: 5_000 }), { maxLength: 20 }),
        (burst, perSecond, gaps) => {
          const clock = manualClock();
          const limiter = createRateLimiter({ burst, perSecond }, { now: clock.now });
          for (const gap of gaps) {
            clock.advance(gap);
            const wait = limiter.take("k");
            expect(wait).toBeGreaterThanOrEqual(0);
            expect(Number.isInteger(wait)).toBe(true);
            if (wait > 0) {
              clock.advance(wait);
              expect(limiter.take("k")).toBe(0);
            }
          }
        },
      ),
      { numRuns: 500 },
    );
  });
});
