import { parseApiUrl } from "../credentials/api-url.js";
import type { CredentialCheck } from "../credentials/credential-check.js";
import { checkJwtFormat } from "../credentials/jwt-format.js";
import { ServiceError } from "../errors.js";
import { withLinkedSignal } from "../linked-signal.js";
import type { AuditLog } from "../log/audit.js";
import type { Logger } from "../log/logger.js";
import type { SessionClients } from "../mcp/session-clients.js";
import type { StartSessionClients } from "../mcp/start-session-clients.js";
import { digest, digestsEqual } from "./digest.js";
import { createInitQueue } from "./init-queue.js";
import { checkInitInput, checkSessionId, type InitInput } from "./init-request.js";
import {
  credentialsMismatch,
  sessionNotFound,
  sessionServerExited,
  sessionTokenExpired,
  shuttingDown,
} from "./session-errors.js";
import type { SessionRecord, SessionRegistry } from "./session-registry.js";

/**
 * The wait suggested with `SESSION_LIMIT_REACHED`: sessions free up when
 * their users close them or their tokens expire, which no one can predict.
 */
export const sessionLimitRetryMs = 5_000;

/** What the session manager is built from. */
export interface SessionManagerDeps {
  readonly registry: SessionRegistry;
  readonly checkCredentials: CredentialCheck;
  readonly startClients: StartSessionClients;
  readonly logger: Logger;
  readonly now?: () => number;
  /** Throws `INIT_RATE_LIMITED` when a caller or a session_id calls Init too often. */
  readonly checkInitRate?: (callerId: string, sessionId: string) => void;
  /** Most sessions with live MCP clients; Init of a new one past it is `SESSION_LIMIT_REACHED`. */
  readonly maxSessions?: number;
  /** Receives the audit events: Inits, replacements, closes, lost servers, tool calls. */
  readonly audit?: AuditLog;
}

/** Opens, finds, authorizes and closes sessions. Owns every session's MCP clients. */
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
   * `SESSION_CREDENTIALS_MISMATCH`, `SESSION_NOT_FOUND`, `TOKEN_EXPIRED`,
   * `MCP_SERVER_EXITED`, `SERVER_SHUTTING_DOWN`.
   */
  open(sessionId: string, bearer: string | undefined): Promise<SessionClients>;
  /**
   * Closes a session, after any Init of it under way has settled; false when
   * there was none. Needs the bearer when there is one.
   */
  close(sessionId: string, bearer: string | undefined): Promise<boolean>;
  /** From now on refuses Init and open with `SERVER_SHUTTING_DOWN`. */
  drain(): void;
  /** Drains, aborts Inits under way, and closes every session. */
  closeAll(): Promise<void>;
  /** The number of sessions with live clients. */
  readonly size: number;
}

interface LiveSession {
  record: SessionRecord;
  readonly clients: SessionClients;
  /** Kept here, not in the record, so that a call does not copy the record. */
  lastUsedAtMs: number;
}

