import { setMaxListeners } from "node:events";
import type { Tracer } from "@opentelemetry/api";
import { parseApiUrl } from "../credentials/api-url.js";
import type { CredentialCheck } from "../credentials/credential-check.js";
import { checkJwtFormat } from "../credentials/jwt-format.js";
import { ServiceError } from "../errors.js";
import { withLinkedSignal } from "../linked-signal.js";
import type { AuditLog } from "../log/audit.js";
import type { Logger } from "../log/logger.js";
import type { SessionClients } from "../mcp/session-clients.js";
import type { StartSessionClients } from "../mcp/start-session-clients.js";
import type { ProcessReservation } from "../process/process-budget.js";
import { inSpan } from "../tracing/in-span.js";
import { noopTracer } from "../tracing/noop-tracer.js";
import { createCrashBudget, type RestartPolicy } from "./crash-budget.js";
import { digest, digestsEqual } from "./digest.js";
import { createEndedSessions } from "./ended-sessions.js";
import { createInitQueue } from "./init-queue.js";
import { checkInitInput, checkSessionId, type InitInput } from "./init-request.js";
import type { LifetimePolicy } from "./live-session.js";
import {
  credentialsMismatch,
  sessionLimitReached,
  sessionNotFound,
  sessionTokenExpired,
  shuttingDown,
} from "./session-errors.js";
import type { SessionRegistry } from "./session-registry.js";
import {
  pageSessions,
  type SessionPage,
  type SessionSnapshot,
  snapshotSession,
} from "./session-snapshot.js";
import { createSessionStart } from "./session-start.js";
import { createSessionTable } from "./session-table.js";

/** What the session manager is built from. */
export interface SessionManagerDeps {
  readonly registry: SessionRegistry;
  readonly checkCredentials: CredentialCheck;
  readonly startClients: StartSessionClients;
  readonly logger: Logger;
  /** Throws `INIT_RATE_LIMITED` when a caller or a session_id calls Init too often. */
  readonly checkInitRate?: (callerId: string, sessionId: string) => void;
  /** Most sessions with live MCP clients; Init of a new one past it is `SESSION_LIMIT_REACHED`. */
  readonly maxSessions?: number;
  /** Reserves the processes one start spawns; throws `PROCESS_LIMIT_REACHED`. */
  readonly reserveProcesses?: () => ProcessReservation;
  /** Idle timeout and lifetime (`sessions` in the config). */
  readonly lifetime: LifetimePolicy;
  /** When crashed servers may start again (`sessions.restart` in the config). */
  readonly restart: RestartPolicy;
  /** Receives the audit events: Inits, replacements, closes, lost servers, tool calls. */
  readonly audit?: AuditLog;
  /**
   * Traces Init's steps (`init.check_format`, `init.credential_check`,
   * `init.mcp_start`) under the active span. Default: noopTracer.
   */
  readonly tracer?: Tracer;
}

/** Opens, finds, authorizes, restarts and closes sessions. Owns every session's MCP clients. */
export interface SessionManager {
  /**
   * Runs the Init flow (see the SessionService contract). Resolves with
   * `reused: true` when an active, unexpired session with the same
   * credentials existed. Rejects with a ServiceError, or the abort reason of
   * `signal`. When every caller of a shared Init has gone, the Init stops and
   * leaves nothing behind. `callerId` (default `anonymous`) keys the caller's
   * Init rate.
   */
  init(input: InitInput, signal: AbortSignal, callerId?: string): Promise<{ reused: boolean }>;
  /**
   * The clients of a session whose token equals `bearer` (constant time).
   * A session whose server went away is restarted first, with a fresh
   * credential check, unless its crash budget says wait.
   * `SESSION_CREDENTIALS_MISMATCH`, `SESSION_NOT_FOUND`, `SESSION_EXPIRED`,
   * `TOKEN_EXPIRED`, `MCP_SERVER_BACKOFF`, `MCP_SERVER_CRASH_LOOP`,
   * `SERVER_SHUTTING_DOWN`, and the errors of Init for the restart.
   */
  open(sessionId: string, bearer: string | undefined, signal: AbortSignal): Promise<SessionClients>;
  /**
   * Closes a session, after any Init of it under way has settled; false when
   * there was none. Needs the bearer when there is one.
   */
  close(sessionId: string, bearer: string | undefined): Promise<boolean>;
  /** From now on refuses Init and open with `SERVER_SHUTTING_DOWN`. */
  drain(): void;
  /**
   * Drains, aborts Inits under way, and closes every session, stopping
   * processes quickly enough to be done within `budgetMs` when given.
   */
  closeAll(budgetMs?: number): Promise<void>;
  /** The number of sessions with live clients. */
  readonly size: number;
  /**
   * Read-only: snapshots of the sessions with live clients, active or
   * inactive, in ascending session id order, at most `limit`, starting after
   * `afterSessionId` when given. Nothing is touched: no session counts as used.
   */
  list(page: { afterSessionId?: string | undefined; limit: number }): SessionPage;
  /**
   * Read-only: a snapshot of one session with live clients.
   * `MISSING_PARAMETERS`, `INVALID_SESSION_ID`, `SESSION_NOT_FOUND`.
   */
  describe(sessionId: string): SessionSnapshot;
}

const noReservation: ProcessReservation = { spawned() {}, release() {} };

