import type { McpServerConfig } from "../config/types.js";
import { ServiceError } from "../errors.js";
import type { ProcessReservation } from "../process/process-budget.js";
import { type ConnectDeps, connectServer, type SessionCredentials } from "./connect-server.js";
import { createSessionClients, type SessionClients } from "./session-clients.js";

/**
 * Starts a session's MCP servers; rejects with `MCP_SERVER_START_FAILED`.
 * Spawned processes are taken from `reservation` (see `countProcesses`).
 */
export type StartSessionClients = (
  credentials: SessionCredentials,
  signal: AbortSignal,
  reservation: ProcessReservation,
) => Promise<SessionClients>;

/** How many processes one start of `servers` spawns: one per stdio server. */
export function countProcesses(servers: Readonly<Record<string, McpServerConfig>>): number {
  return Object.values(servers).filter((server) => server.type === "stdio").length;
}

/**
 * Creates the function that starts every configured server for a session,
 * in parallel. If any server fails, every server started for the session is
 * closed before the error is thrown, so a failed start leaves nothing behind.
 */
export function createSessionClientStarter(
  servers: Readonly<Record<string, McpServerConfig>>,
  deps: ConnectDeps,
): StartSessionClients {
  const entries = Object.entries(servers);
  return async (credentials, signal, reservation) => {
    const results = await Promise.allSettled(
      entries.map(([name, server]) =>
        connectServer(name, server, credentials, deps, signal, reservation),
      ),
    );
    const connections = results.flatMap((r) => (r.status === "fulfilled" ? [r.value] : []));
    const failedAt = results.findIndex((r) => r.status === "rejected");
    if (failedAt === -1) {
      return createSessionClients(connections, deps.config.limits.maxInFlightCallsPerSession);
    }
    await Promise.allSettled(connections.map((c) => c.close()));
    const failed = results[failedAt] as PromiseRejectedResult;
    const server = entries[failedAt]?.[0] ?? "?";
    if (signal.aborted) throw signal.reason;
    throw new ServiceError(
      "MCP_SERVER_START_FAILED",
      `MCP server "${server}" failed to start for this session.`,
      { metadata: { server }, cause: failed.reason },
    );
  };
}
