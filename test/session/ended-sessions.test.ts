import { describe, expect, it } from "vitest";
import type { ServiceError } from "../../src/errors.js";
import { digest } from "../../src/session/digest.js";
import { createEndedSessions } from "../../src/session/ended-sessions.js";
import { createManualClock } from "../support/manual-clock.js";

/** What a caller sees of the error: reason, class and metadata. */
function seen(error: ServiceError | undefined) {
  return error && { reason: error.reason, errorClass: error.errorClass, metadata: error.metadata };
}

const token = digest("header.payload.signature");
const otherToken = digest("header.payload.other");

describe("createEndedSessions", () => {
  it("tells the token holder that an idle session expired, and why", () => {
    const ended = createEndedSessions({ now: createManualClock(10_000_000).now });
    ended.add("s1", token, "idle_timeout");
    expect(seen(ended.errorFor("s1", token))).toEqual({
      reason: "SESSION_EXPIRED",
      errorClass: "not_found",
      metadata: { why: "idle_timeout" },
    });
  });

  it("tells the token holder that a session reached its lifetime", () => {
    const ended = createEndedSessions({ now: createManualClock(10_000_000).now });
    ended.add("s1", token, "max_lifetime");
    expect(seen(ended.errorFor("s1", token))).toEqual({
      reason: "SESSION_EXPIRED",
      errorClass: "not_found",
      metadata: { why: "max_lifetime" },
    });
  });

  it("tells the token holder that the session's token expired", () => {
    const ended = createEndedSessions({ now: createManualClock(10_000_000).now });
    ended.add("s1", token, "token_expired");
    expect(seen(ended.errorFor("s1", token))).toMatchObject({
      reason: "TOKEN_EXPIRED",
      errorClass: "unauthenticated",
    });
  });

  it("tells nothing to a caller with another token, and still tells the holder", () => {
    const ended = createEndedSessions({ now: createManualClock(10_000_000).now });
    ended.add("s1", token, "idle_timeout");
    expect(ended.errorFor("s1", otherToken)).toBeUndefined();
    expect(ended.errorFor("s1", digest(""))).toBeUndefined();
    expect(ended.errorFor("s1", token)?.reason).toBe("SESSION_EXPIRED");
  });

  it("tells nothing about sessions it never saw", () => {
    const ended = createEndedSessions({ now: createManualClock(10_000_000).now });
    ended.add("s1", token, "idle_timeout");
    expect(ended.errorFor("s2", token)).toBeUndefined();
  });

  it("keeps an entry for ttlMs, then forgets it", () => {
    const clock = createManualClock(10_000_000);
    const ended = createEndedSessions({ now: clock.now, ttlMs: 60_000 });
    ended.add("s1", token, "max_lifetime");
    clock.advance(59_999);
    expect(ended.errorFor("s1", token)?.reason).toBe("SESSION_EXPIRED");
    clock.advance(1);
    expect(ended.errorFor("s1", token)).toBeUndefined();
    // Forgotten for good, not only hidden at that instant.
    clock.advance(-1);
    expect(ended.errorFor("s1", token)).toBeUndefined();
  });

  it("restarts the ttl and takes the new reason when a session ends again", () => {
    const clock = createManualClock(10_000_000);
    const ended = createEndedSessions({ now: clock.now, ttlMs: 60_000 });
    ended.add("s1", token, "idle_timeout");
    clock.advance(50_000);
    ended.add("s1", otherToken, "token_expired");
    clock.advance(50_000);
    expect(ended.errorFor("s1", token)).toBeUndefined();
    expect(ended.errorFor("s1", otherToken)?.reason).toBe("TOKEN_EXPIRED");
  });

  it("forgets a deleted session", () => {
    const ended = createEndedSessions({ now: createManualClock(10_000_000).now });
    ended.add("s1", token, "idle_timeout");
    ended.add("s2", token, "idle_timeout");
    ended.delete("s1");
    ended.delete("never-added");
    expect(ended.errorFor("s1", token)).toBeUndefined();
    expect(ended.errorFor("s2", token)?.reason).toBe("SESSION_EXPIRED");
  });

  it("holds at most maxEntries, dropping the oldest", () => {
    const ended = createEndedSessions({ now: createManualClock(10_000_000).now, maxEntries: 2 });
    ended.add("a", token, "idle_timeout");
    ended.add("b", token, "idle_timeout");
    // Ending "a" again makes "b" the oldest.
    ended.add("a", token, "max_lifetime");
    ended.add("c", token, "idle_timeout");
    expect(ended.errorFor("a", token)?.metadata).toEqual({ why: "max_lifetime" });
    expect(ended.errorFor("b", token)).toBeUndefined();
    expect(ended.errorFor("c", token)?.reason).toBe("SESSION_EXPIRED");
  });
});