/** Creates the session manager. Live clients stay in this process; records go to the registry. */
export function createSessionManager(deps: SessionManagerDeps): SessionManager {
  const { registry, logger } = deps;
  const audit: AuditLog = deps.audit ?? (() => {});
  const now = deps.now ?? Date.now;
  const live = new Map<string, LiveSession>();
  const queue = createInitQueue();
  const lifetime = new AbortController();
  const maxSessions = deps.maxSessions ?? Number.POSITIVE_INFINITY;
  let draining = false;
  // Session ids with an Init under way (never evicted, since that Init will
  // keep them), each marked whether it was new, i.e. counts against maxSessions.
  const creating = new Map<string, boolean>();
  const occupied = () => live.size + [...creating.values()].filter(Boolean).length;

  const expired = (record: SessionRecord) =>
    record.expiresAtMs !== undefined && record.expiresAtMs <= now();

  async function create(input: InitInput, credentialDigest: string, runSignal: AbortSignal) {
    const log = logger.child({ session_id: input.sessionId });
    const apiUrl = parseApiUrl(input.apiUrl);
    const { expiresAtMs } = checkJwtFormat(input.jwtToken, now());
    const isNew = !live.has(input.sessionId);
    if (isNew && occupied() >= maxSessions) await evictStale();
    if (isNew && occupied() >= maxSessions) {
      throw new ServiceError(
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
    log.info("validating credentials");
    creating.set(input.sessionId, isNew);
    try {
      return await createValidated(input, credentialDigest, runSignal, apiUrl, expiresAtMs);
    } finally {
      creating.delete(input.sessionId);
    }
  }

  async function createValidated(
    input: InitInput,
    credentialDigest: string,
    runSignal: AbortSignal,
    apiUrl: URL,
    expiresAtMs: number | undefined,
  ) {
    const log = logger.child({ session_id: input.sessionId });
    return withLinkedSignal([lifetime.signal, runSignal], async (signal) => {
      await deps.checkCredentials(apiUrl, input.jwtToken, signal);
      log.info("credentials validated");
      const credentials = { sessionId: input.sessionId, apiUrl, jwtToken: input.jwtToken };
      const clients = await deps.startClients(credentials, signal);
      const at = now();
      const record: SessionRecord = {
        sessionId: input.sessionId,
        credentialDigest,
        tokenDigest: digest(input.jwtToken),
        state: "active",
        servers: clients.servers,
        createdAtMs: at,
        lastUsedAtMs: at,
        ...(expiresAtMs === undefined ? {} : { expiresAtMs }),
      };
      try {
        // Nobody waits any more, or the server is stopping: keep nothing.
        if (signal.aborted) throw signal.reason;
        await registry.put(record);
      } catch (error) {
        await clients.close();
        throw error;
      }
      const previous = live.get(input.sessionId);
      const session: LiveSession = { record, clients, lastUsedAtMs: at };
      live.set(input.sessionId, session);
      clients.onLost = (server) => markLost(session, server);
      clients.onToolCall = (call) =>
        audit({
          event: "tool_called",
          session_id: input.sessionId,
          server: call.server,
          tool: call.tool,
          duration_ms: call.durationMs,
          outcome: call.outcome,
          arguments: call.args,
        });
      log.info({ servers: clients.servers }, "MCP manager started");
      if (previous) {
        log.info("session replaced: previous MCP clients closed");
        audit({ event: "session_replaced", session_id: input.sessionId });
        await previous.clients.close();
      }
      return { reused: false };
    });
  }

  function reuse(input: InitInput, credentialDigest: string): { reused: boolean } | undefined {
    const session = live.get(input.sessionId);
    if (session?.record.state !== "active" || session.clients.lost) return undefined;
    if (!digestsEqual(session.record.credentialDigest, credentialDigest)) return undefined;
    if (expired(session.record)) return undefined;
    session.lastUsedAtMs = now();
    logger.info({ session_id: input.sessionId }, "session reused");
    return { reused: true };
  }

  function markLost(session: LiveSession, server: string): void {
    const { sessionId } = session.record;
    session.record = { ...session.record, state: "inactive", lastUsedAtMs: session.lastUsedAtMs };
    logger.warn({ session_id: sessionId, server }, "MCP server exited: session marked inactive");
    audit({ event: "session_lost", session_id: sessionId, server });
    const current = live.get(sessionId) === session;
    Promise.all([
      session.clients.close(),
      current ? registry.put(session.record) : undefined,
    ]).catch((error: unknown) =>
      logger.error({ session_id: sessionId, err: error }, "cleanup failed"),
    );
  }

  // At the cap, sessions nobody can use any more (a server went away, or
  // the JWT expired) make room; active ones are never evicted.
  async function evictStale(): Promise<void> {
    const stale = [...live.values()].filter(
      (s) =>
        !creating.has(s.record.sessionId) &&
        (s.record.state !== "active" || s.clients.lost || expired(s.record)),
    );
    await Promise.allSettled(stale.map((s) => forget(s, "evicted")));
  }

  async function forget(
    session: LiveSession,
    why: "closed" | "shutdown" | "evicted",
  ): Promise<void> {
    const { sessionId } = session.record;
    if (live.get(sessionId) === session) live.delete(sessionId);
    try {
      await registry.delete(sessionId);
    } finally {
      await session.clients.close();
      logger.info({ session_id: sessionId, why }, "session closed");
      audit({ event: "session_closed", session_id: sessionId, why });
    }
  }

  return {
    get size() {
      return live.size;
    },
    async init(input, signal, callerId = "anonymous") {
      checkInitInput(input);
      if (draining) throw shuttingDown();
      const credentialDigest = digest(input.apiUrl, input.jwtToken);
      try {
        deps.checkInitRate?.(callerId, input.sessionId);
        const outcome = await queue.run(
          input.sessionId,
          credentialDigest,
          signal,
          async (runSignal) => {
            return (
              reuse(input, credentialDigest) ?? (await create(input, credentialDigest, runSignal))
            );
          },
        );
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
    async open(sessionId, bearer) {
      checkSessionId(sessionId);
      if (draining) throw shuttingDown();
      if (bearer === undefined || bearer === "") throw credentialsMismatch();
      const session = live.get(sessionId);
      if (!session) throw sessionNotFound();
      if (!digestsEqual(session.record.tokenDigest, digest(bearer))) throw credentialsMismatch();
      if (expired(session.record)) throw sessionTokenExpired();
      if (session.record.state !== "active" || session.clients.lost) throw sessionServerExited();
      session.lastUsedAtMs = now();
      return session.clients;
    },
    async close(sessionId, bearer) {
      checkSessionId(sessionId);
      await queue.idle(sessionId);
      const session = live.get(sessionId);
      if (!session) return registry.delete(sessionId).then(() => false);
      if (bearer === undefined || !digestsEqual(session.record.tokenDigest, digest(bearer))) {
        throw credentialsMismatch();
      }
      await forget(session, "closed");
      return true;
    },
    drain() {
      draining = true;
    },
    async closeAll() {
      draining = true;
      lifetime.abort(shuttingDown());
      await queue.settled();
      const sessions = [...live.values()];
      await Promise.allSettled(sessions.map((s) => forget(s, "shutdown")));
    },
  };
}
