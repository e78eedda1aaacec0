import { describe, expect, it } from "vitest";
import { ServiceError } from "../../src/errors.js";
import {
  createProcessBudget,
  type ProcessBudget,
  processLimitRetryMs,
} from "../../src/process/process-budget.js";

/** Reserves `count`: `ok`, or the ServiceError it threw as reason, class and metadata. */
function attempt(budget: ProcessBudget, count: number) {
  try {
    budget.reserve(count);
    return "ok" as const;
  } catch (error) {
    if (!(error instanceof ServiceError)) throw error;
    return { reason: error.reason, errorClass: error.errorClass, metadata: { ...error.metadata } };
  }
}

const limitReached = (max: number) => ({
  reason: "PROCESS_LIMIT_REACHED",
  errorClass: "resource_exhausted",
  metadata: { max_child_processes: String(max), retry_after_ms: String(processLimitRetryMs) },
});

describe("createProcessBudget", () => {
  it("reserves up to max and refuses one more with PROCESS_LIMIT_REACHED", () => {
    const budget = createProcessBudget(3);
    budget.reserve(2);
    budget.reserve(1);
    expect(attempt(budget, 1)).toEqual(limitReached(3));
    expect(processLimitRetryMs).toBeGreaterThan(0);
  });

  it("refuses a reservation that would pass max as a whole, taking nothing", () => {
    const budget = createProcessBudget(3);
    budget.reserve(2);
    expect(attempt(budget, 2)).toEqual(limitReached(3));
    // The refused reservation took nothing: one more still fits.
    expect(attempt(budget, 1)).toBe("ok");
    expect(attempt(budget, 1)).toEqual(limitReached(3));
  });

  it("counts nothing as live until spawned", () => {
    const budget = createProcessBudget(2);
    const reservation = budget.reserve(2);
    expect(budget.live).toBe(0);
    reservation.spawned();
    expect(budget.live).toBe(1);
    reservation.spawned();
    expect(budget.live).toBe(2);
    // Spawned processes hold their place in place of the reservation.
    expect(attempt(budget, 1)).toEqual(limitReached(2));
  });

  it("gives back the unspawned part of a reservation on release, once", () => {
    const budget = createProcessBudget(3);
    const reservation = budget.reserve(3);
    reservation.spawned();
    reservation.release();
    reservation.release();
    expect(budget.live).toBe(1);
    // Two came back, not more.
    budget.reserve(2);
    expect(attempt(budget, 1)).toEqual(limitReached(3));
  });

  it("makes room again when a spawned process exits", () => {
    const budget = createProcessBudget(1);
    const reservation = budget.reserve(1);
    reservation.spawned();
    reservation.release();
    expect(attempt(budget, 1)).toEqual(limitReached(1));
    budget.exited();
    expect(budget.live).toBe(0);
    expect(attempt(budget, 1)).toBe("ok");
  });

  it("counts a process spawned beyond the reservation as live", () => {
    const budget = createProcessBudget(3);
    const reservation = budget.reserve(1);
    reservation.spawned();
    // A wrapper forked a second process the start did not reserve: it is alive all the same.
    reservation.spawned();
    reservation.release();
    expect(budget.live).toBe(2);
    expect(attempt(budget, 2)).toEqual(limitReached(3));
    expect(attempt(budget, 1)).toBe("ok");
  });

  it("never counts below zero live processes", () => {
    const budget = createProcessBudget(1);
    budget.exited();
    expect(budget.live).toBe(0);
    budget.reserve(1).spawned();
    expect(attempt(budget, 1)).toEqual(limitReached(1));
  });
});
