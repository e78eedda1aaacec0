import { ServiceError } from "../errors.js";
import type { SessionEndWhy } from "../log/audit.js";

/** The bearer is missing or is not the session's JWT. */
export function credentialsMismatch(): ServiceError {
  return new ServiceError(
    "SESSION_CREDENTIALS_MISMATCH",
    "The request must carry the session's JWT as 'authorization: Bearer <token>'.",
  );
}

/** No session has the id. */
export function sessionNotFound(): ServiceError {
  return new ServiceError("SESSION_NOT_FOUND", "No session has this id; call Init first.");
}

/**
 * The wait suggested with `SESSION_LIMIT_REACHED`: sessions free up when
 * their users close them or they end, which no one can predict exactly.
 */
const sessionLimitRetryMs = 5_000;

/** RESOURCE_EXHAUSTED: the service holds `maxSessions` sessions. */
export function sessionLimitReached(maxSessions: number): ServiceError {
  return new ServiceError(
    "SESSION_LIMIT_REACHED",
    "This server holds as many sessions as it may; retry later or on another instance.",
    {
      metadata: {
        max_sessions: String(maxSessions),
        retry_after_ms: String(sessionLimitRetryMs),
      },
    },
  );
}

/** The session's JWT has expired since Init. */
export function sessionTokenExpired(): ServiceError {
  return new ServiceError(
    "TOKEN_EXPIRED",
    "The session's JWT has expired; call Init with a new one.",
  );
}

/** The error for work refused or ended because the server is shutting down. */
export function shuttingDown(): ServiceError {
  return new ServiceError(
    "SERVER_SHUTTING_DOWN",
    "The server is shutting down; retry on another instance.",
  );
}

/** NOT_FOUND: the session was closed while the request ran. */
function sessionClosed(): ServiceError {
  return new ServiceError("SESSION_NOT_FOUND", "The session was closed while the call ran.");
}

/** NOT_FOUND `SESSION_EXPIRED`: the service ended the session at its idle timeout or lifetime. */
function sessionExpired(why: "idle_timeout" | "max_lifetime"): ServiceError {
  const after = why === "idle_timeout" ? "it was idle too long" : "it reached its lifetime";
  return new ServiceError(
    "SESSION_EXPIRED",
    `The session ended because ${after}; call Init to open it again.`,
    { metadata: { why } },
  );
}

/**
 * Why a session ended, as its holder learns it: a request still running
 * then, or a later call by the holder of its token (see EndedSessions).
 * `SERVER_SHUTTING_DOWN`, `TOKEN_EXPIRED`, `SESSION_EXPIRED` with `why`
 * (idle timeout, lifetime), or `SESSION_NOT_FOUND` (closed, evicted).
 */
export function sessionEnded(why: SessionEndWhy): ServiceError {
  switch (why) {
    case "shutdown":
      return shuttingDown();
    case "token_expired":
      return sessionTokenExpired();
    case "idle_timeout":
    case "max_lifetime":
      return sessionExpired(why);
    case "closed":
    case "evicted":
      return sessionClosed();
  }
}
