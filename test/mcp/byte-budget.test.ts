import { describe, expect, it } from "vitest";
import { createByteBudget } from "../../src/mcp/byte-budget.js";
import { createManualClock } from "../support/manual-clock.js";

describe("createByteBudget", () => {
  it("allows the whole burst at once, then nothing more without time passing", () => {
    const clock = createManualClock(1_000_000);
    const budget = createByteBudget(1_000, 10_000, clock.now);
    expect(budget.take(10_000)).toBe(true);
    expect(budget.take(1)).toBe(false);
  });

  it("allows the burst in pieces, down to the last byte", () => {
    const clock = createManualClock(1_000_000);
    const budget = createByteBudget(1_000, 100, clock.now);
    expect([budget.take(40), budget.take(40), budget.take(20)]).toEqual([true, true, true]);
    expect(budget.take(1)).toBe(false);
  });

  it("refills at perSecond", () => {
    const clock = createManualClock(1_000_000);
    const budget = createByteBudget(1_000, 2_000, clock.now);
    expect(budget.take(2_000)).toBe(true);
    clock.advance(500);
    // 500 ms at 1000 bytes/s: 500 bytes, not one more.
    expect(budget.take(501)).toBe(false);
    clock.advance(500);
    expect(budget.take(500)).toBe(true);
    clock.advance(250);
    expect(budget.take(250)).toBe(true);
    expect(budget.take(1)).toBe(false);
  });

  it("refills no further than the burst, however long it was idle", () => {
    const clock = createManualClock(1_000_000);
    const budget = createByteBudget(1_000, 2_000, clock.now);
    expect(budget.take(2_000)).toBe(true);
    clock.advance(3_600_000);
    expect(budget.take(2_001)).toBe(false);
  });

  it("fails a take larger than what is left and leaves the bucket empty", () => {
    const clock = createManualClock(1_000_000);
    const budget = createByteBudget(1_000, 100, clock.now);
    expect(budget.take(60)).toBe(true);
    // 40 left: 50 fails, and the 40 are gone with it.
    expect(budget.take(50)).toBe(false);
    expect(budget.take(1)).toBe(false);
    clock.advance(10);
    // Only what 10 ms refilled is there now.
    expect(budget.take(11)).toBe(false);
    clock.advance(10);
    expect(budget.take(10)).toBe(true);
  });

  it("always fails a take larger than the burst", () => {
    const clock = createManualClock(1_000_000);
    const budget = createByteBudget(1_000, 100, clock.now);
    expect(budget.take(101)).toBe(false);
    clock.advance(60_000);
    expect(budget.take(101)).toBe(false);
    clock.advance(100);
    expect(budget.take(100)).toBe(true);
  });
});
