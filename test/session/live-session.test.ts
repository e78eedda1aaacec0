import { describe, expect, it } from "vitest";
import type { SessionClients } from "../../src/mcp/session-clients.js";
import { type LiveSession, sessionEnd } from "../../src/session/live-session.js";

const createdAtMs = 1_000_000;
const policy = { idleTimeoutMs: 30 * 60_000, maxLifetimeMs: 12 * 3_600_000 };

/** A live session created at `createdAtMs`; sessionEnd reads only the times. */
function session(lastUsedAtMs: number, expiresAtMs?: number): LiveSession {
  return {
    record: {
      sessionId: "s1",
      credentialDigest: "c",
      tokenDigest: "t",
      state: "active",
      servers: [],
      createdAtMs,
      lastUsedAtMs: createdAtMs,
      ...(expiresAtMs === undefined ? {} : { expiresAtMs }),
    },
    clients: {} as SessionClients,
    lastUsedAtMs,
    apiUrl: "https://api.example.com",
  };
}

describe("sessionEnd", () => {
  it("ends an unused session at its idle timeout", () => {
    expect(sessionEnd(session(createdAtMs), policy)).toEqual({
      atMs: createdAtMs + policy.idleTimeoutMs,
      why: "idle_timeout",
    });
  });

  it("counts the idle timeout from the last use, not from the record's copy", () => {
    const lastUsed = createdAtMs + 3_600_000;
    expect(sessionEnd(session(lastUsed), policy)).toEqual({
      atMs: lastUsed + policy.idleTimeoutMs,
      why: "idle_timeout",
    });
  });

  it("ends a session in constant use at its lifetime", () => {
    const lastUsed = createdAtMs + policy.maxLifetimeMs - 1;
    expect(sessionEnd(session(lastUsed), policy)).toEqual({
      atMs: createdAtMs + policy.maxLifetimeMs,
      why: "max_lifetime",
    });
  });

  it("ends a session when its JWT expires first", () => {
    const expiresAtMs = createdAtMs + 60_000;
    expect(sessionEnd(session(createdAtMs, expiresAtMs), policy)).toEqual({
      atMs: expiresAtMs,
      why: "token_expired",
    });
  });

  it("ignores a JWT expiry later than the other ends", () => {
    const expiresAtMs = createdAtMs + 24 * 3_600_000;
    expect(sessionEnd(session(createdAtMs, expiresAtMs), policy)).toEqual({
      atMs: createdAtMs + policy.idleTimeoutMs,
      why: "idle_timeout",
    });
    const busy = createdAtMs + policy.maxLifetimeMs - 1;
    expect(sessionEnd(session(busy, expiresAtMs), policy)).toEqual({
      atMs: createdAtMs + policy.maxLifetimeMs,
      why: "max_lifetime",
    });
  });

  it("picks the earliest of the three whichever order they come in", () => {
    const short = { idleTimeoutMs: 1_000, maxLifetimeMs: 5_000 };
    const cases: [number, number | undefined, string][] = [
      [createdAtMs, createdAtMs + 500, "token_expired"],
      [createdAtMs, createdAtMs + 2_000, "idle_timeout"],
      [createdAtMs + 4_500, createdAtMs + 6_000, "max_lifetime"],
      [createdAtMs + 4_500, createdAtMs + 4_900, "token_expired"],
      [createdAtMs + 3_000, undefined, "idle_timeout"],
    ];
    for (const [lastUsed, expiresAtMs, why] of cases) {
      expect(sessionEnd(session(lastUsed, expiresAtMs), short).why).toBe(why);
    }
  });
});
