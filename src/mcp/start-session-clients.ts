import type { Tracer } from "@opentelemetry/api";
import type { McpServerConfig } from "../config/types.js";
import { ServiceError } from "../errors.js";
import type { ProcessReservation } from "../process/process-budget.js";
import { inSpan } from "../tracing/in-span.js";
import { noopTracer } from "../tracing/noop-tracer.js";
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
 * `deps.tracer` (default noopTracer) traces each server's start as
 * `mcp.connect <server>` and the session's tool calls (`mcp.tools/call`).
 */
export function createSessionClientStarter(
  servers: Readonly<Record<string, McpServerConfig>>,
  deps: ConnectDeps & { readonly tracer?: Tracer | undefined },
): StartSessionClients {
  const entries = Object.entries(servers);
  const tracer = deps.tracer ?? noopTracer;
  return async (credentials, signal, reservation) => {
    const results = await Promise.allSettled(
      entries.map(([name, server]) =>
        inSpan(tracer, `mcp.connect ${name}`, { "mcp.server.name": name }, () =>
          connectServer(name, server, credentials, deps, signal, reservation),
        ),
      ),
    );
    if (!signal.aborted) reportStarts(entries, results, deps.onServerStart);
    const connections = results.flatMap((r) => (r.status === "fulfilled" ? [r.value] : []));
    const failedAt = results.findIndex((r) => r.status === "rejected");
    if (failedAt === -1) {
      return createSessionClients(
        connections,
        deps.config.limits.maxInFlightCallsPerSession,
        tracer,
      );
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

function reportStarts(
  entries: readonly [string, McpServerConfig][],
  results: readonly PromiseSettledResult<unknown>[],
  report: ConnectDeps["onServerStart"],
): void {
  entries.forEach(([name], i) => {
    report?.(name, results[i]?.status === "fulfilled" ? "ok" : "failed");
  });
}
