import type { ServiceError } from "../errors.js";
import { setNewest } from "../limits/bounded-map.js";
import type { SessionEndWhy } from "../log/audit.js";
import { digestsEqual } from "./digest.js";
import { sessionEnded } from "./session-errors.js";

/** Why the service ended a session on its own. */
export type EndReason = Extract<SessionEndWhy, "idle_timeout" | "max_lifetime" | "token_expired">;

/**
 * Remembers sessions the service ended on its own, so that their holder
 * learns why instead of a bare `SESSION_NOT_FOUND`. Entries are kept for
 * `ttlMs`, at most `maxEntries` of them (the oldest go first).
 */
export interface EndedSessions {
  add(sessionId: string, tokenDigest: string, why: EndReason): void;
  /** Forgets a session (a new Init opened it again). */
  delete(sessionId: string): void;
  /**
   * The error for a call to an ended session by the holder of its token:
   * UNAUTHENTICATED `TOKEN_EXPIRED`, or NOT_FOUND `SESSION_EXPIRED` with
   * `why`. Undefined for anyone else, or when nothing is remembered.
   */
  errorFor(sessionId: string, bearerDigest: string): ServiceError | undefined;
}

/** Creates the memory of ended sessions. */
export function createEndedSessions(
  options: { now?: () => number; ttlMs?: number; maxEntries?: number } = {},
): EndedSessions {
  const now = options.now ?? Date.now;
  const ttlMs = options.ttlMs ?? 3_600_000;
  const maxEntries = options.maxEntries ?? 10_000;
  const ended = new Map<string, { tokenDigest: string; why: EndReason; atMs: number }>();
  return {
    add(sessionId, tokenDigest, why) {
      setNewest(ended, sessionId, { tokenDigest, why, atMs: now() }, maxEntries);
    },
    delete(sessionId) {
      ended.delete(sessionId);
    },
    errorFor(sessionId, bearerDigest) {
      const entry = ended.get(sessionId);
      if (entry === undefined) return undefined;
      if (entry.atMs + ttlMs <= now()) {
        ended.delete(sessionId);
        return undefined;
      }
      if (!digestsEqual(entry.tokenDigest, bearerDigest)) return undefined;
      return sessionEnded(entry.why);
    },
  };
}
