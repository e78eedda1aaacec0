import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { createRateLimiter } from "../../src/limits/token-bucket.js";
import { createManualClock } from "../support/manual-clock.js";

describe("createRateLimiter", () => {
  it("allows a burst, then refuses with the wait until the next token", () => {
    const clock = createManualClock(1_000_000);
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
    const clock = createManualClock(1_000_000);
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
    const clock = createManualClock(1_000_000);
    const limiter = createRateLimiter({ burst: 2, perSecond: 10 }, { now: clock.now });
    limiter.take("a");
    clock.advance(3_600_000);
    expect([limiter.take("a"), limiter.take("a")]).toEqual([0, 0]);
    expect(limiter.take("a")).toBe(100);
  });

  it("keeps one bucket per key", () => {
    const clock = createManualClock(1_000_000);
    const limiter = createRateLimiter({ burst: 1, perSecond: 0.001 }, { now: clock.now });
    expect(limiter.take("a")).toBe(0);
    expect(limiter.take("a")).toBe(1_000_000);
    expect(limiter.take("b")).toBe(0);
    expect(limiter.take("b")).toBe(1_000_000);
  });

  it("holds at most maxKeys buckets, dropping the least recently used", () => {
    const clock = createManualClock(1_000_000);
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
    const clock = createManualClock(1_000_000);
    const maxKeys = 100;
    const limiter = createRateLimiter({ burst: 1, perSecond: 0.001 }, { now: clock.now, maxKeys });
    for (let i = 0; i < 10 * maxKeys; i++) expect(limiter.take(`k${i}`)).toBe(0);
    // The newest maxKeys keys are remembered (empty); every older one was dropped (full).
    for (let i = 10 * maxKeys - 1; i >= 9 * maxKeys; i--) {
      expect(limiter.take(`k${i}`)).toBeGreaterThan(0);
    }
    expect(limiter.take("k0")).toBe(0);
  });

  it("rounds the wait up to whole milliseconds", () => {
    const clock = createManualClock(1_000_000);
    const limiter = createRateLimiter({ burst: 1, perSecond: 3 }, { now: clock.now });
    limiter.take("a");
    // A token every 333.3 ms.
    expect(limiter.take("a")).toBe(334);
    clock.advance(333);
    expect(limiter.take("a")).toBe(1);
    clock.advance(1);
    expect(limiter.take("a")).toBe(0);
  });

  it("names a wait close to the truth, for any rate and history", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 20 }),
        fc.double({ min: 0.001, max: 1_000, noNaN: true }),
        fc.array(fc.integer({ min: 0, max: 5_000 }), { minLength: 1, maxLength: 10 }),
        (burst, perSecond, gaps) => {
          const clock = createManualClock(1_000_000);
          const limiter = createRateLimiter({ burst, perSecond }, { now: clock.now });
          for (const gap of gaps) {
            clock.advance(gap);
            // Drain the bucket: at most `burst` takes pass.
            let wait = 0;
            for (let i = 0; i <= burst && wait === 0; i++) wait = limiter.take("k");
            expect(Number.isInteger(wait)).toBe(true);
            expect(wait).toBeGreaterThan(0);
            // Not too long: two milliseconds early is still refused (a refusal takes nothing).
            if (wait > 2) {
              clock.advance(wait - 2);
              expect(limiter.take("k")).toBeGreaterThan(0);
              clock.advance(2);
            } else {
              clock.advance(wait);
            }
            // Not too short: `take` passes right at `wait`.
            expect(limiter.take("k")).toBe(0);
          }
        },
      ),
      { numRuns: 500 },
    );
  });

  // The wait is computed in floating point: at the very millisecond it names
  // the bucket can hold 0.9999999999999999 tokens, which must still count as one.
  it("lets a retry in at the wait it named (0.02/s after a 4956 ms pause)", () => {
    const clock = createManualClock(0);
    const limiter = createRateLimiter({ burst: 1, perSecond: 0.02 }, clock);
    limiter.take("k");
    clock.advance(4956);
    const wait = limiter.take("k");
    expect(wait).toBe(45044);
    clock.advance(wait);
    expect(limiter.take("k")).toBe(0);
  });

  it("lets a retry in at the wait it named, at a rate near 1000/s", () => {
    const clock = createManualClock(0);
    const limiter = createRateLimiter({ burst: 1, perSecond: 999.9999999999999 }, clock);
    limiter.take("k");
    const wait = limiter.take("k");
    clock.advance(wait);
    expect(limiter.take("k")).toBe(0);
  });

  it("lets a retry in at the wait it named, after an early retry", () => {
    const clock = createManualClock(0);
    const limiter = createRateLimiter({ burst: 1, perSecond: 0.001 }, clock);
    limiter.take("k");
    clock.advance(1199);
    const wait = limiter.take("k");
    clock.advance(wait - 2);
    expect(limiter.take("k")).toBeGreaterThan(0);
    clock.advance(2);
    expect(limiter.take("k")).toBe(0);
  });
});
