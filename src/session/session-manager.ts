import { parseApiUrl } from "../credentials/api-url.js";
import type { CredentialCheck } from "../credentials/credential-check.js";
import { checkJwtFormat } from "../credentials/jwt-format.js";
import { ServiceError } from "../errors.js";
import type { Logger } from "../log/logger.js";
import type { SessionClients } from "../mcp/session-clients.js";
import type { StartSessionClients } from "../mcp/start-session-clients.js";
import { digest, digestsEqual } from "./digest.js";
import { createInitQueue } from "./init-queue.js";
import { checkInitInput, checkSessionId, type InitInput } from "./init-request.js";
import type { SessionRecord, SessionRegistry } from "./session-registry.js";

/** What the session manager is built from. */
export interface SessionManagerDeps {
  readonly registry: SessionRegistry;
  readonly checkCredentials: CredentialCheck;
  readonly startClients: StartSessionClients;
  readonly logger: Logger;
  readonly now?: () => number;
}

/** Opens, finds, authorizes and closes sessions. Owns every session's MCP clients. */
export interface SessionManager {
  /**
   * Runs the Init flow (see the SessionService contract). Resolves with
   * `reused: true` when an active session with the same credentials existed.
   * Rejects with a ServiceError, or the abort reason of `signal`.
   */
  init(input: InitInput, signal: AbortSignal): Promise<{ reused: boolean }>;
  /**
   * The clients of a session whose token equals `bearer` (constant time).
   * `SESSION_CREDENTIALS_MISMATCH`, `SESSION_NOT_FOUND`, `MCP_SERVER_EXITED`.
   */
  open(sessionId: string, bearer: string | undefined): Promise<SessionClients>;
  /** Closes a session; false when there was none. Needs the bearer when there is one. */
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
}

/** Creates the session manager. Live clients stay in this process; records go to the registry. */
export function createSessionManager(deps: SessionManagerDeps): SessionManager {
  const { registry, logger } = deps;
  const now = deps.now ?? Date.now;
  const live = new Map<string, LiveSession>();
  const queue = createInitQueue();
  const lifetime = new AbortController();
  let draining = false;

  async function create(input: InitInput, credentialDigest: string): Promise<{ reused: boolean }> {
    const log = logger.child({ session_id: input.sessionId });
    const apiUrl = parseApiUrl(input.apiUrl);
    checkJwtFormat(input.jwtToken, now());
    log.info("validating credentials");
    const clients = await untilShutdown(async (signal) => {
      await deps.checkCredentials(apiUrl, input.jwtToken, signal);
      log.info("credentials validated");
      return deps.startClients(
        { sessionId: input.sessionId, apiUrl, jwtToken: input.jwtToken },
        signal,
      );
    });
    if (lifetime.signal.aborted) {
      await clients.close();
      throw shuttingDown();
    }
    const at = now();
    const record: SessionRecord = {
      sessionId: input.sessionId,
      credentialDigest,
      tokenDigest: digest(input.jwtToken),
      state: "active",
      servers: clients.servers,
      createdAtMs: at,
      lastUsedAtMs: at,
    };
    const previous = live.get(input.sessionId);
    const session: LiveSession = { record, clients };
    live.set(input.sessionId, session);
    clients.onLost = (server) => void markLost(session, server);
    await registry.put(record);
    log.info({ servers: clients.servers }, "MCP manager started");
    if (previous) {
      log.info("session replaced: previous MCP clients closed");
      await previous.clients.close();
    }
    return { reused: false };
  }

  // Each Init gets its own signal, tied to shutdown only while it runs, so
  // listeners that downstream code leaves on it go away with it.
  async function untilShutdown<T>(run: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const controller = new AbortController();
    const onShutdown = () => controller.abort(lifetime.signal.reason);
    if (lifetime.signal.aborted) onShutdown();
    lifetime.signal.addEventListener("abort", onShutdown, { once: true });
    try {
      return await run(controller.signal);
    } catch (error) {
      // Downstream code reports its own abort (CANCELED); shutdown is the truer cause.
      throw controller.signal.aborted ? controller.signal.reason : error;
    } finally {
      lifetime.signal.removeEventListener("abort", onShutdown);
    }
  }

  function reuse(input: InitInput, credentialDigest: string): { reused: boolean } | undefined {
    const session = live.get(input.sessionId);
    if (session?.record.state !== "active" || session.clients.lost) return undefined;
    if (!digestsEqual(session.record.credentialDigest, credentialDigest)) return undefined;
    session.record = { ...session.record, lastUsedAtMs: now() };
    logger.info({ session_id: input.sessionId }, "session reused");
    return { reused: true };
  }

  async function markLost(session: LiveSession, server: string): Promise<void> {
    const { sessionId } = session.record;
    session.record = { ...session.record, state: "inactive" };
    logger.warn({ session_id: sessionId, server }, "MCP server exited: session marked inactive");
    await session.clients.close();
    if (live.get(sessionId) === session) await registry.put(session.record);
  }

  return {
    get size() {
      return live.size;
    },
    async init(input, signal) {
      checkInitInput(input);
      if (draining) throw shuttingDown();
      const credentialDigest = digest(input.apiUrl, input.jwtToken);
      try {
        return await queue.run(input.sessionId, credentialDigest, signal, async () => {
          return reuse(input, credentialDigest) ?? (await create(input, credentialDigest));
        });
      } catch (error) {
        const failure =
          error instanceof ServiceError
            ? { reason: error.reason, error: error.message }
            : { reason: "INTERNAL", err: error };
        logger.warn({ session_id: input.sessionId, ...failure }, "init failed");
        throw error;
      }
    },
    async open(sessionId, bearer) {
      checkSessionId(sessionId);
      if (draining) throw shuttingDown();
      if (bearer === undefined || bearer === "") throw mismatch();
      const session = live.get(sessionId);
      if (!session) throw notFound();
      if (!digestsEqual(session.record.tokenDigest, digest(bearer))) throw mismatch();
      if (session.record.state !== "active" || session.clients.lost) {
        throw new ServiceError(
          "MCP_SERVER_EXITED",
          "An MCP server of this session exited; call Init again to restart the session.",
        );
      }
      session.record = { ...session.record, lastUsedAtMs: now() };
      return session.clients;
    },
    async close(sessionId, bearer) {
      checkSessionId(sessionId);
      const session = live.get(sessionId);
      if (!session) return registry.delete(sessionId).then(() => false);
      if (bearer === undefined || !digestsEqual(session.record.tokenDigest, digest(bearer))) {
        throw mismatch();
      }
      live.delete(sessionId);
      await registry.delete(sessionId);
      await session.clients.close();
      logger.info({ session_id: sessionId }, "session closed");
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
      live.clear();
      await Promise.allSettled(
        sessions.map(async (s) => {
          await registry.delete(s.record.sessionId);
          await s.clients.close();
          logger.info({ session_id: s.record.sessionId }, "session closed: server shutting down");
        }),
      );
    },
  };
}

function mismatch(): ServiceError {
  return new ServiceError(
    "SESSION_CREDENTIALS_MISMATCH",
    "The request must carry the session's JWT as 'authorization: Bearer <token>'.",
  );
}

function notFound(): ServiceError {
  return new ServiceError("SESSION_NOT_FOUND", "No session has this id; call Init first.");
}

/** The error for work refused or ended because the server is shutting down. */
export function shuttingDown(): ServiceError {
  return new ServiceError(
    "SERVER_SHUTTING_DOWN",
    "The server is shutting down; retry on another instance.",
  );
}
