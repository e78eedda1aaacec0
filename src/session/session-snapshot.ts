import type { LostReason } from "../mcp/server-connection.js";
import type { LiveSession } from "./live-session.js";

/** One MCP server of a session, as operators see it. */
export interface ServerSnapshot {
  readonly name: string;
  /** `lost`: it went away by itself; `stopped`: the service stopped it because another was lost. */
  readonly state: "connected" | "lost" | "stopped";
  /** Why it went away, when `lost`. */
  readonly lostReason?: LostReason["why"];
}

/**
 * What operators may see of a session, copied at one moment. It never holds
 * the token, a digest, or the path or query of the session's `api_url`.
 */
export interface SessionSnapshot {
  readonly sessionId: string;
  readonly state: "active" | "inactive";
  /** In configuration order. */
  readonly servers: readonly ServerSnapshot[];
  /** The origin of the session's `api_url` (scheme, host, port). */
  readonly apiOrigin: string;
  /** When the session's current MCP clients were started (its Init, or a restart). */
  readonly createdAtMs: number;
  /** Its last Init, or the start or end of its last MCP request. */
  readonly lastUsedAtMs: number;
  /** The JWT's `exp`, when it has one. */
  readonly expiresAtMs?: number;
  /** Tools known from the last listing; 0 before the first one. */
  readonly toolCount: number;
  /** Tool calls sent to a server since `createdAtMs`. */
  readonly calls: number;
  /** MCP requests (tool calls, listings) running now. */
  readonly inFlight: number;
}

/** One page of snapshots, in ascending session id order. */
export interface SessionPage {
  readonly sessions: readonly SessionSnapshot[];
  /** Whether more sessions follow the last one of this page. */
  readonly more: boolean;
}

/** A snapshot of a live session. */
export function snapshotSession(session: LiveSession): SessionSnapshot {
  const { record, clients } = session;
  return {
    sessionId: record.sessionId,
    state: record.state,
    servers: clients.serverStatus().map(({ name, closed, lostReason }): ServerSnapshot => {
      if (lostReason !== undefined) return { name, state: "lost", lostReason: lostReason.why };
      return { name, state: closed ? "stopped" : "connected" };
    }),
    // Init accepted it as an absolute URL; its path and query stay out of sight.
    apiOrigin: new URL(session.apiUrl).origin,
    createdAtMs: record.createdAtMs,
    lastUsedAtMs: Math.max(session.lastUsedAtMs, clients.lastActiveAtMs),
    ...(record.expiresAtMs === undefined ? {} : { expiresAtMs: record.expiresAtMs }),
    toolCount: clients.knownTools,
    calls: clients.toolCalls,
    inFlight: clients.inFlight,
  };
}

/**
 * The page of `sessions` that follows `afterSessionId` (from the first when
 * undefined) in ascending session id order, at most `limit` long. Keyed by
 * id rather than by position, so sessions that come and go between pages
 * never make another one skipped or repeated.
 */
export function pageSessions(
  sessions: Iterable<LiveSession>,
  afterSessionId: string | undefined,
  limit: number,
): SessionPage {
  const following = [...sessions]
    .filter((s) => afterSessionId === undefined || s.record.sessionId > afterSessionId)
    .sort((a, b) => compareIds(a.record.sessionId, b.record.sessionId));
  return {
    sessions: following.slice(0, limit).map(snapshotSession),
    more: following.length > limit,
  };
}

// Code unit order, which for the ASCII of session ids is byte order: the
// same in every language a client pages from.
function compareIds(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
