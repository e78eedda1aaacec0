import { describe, expect, it } from "vitest";
import { ServiceError } from "../../src/errors.js";
import { type CrashBudget, createCrashBudget } from "../../src/session/crash-budget.js";
import { createManualClock } from "../support/manual-clock.js";

/** Runs the check: `ok`, or the ServiceError it threw as reason, class and metadata. */
function attempt(budget: CrashBudget, sessionId: string) {
  try {
    budget.check(sessionId);
    return "ok" as const;
  } catch (error) {
    if (!(error instanceof ServiceError)) throw error;
    return { reason: error.reason, errorClass: error.errorClass, metadata: { ...error.metadata } };
  }
}

/** What `attempt` returns for a refusal with `reason` and this metadata. */
function refusal(reason: string, crashes: number, retryAfterMs: number, crashWindowMs: number) {
  return {
    reason,
    errorClass: "unavailable",
    metadata: {
      crashes: String(crashes),
      crash_window_ms: String(crashWindowMs),
      retry_after_ms: String(retryAfterMs),
    },
  };
}

const policy = { backoffMs: 1_000, maxBackoffMs: 4_000, crashBudget: 6, crashWindowMs: 600_000 };

describe("createCrashBudget", () => {
  it("passes a session that never crashed", () => {
    const budget = createCrashBudget(policy, { now: createManualClock(10_000_000).now });
    expect(attempt(budget, "s1")).toBe("ok");
    expect(attempt(budget, "s1")).toBe("ok");
  });

  it("allows the first restart after a crash at once", () => {
    const clock = createManualClock(10_000_000);
    const budget = createCrashBudget(policy, { now: clock.now });
    budget.record("s1");
    expect(attempt(budget, "s1")).toBe("ok");
  });

  it("makes the second crash wait backoffMs, then lets the restart in", () => {
    const clock = createManualClock(10_000_000);
    const budget = createCrashBudget(policy, { now: clock.now });
    budget.record("s1");
    clock.advance(100);
    budget.record("s1");
    expect(attempt(budget, "s1")).toEqual(refusal("MCP_SERVER_BACKOFF", 2, 1_000, 600_000));
    clock.advance(999);
    expect(attempt(budget, "s1")).toEqual(refusal("MCP_SERVER_BACKOFF", 2, 1, 600_000));
    clock.advance(1);
    expect(attempt(budget, "s1")).toBe("ok");
  });

  it("doubles the wait with each further crash, up to maxBackoffMs", () => {
    const clock = createManualClock(10_000_000);
    const budget = createCrashBudget(policy, { now: clock.now });
    budget.record("s1");
    const waits: number[] = [];
    for (let crashes = 2; crashes <= 5; crashes++) {
      budget.record("s1");
      const result = attempt(budget, "s1");
      if (result === "ok") throw new Error(`no backoff after crash ${crashes}`);
      expect(result).toMatchObject({ reason: "MCP_SERVER_BACKOFF", errorClass: "unavailable" });
      expect(result.metadata.crashes).toBe(String(crashes));
      const wait = Number(result.metadata.retry_after_ms);
      waits.push(wait);
      clock.advance(wait);
      expect(attempt(budget, "s1")).toBe("ok");
    }
    expect(waits).toEqual([1_000, 2_000, 4_000, 4_000]);
  });

  it("stops restarts at crashBudget crashes until the oldest leaves the window", () => {
    const clock = createManualClock(10_000_000);
    const window = 60_000;
    const budget = createCrashBudget(
      { backoffMs: 100, maxBackoffMs: 100, crashBudget: 3, crashWindowMs: window },
      { now: clock.now },
    );
    budget.record("s1"); // t = 0
    clock.advance(10_000);
    budget.record("s1"); // t = 10 s
    clock.advance(10_000);
    budget.record("s1"); // t = 20 s: the third crash within the window
    expect(attempt(budget, "s1")).toEqual(refusal("MCP_SERVER_CRASH_LOOP", 3, 40_000, window));
    // Past every backoff, still refused, with the wait shrinking.
    clock.advance(30_000);
    expect(attempt(budget, "s1")).toEqual(refusal("MCP_SERVER_CRASH_LOOP", 3, 10_000, window));
    clock.advance(9_999);
    expect(attempt(budget, "s1")).toEqual(refusal("MCP_SERVER_CRASH_LOOP", 3, 1, window));
    // The first crash leaves the window at t = 60 s.
    clock.advance(1);
    expect(attempt(budget, "s1")).toBe("ok");
  });

  it("allows restarts again once every crash is older than the window", () => {
    const clock = createManualClock(10_000_000);
    const budget = createCrashBudget(
      { backoffMs: 1_000, maxBackoffMs: 1_000, crashBudget: 2, crashWindowMs: 5_000 },
      { now: clock.now },
    );
    budget.record("s1");
    budget.record("s1");
    expect(attempt(budget, "s1")).toMatchObject({ reason: "MCP_SERVER_CRASH_LOOP" });
    clock.advance(5_000);
    expect(attempt(budget, "s1")).toBe("ok");
    // The old crashes no longer count: one new crash is again restarted at once.
    budget.record("s1");
    expect(attempt(budget, "s1")).toBe("ok");
    clock.advance(10);
    budget.record("s1");
    expect(attempt(budget, "s1")).toMatchObject({ reason: "MCP_SERVER_CRASH_LOOP" });
  });

  it("keeps the crashes of each session apart", () => {
    const clock = createManualClock(10_000_000);
    const budget = createCrashBudget(policy, { now: clock.now });
    budget.record("s1");
    budget.record("s1");
    budget.record("s2");
    expect(attempt(budget, "s1")).toMatchObject({ reason: "MCP_SERVER_BACKOFF" });
    expect(attempt(budget, "s2")).toBe("ok");
    expect(attempt(budget, "s3")).toBe("ok");
  });

  it("remembers at most maxKeys sessions, dropping the one whose last crash is oldest", () => {
    const clock = createManualClock(10_000_000);
    const budget = createCrashBudget(policy, { now: clock.now, maxKeys: 2 });
    const crashTwice = (sessionId: string) => {
      budget.record(sessionId);
      budget.record(sessionId);
    };
    crashTwice("a");
    crashTwice("b");
    // "a" crashes again: now "b" is the oldest entry.
    budget.record("a");
    crashTwice("c");
    expect(attempt(budget, "a")).toMatchObject({ reason: "MCP_SERVER_BACKOFF" });
    expect(attempt(budget, "b")).toBe("ok");
    expect(attempt(budget, "c")).toMatchObject({ reason: "MCP_SERVER_BACKOFF" });
  });

  it("stays bounded under many sessions", () => {
    const clock = createManualClock(10_000_000);
    const maxKeys = 50;
    const budget = createCrashBudget(policy, { now: clock.now, maxKeys });
    for (let i = 0; i < 10 * maxKeys; i++) {
      budget.record(`s${i}`);
      budget.record(`s${i}`);
    }
    for (let i = 10 * maxKeys - 1; i >= 9 * maxKeys; i--) {
      expect(attempt(budget, `s${i}`)).toMatchObject({ reason: "MCP_SERVER_BACKOFF" });
    }
    expect(attempt(budget, "s0")).toBe("ok");
  });
});