/** Creates the session manager. Live clients stay in this process; records go to the registry. */
export function createSessionManager(deps: SessionManagerDeps): SessionManager {
  const { registry, logger } = deps;
  const audit: AuditLog = deps.audit ?? (() => {});
  // Date.now, as the clients' lastActiveAtMs: session times are compared with it.
  const now = Date.now;
  const tracer = deps.tracer ?? noopTracer;
  const queue = createInitQueue();
  const lifetime = new AbortController();
  // Every Init under way listens to it: there is no sensible maximum.
  setMaxListeners(0, lifetime.signal);
  const maxSessions = deps.maxSessions ?? Number.POSITIVE_INFINITY;
  const crashes = createCrashBudget(deps.restart, { now });
  const ended = createEndedSessions({ now });
  const table = createSessionTable({
    registry,
    logger,
    audit,
    now,
    lifetime: deps.lifetime,
    crashes,
    ended,
  });
  const start = createSessionStart({ ...deps, audit, now, tracer, crashes, table });
  let draining = false;

  async function create(input: InitInput, credentialDigest: string, runSignal: AbortSignal) {
    const { apiUrl, expiresAtMs } = await inSpan(tracer, "init.check_format", {}, async () => ({
      apiUrl: parseApiUrl(input.apiUrl),
      ...checkJwtFormat(input.jwtToken, now()),
    }));
    const isNew = table.get(input.sessionId) === undefined;
    if (isNew && table.occupied() >= maxSessions) await table.evictStale();
    if (isNew && table.occupied() >= maxSessions) throw sessionLimitReached(maxSessions);
    crashes.check(input.sessionId);
    const reservation = deps.reserveProcesses?.() ?? noReservation;
    const doneCreating = table.startCreating(input.sessionId, isNew);
    try {
      return await withLinkedSignal([lifetime.signal, runSignal], (signal) =>
        start({ input, credentialDigest, apiUrl, expiresAtMs }, signal, reservation),
      );
    } finally {
      doneCreating();
      reservation.release();
    }
  }

  function reuse(input: InitInput, credentialDigest: string): { reused: boolean } | undefined {
    const session = table.get(input.sessionId);
    if (session === undefined || !table.usable(session)) return undefined;
    if (!digestsEqual(session.record.credentialDigest, credentialDigest)) return undefined;
    session.lastUsedAtMs = now();
    logger.info({ session_id: input.sessionId }, "session reused");
    return { reused: true };
  }

  // Runs Init, or joins the one under way with the same credentials.
  function run(input: InitInput, signal: AbortSignal): Promise<{ reused: boolean }> {
    const credentialDigest = digest(input.apiUrl, input.jwtToken);
    return queue.run(input.sessionId, credentialDigest, signal, async (runSignal) => {
      return reuse(input, credentialDigest) ?? (await create(input, credentialDigest, runSignal));
    });
  }

  return {
    get size() {
      return table.size;
    },
    list({ afterSessionId, limit }) {
      return pageSessions(table.list(), afterSessionId, limit);
    },
    describe(sessionId) {
      checkSessionId(sessionId);
      const session = table.get(sessionId);
      if (session === undefined) throw sessionNotFound();
      return snapshotSession(session);
    },
    async init(input, signal, callerId = "anonymous") {
      checkInitInput(input);
      if (draining) throw shuttingDown();
      try {
        deps.checkInitRate?.(callerId, input.sessionId);
        const outcome = await run(input, signal);
        audit({
          event: "init_accepted",
          session_id: input.sessionId,
          caller: callerId,
          ...outcome,
        });
        return outcome;
      } catch (error) {
        const failure =
          error instanceof ServiceError
            ? { reason: error.reason, error: error.message, err: error.cause }
            : { reason: signal.aborted ? "CANCELED" : "INTERNAL", err: error };
        logger.warn({ session_id: input.sessionId, ...failure }, "init failed");
        const { reason } = failure;
        audit({ event: "init_rejected", session_id: input.sessionId, caller: callerId, reason });
        throw error;
      }
    },
    async open(sessionId, bearer, signal) {
      checkSessionId(sessionId);
      if (draining) throw shuttingDown();
      if (bearer === undefined || bearer === "") throw credentialsMismatch();
      const bearerDigest = digest(bearer);
      const session = table.get(sessionId);
      if (!session) throw ended.errorFor(sessionId, bearerDigest) ?? sessionNotFound();
      if (!digestsEqual(session.record.tokenDigest, bearerDigest)) throw credentialsMismatch();
      const at = now();
      const { expiresAtMs } = session.record;
      if (expiresAtMs !== undefined && expiresAtMs <= at) throw sessionTokenExpired();
      if (table.usable(session)) {
        session.lastUsedAtMs = at;
        return session.clients;
      }
      // The holder of the token is back: restart the session's servers.
      await run({ sessionId, apiUrl: session.apiUrl, jwtToken: bearer }, signal);
      const restarted = table.get(sessionId);
      if (restarted === undefined || !table.usable(restarted)) throw sessionNotFound();
      return restarted.clients;
    },
    async close(sessionId, bearer) {
      checkSessionId(sessionId);
      await queue.idle(sessionId);
      const session = table.get(sessionId);
      if (!session) return registry.delete(sessionId).then(() => false);
      if (bearer === undefined || !digestsEqual(session.record.tokenDigest, digest(bearer))) {
        throw credentialsMismatch();
      }
      await table.forget(session, "closed");
      return true;
    },
    drain() {
      draining = true;
    },
    async closeAll(budgetMs) {
      const started = performance.now();
      draining = true;
      lifetime.abort(shuttingDown());
      await queue.settled();
      await table.closeAll(
        budgetMs === undefined ? undefined : budgetMs - (performance.now() - started),
      );
    },
  };
}
