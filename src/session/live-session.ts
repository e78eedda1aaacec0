import type { SessionClients } from "../mcp/session-clients.js";
import type { EndReason } from "./ended-sessions.js";
import type { SessionRecord } from "./session-registry.js";

/** A session whose MCP clients live in this process. */
export interface LiveSession {
  record: SessionRecord;
  readonly clients: SessionClients;
  /** Kept here, not in the record, so that a call does not copy the record. */
  lastUsedAtMs: number;
  /** As the Init gave it: restarts check the credentials against it again. */
  readonly apiUrl: string;
  /** The server whose loss made the session inactive. */
  lostServer?: string;
  /** Fires when the session may have to end (see `sessionEnd`). */
  timer?: NodeJS.Timeout;
}

/** `sessions.idleTimeoutMs` and `sessions.maxLifetimeMs`. */
export interface LifetimePolicy {
  readonly idleTimeoutMs: number;
  readonly maxLifetimeMs: number;
}

/**
 * When the session ends if nothing happens before (the earliest of its idle
 * timeout, its lifetime and its JWT's `exp`), and why it would.
 */
export function sessionEnd(
  session: LiveSession,
  policy: LifetimePolicy,
): { atMs: number; why: EndReason } {
  const ends: { atMs: number; why: EndReason }[] = [
    { atMs: session.record.createdAtMs + policy.maxLifetimeMs, why: "max_lifetime" },
    { atMs: session.lastUsedAtMs + policy.idleTimeoutMs, why: "idle_timeout" },
  ];
  const { expiresAtMs } = session.record;
  if (expiresAtMs !== undefined) ends.push({ atMs: expiresAtMs, why: "token_expired" });
  return ends.reduce((first, end) => (end.atMs < first.atMs ? end : first));
}
