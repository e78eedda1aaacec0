import type { Tracer } from "@opentelemetry/api";
import type { CredentialCheck } from "../credentials/credential-check.js";
import type { AuditLog } from "../log/audit.js";
import type { Logger } from "../log/logger.js";
import type { SessionClients } from "../mcp/session-clients.js";
import type { StartSessionClients } from "../mcp/start-session-clients.js";
import type { ProcessReservation } from "../process/process-budget.js";
import { inSpan } from "../tracing/in-span.js";
import type { CrashBudget } from "./crash-budget.js";
import { digest } from "./digest.js";
import type { InitInput } from "./init-request.js";
import type { LiveSession } from "./live-session.js";
import type { SessionRecord, SessionRegistry } from "./session-registry.js";
import type { SessionTable } from "./session-table.js";

/** What starting a session needs. */
export interface SessionStartDeps {
  readonly registry: SessionRegistry;
  readonly checkCredentials: CredentialCheck;
  readonly startClients: StartSessionClients;
  readonly logger: Logger;
  readonly audit: AuditLog;
  readonly now: () => number;
  readonly tracer: Tracer;
  readonly crashes: CrashBudget;
  readonly table: SessionTable;
}

/** An Init whose input passed the format checks, with what the checks found. */
export interface CheckedInit {
  readonly input: InitInput;
  readonly credentialDigest: string;
  readonly apiUrl: URL;
  readonly expiresAtMs: number | undefined;
}

/**
 * Creates the last steps of Init: the credential check, the MCP start (a
 * failed start counts as a crash), then storing the session in the registry
 * and the table, replacing (and closing) the clients it had. When `signal`
 * aborts before the session is stored, whatever was started is closed and
 * nothing is kept.
 */
export function createSessionStart(
  deps: SessionStartDeps,
): (
  init: CheckedInit,
  signal: AbortSignal,
  reservation: ProcessReservation,
) => Promise<{ reused: boolean }> {
  const { registry, audit, now, tracer, crashes, table } = deps;

  // Closes the clients a new start replaced, saying whether it was a restart.
  async function retire(previous: LiveSession, sessionId: string, log: Logger): Promise<void> {
    const server = previous.lostServer;
    if (server !== undefined) {
      log.info({ server }, "session restarted");
      audit({ event: "session_restarted", session_id: sessionId, server });
    } else {
      log.info("session replaced: previous MCP clients closed");
      audit({ event: "session_replaced", session_id: sessionId });
    }
    await previous.clients.close();
  }

  return async (init, signal, reservation) => {
    const { apiUrl } = init;
    const { sessionId, jwtToken } = init.input;
    const log = deps.logger.child({ session_id: sessionId });
    log.info("validating credentials");
    await inSpan(tracer, "init.credential_check", {}, () =>
      deps.checkCredentials(apiUrl, jwtToken, signal),
    );
    log.info("credentials validated");
    let clients: SessionClients;
    try {
      clients = await inSpan(tracer, "init.mcp_start", {}, () =>
        deps.startClients({ sessionId, apiUrl, jwtToken }, signal, reservation),
      );
    } catch (error) {
      if (!signal.aborted) crashes.record(sessionId);
      throw error;
    }
    const at = now();
    const record: SessionRecord = {
      sessionId,
      credentialDigest: init.credentialDigest,
      tokenDigest: digest(jwtToken),
      state: "active",
      servers: clients.servers,
      createdAtMs: at,
      lastUsedAtMs: at,
      ...(init.expiresAtMs === undefined ? {} : { expiresAtMs: init.expiresAtMs }),
    };
    try {
      // Nobody waits any more, or the server is stopping: keep nothing.
      if (signal.aborted) throw signal.reason;
      await registry.put(record);
    } catch (error) {
      await clients.close();
      throw error;
    }
    const previous = table.get(sessionId);
    table.add({ record, clients, lastUsedAtMs: at, apiUrl: init.input.apiUrl });
    clients.onToolCall = (call) =>
      audit({
        event: "tool_called",
        session_id: sessionId,
        server: call.server,
        tool: call.tool,
        duration_ms: call.durationMs,
        outcome: call.outcome,
        arguments: call.args,
      });
    log.info({ servers: clients.servers }, "MCP manager started");
    if (previous) await retire(previous, sessionId, log);
    return { reused: false };
  };
}
