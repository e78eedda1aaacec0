import type { AuditLog, SessionEndWhy } from "../log/audit.js";
import type { Logger } from "../log/logger.js";
import type { LostReason } from "../mcp/server-connection.js";
import type { CrashBudget } from "./crash-budget.js";
import type { EndedSessions, EndReason } from "./ended-sessions.js";
import { type LifetimePolicy, type LiveSession, sessionEnd } from "./live-session.js";
import { sessionEnded } from "./session-errors.js";
import type { SessionRegistry } from "./session-registry.js";

// At shutdown a stdio server gets at most this long after stdin closes, and again after SIGTERM.
const shutdownStopGraceMs = 500;
// What closing takes besides those two waits: the SIGKILL, reaping, the log.
const shutdownStopSlackMs = 150;
// When an Init of a session that is due to end is under way, look again this much later.
const busyRecheckMs = 1_000;
// setTimeout's longest delay; a later end is looked at again then.
const maxTimerMs = 2_147_483_647;

/** What the table is built from. */
export interface SessionTableDeps {
  readonly registry: SessionRegistry;
  readonly logger: Logger;
  readonly audit: AuditLog;
  readonly now: () => number;
  readonly lifetime: LifetimePolicy;
  readonly crashes: CrashBudget;
  readonly ended: EndedSessions;
}

/**
 * The live sessions of this process and their lifecycle: each is closed at
 * its idle timeout, lifetime or JWT `exp` (whichever comes first), marked
 * inactive when a server goes away, and evicted at the session cap only
 * when nobody can use it any more.
 */
export interface SessionTable {
  get(sessionId: string): LiveSession | undefined;
  /** Every session with live clients (active or inactive), in no particular order. */
  list(): LiveSession[];
  /** Sessions with live clients. */
  readonly size: number;
  /** Live sessions plus new ones being created: what counts against `maxSessions`. */
  occupied(): number;
  /** Marks an Init under way; `isNew` when it would add a session. Returns the unmark. */
  startCreating(sessionId: string, isNew: boolean): () => void;
  /** Stores a started session (replacing any previous one, which the caller closes) and arms its timer. */
  add(session: LiveSession): void;
  /** Whether a session can serve calls: active, no server lost, token not expired. */
  usable(session: LiveSession): boolean;
  /** Removes and closes a session. */
  forget(session: LiveSession, why: SessionEndWhy): Promise<void>;
  /** Closes the sessions nobody can use any more, to make room. */
  evictStale(): Promise<void>;
  /**
   * Stops the timers and closes every session, stopping stdio servers
   * quickly enough to be done within `budgetMs` (at shutdown).
   */
  closeAll(budgetMs?: number): Promise<void>;
}

/** Creates an empty table. */
export function createSessionTable(deps: SessionTableDeps): SessionTable {
  const { registry, logger, audit, now, lifetime, crashes, ended } = deps;
  const live = new Map<string, LiveSession>();
  // Session ids with an Init under way (never evicted, since that Init will
  // keep them), each marked whether it was new, i.e. counts against maxSessions.
  const creating = new Map<string, boolean>();
  let closing = false;

  const expired = (session: LiveSession) =>
    session.record.expiresAtMs !== undefined && session.record.expiresAtMs <= now();
  const usable = (session: LiveSession) =>
    session.record.state === "active" && !session.clients.lost && !expired(session);

  // One timer per session, armed for its earliest possible end; when it
  // fires early (the session was used since), it is armed again.
  function schedule(session: LiveSession, minDelayMs = 0): void {
    clearTimeout(session.timer);
    const { atMs } = sessionEnd(session, lifetime);
    const delay = Math.min(Math.max(minDelayMs, atMs - now()), maxTimerMs);
    session.timer = setTimeout(() => endIfDue(session), delay);
    session.timer.unref();
  }

  function endIfDue(session: LiveSession): void {
    if (live.get(session.record.sessionId) !== session || closing) return;
    // Idle time counts from the end of the last call; a call still running keeps the session.
    const { clients } = session;
    session.lastUsedAtMs = Math.max(session.lastUsedAtMs, clients.lastActiveAtMs);
    if (clients.inFlight > 0) session.lastUsedAtMs = now();
    const { atMs, why } = sessionEnd(session, lifetime);
    if (atMs > now()) {
      schedule(session);
    } else if (creating.has(session.record.sessionId)) {
      // An Init under way for the session decides its fate.
      schedule(session, busyRecheckMs);
    } else {
      end(session, why);
    }
  }

  function end(session: LiveSession, why: EndReason): void {
    const { sessionId, tokenDigest } = session.record;
    ended.add(sessionId, tokenDigest, why);
    forget(session, why).catch((error: unknown) =>
      logger.error({ session_id: sessionId, err: error }, "cleanup failed"),
    );
  }

  function markLost(session: LiveSession, server: string, why: LostReason["why"]): void {
    const { sessionId } = session.record;
    session.record = { ...session.record, state: "inactive", lastUsedAtMs: session.lastUsedAtMs };
    session.lostServer = server;
    crashes.record(sessionId);
    logger.warn({ session_id: sessionId, server, why }, "MCP server lost: session marked inactive");
    audit({ event: "session_lost", session_id: sessionId, server, why });
    const current = live.get(sessionId) === session;
    Promise.all([
      session.clients.close(),
      current ? registry.put(session.record) : undefined,
    ]).catch((error: unknown) =>
      logger.error({ session_id: sessionId, err: error }, "cleanup failed"),
    );
  }

  async function forget(session: LiveSession, why: SessionEndWhy, graceMs?: number): Promise<void> {
    const { sessionId } = session.record;
    clearTimeout(session.timer);
    if (live.get(sessionId) === session) live.delete(sessionId);
    try {
      await registry.delete(sessionId);
    } finally {
      // A request still running fails with why the session ended.
      await session.clients.close(graceMs, sessionEnded(why));
      logger.info({ session_id: sessionId, why }, "session closed");
      audit({ event: "session_closed", session_id: sessionId, why });
    }
  }

  return {
    get: (sessionId) => live.get(sessionId),
    list: () => [...live.values()],
    get size() {
      return live.size;
    },
    occupied: () => live.size + [...creating.values()].filter(Boolean).length,
    startCreating(sessionId, isNew) {
      creating.set(sessionId, isNew);
      return () => creating.delete(sessionId);
    },
    add(session) {
      const { sessionId } = session.record;
      const previous = live.get(sessionId);
      if (previous) clearTimeout(previous.timer);
      live.set(sessionId, session);
      ended.delete(sessionId);
      session.clients.onLost = (server, reason) => markLost(session, server, reason.why);
      schedule(session);
    },
    usable,
    forget,
    async evictStale() {
      const stale = [...live.values()].filter(
        (s) => !creating.has(s.record.sessionId) && !usable(s),
      );
      await Promise.allSettled(stale.map((s) => forget(s, "evicted")));
    },
    async closeAll(budgetMs = Number.POSITIVE_INFINITY) {
      closing = true;
      const fit = Math.floor((budgetMs - shutdownStopSlackMs) / 2);
      const graceMs = Math.max(10, Math.min(shutdownStopGraceMs, fit));
      await Promise.allSettled([...live.values()].map((s) => forget(s, "shutdown", graceMs)));
    },
  };
}
