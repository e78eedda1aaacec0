import { describe, expect, it } from "vitest";
import { ServiceError } from "../../src/errors.js";
import { createInitRateCheck } from "../../src/limits/init-limits.js";
import { createManualClock } from "../support/manual-clock.js";

/** Runs the check: `ok`, or the INIT_RATE_LIMITED it threw with its class and metadata. */
function attempt(check: (callerId: string, sessionId: string) => void, caller: string, id: string) {
  try {
    check(caller, id);
    return "ok" as const;
  } catch (error) {
    if (!(error instanceof ServiceError)) throw error;
    return { reason: error.reason, errorClass: error.errorClass, metadata: { ...error.metadata } };
  }
}

const roomy = { burst: 1_000, perSecond: 1_000 };

describe("createInitRateCheck", () => {
  it("refuses a session_id over its rate with scope=session and the wait in ms", () => {
    const clock = createManualClock(5_000_000);
    const check = createInitRateCheck(
      { initPerCaller: roomy, initPerSession: { burst: 2, perSecond: 0.5 } },
      clock.now,
    );
    expect(attempt(check, "key:a", "s1")).toBe("ok");
    expect(attempt(check, "key:a", "s1")).toBe("ok");
    expect(attempt(check, "key:a", "s1")).toEqual({
      reason: "INIT_RATE_LIMITED",
      errorClass: "resource_exhausted",
      metadata: { scope: "session", retry_after_ms: "2000" },
    });
    // The session_id is limited for every caller; other session_ids are not.
    expect(attempt(check, "key:b", "s1")).toMatchObject({ metadata: { scope: "session" } });
    expect(attempt(check, "key:a", "s2")).toBe("ok");
    clock.advance(2_000);
    expect(attempt(check, "key:a", "s1")).toBe("ok");
  });

  it("refuses a caller over its rate with scope=caller, whatever the session_id", () => {
    const clock = createManualClock(5_000_000);
    const check = createInitRateCheck(
      { initPerCaller: { burst: 2, perSecond: 4 }, initPerSession: roomy },
      clock.now,
    );
    expect(attempt(check, "key:a", "s1")).toBe("ok");
    expect(attempt(check, "key:a", "s2")).toBe("ok");
    expect(attempt(check, "key:a", "s3")).toEqual({
      reason: "INIT_RATE_LIMITED",
      errorClass: "resource_exhausted",
      metadata: { scope: "caller", retry_after_ms: "250" },
    });
    expect(attempt(check, "key:b", "s3")).toBe("ok");
    clock.advance(249);
    const almost = attempt(check, "key:a", "s3");
    expect(almost).toMatchObject({ metadata: { scope: "caller" } });
    // 1 ms to go; rounding may make the hint a millisecond longer, never shorter.
    const hint = Number((almost as { metadata: Record<string, string> }).metadata.retry_after_ms);
    expect(hint).toBeGreaterThanOrEqual(1);
    expect(hint).toBeLessThanOrEqual(2);
    clock.advance(1);
    expect(attempt(check, "key:a", "s3")).toBe("ok");
  });

  it("does not charge a session_id for an Init its caller's rate refused", () => {
    const clock = createManualClock(5_000_000);
    const check = createInitRateCheck(
      {
        initPerCaller: { burst: 1, perSecond: 0.001 },
        initPerSession: { burst: 2, perSecond: 0.001 },
      },
      clock.now,
    );
    expect(attempt(check, "key:a", "victim")).toBe("ok");
    // key:a is over its own rate: however often it tries, "victim" keeps its last token.
    for (let i = 0; i < 5; i++) {
      expect(attempt(check, "key:a", "victim")).toMatchObject({ metadata: { scope: "caller" } });
    }
    expect(attempt(check, "key:b", "victim")).toBe("ok");
    expect(attempt(check, "key:c", "victim")).toMatchObject({ metadata: { scope: "session" } });
  });

  it("uses the real clock when none is given", () => {
    const check = createInitRateCheck({
      initPerCaller: { burst: 1, perSecond: 0.001 },
      initPerSession: roomy,
    });
    expect(attempt(check, "c", "s1")).toBe("ok");
    const refused = attempt(check, "c", "s2");
    expect(refused).toMatchObject({ metadata: { scope: "caller" } });
    const wait = Number((refused as { metadata: Record<string, string> }).metadata.retry_after_ms);
    expect(wait).toBeGreaterThan(990_000);
    expect(wait).toBeLessThanOrEqual(1_000_000);
  });
});
