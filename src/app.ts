import { setMaxListeners } from "node:events";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Http2ServerRequest, Http2ServerResponse } from "node:http2";
import { type ConnectRouter, createContextValues, type Interceptor } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { type Caller, type CallerCredentials, createCallerAuth } from "./auth/caller-auth.js";
import type { Config, McpServerConfig } from "./config/types.js";
import { createCredentialCheck } from "./credentials/credential-check.js";
import { ServiceError } from "./errors.js";
import { createInitRateCheck } from "./limits/init-limits.js";
import { createAuditLog } from "./log/audit.js";
import type { Logger } from "./log/logger.js";
import {
  countProcesses,
  createSessionClientStarter,
  type StartSessionClients,
} from "./mcp/start-session-clients.js";
import { createGuardedFetch } from "./outbound/guarded-fetch.js";
import { createGuardedHttpClient } from "./outbound/guarded-http-client.js";
import type { Resolver } from "./outbound/guarded-lookup.js";
import type { OutboundClient } from "./outbound/http-client.js";
import { createOutboundPolicy, type OutboundPolicy } from "./outbound/outbound-policy.js";
import { createProcessGuardian } from "./process/guardian.js";
import { createProcessBudget } from "./process/process-budget.js";
import { createRoutes } from "./routes.js";
import { createAuthInterceptor } from "./rpc/auth-interceptor.js";
import { kCallerCredentials } from "./rpc/caller-context.js";
import { createErrorInterceptor } from "./rpc/error-interceptor.js";
import { createInitAlias, initAliasPath } from "./rpc/init-alias.js";
import { connectionCredentials } from "./rpc/node-caller.js";
import { SessionServiceImpl } from "./rpc/session-service.js";
import { toConnectError } from "./rpc/to-connect-error.js";
import { shuttingDown } from "./session/session-errors.js";
import { createSessionManager, type SessionManager } from "./session/session-manager.js";
import { createMemorySessionRegistry } from "./session/session-registry.js";

/** A Node request handler for HTTP/1.1 and HTTP/2 alike. */
export type RequestHandler = (
  req: IncomingMessage | Http2ServerRequest,
  res: ServerResponse | Http2ServerResponse,
) => void;

/** Seams for tests and embedders; production uses the defaults. */
export interface AppOptions {
  /** Outbound HTTP for the credential check and the built-in server. */
  readonly http?: OutboundClient;
  /** Resolves host names for the outbound policy (tests inject hostile DNS). */
  readonly resolve?: Resolver;
  /** Wraps the MCP server starter, for example to observe starts. */
  readonly wrapStartClients?: (start: StartSessionClients) => StartSessionClients;
}

/** The wired service, independent of any listener. */
export interface App {
  /** Serves Connect, gRPC and gRPC-Web, plus `POST /init`. */
  readonly handler: RequestHandler;
  /** The route registration and interceptors, for in-memory transports. */
  readonly routes: (router: ConnectRouter) => void;
  readonly interceptors: Interceptor[];
  readonly sessions: SessionManager;
  /** Refuses new Inits and calls with UNAVAILABLE `SERVER_SHUTTING_DOWN`; running calls go on. */
  drain(): void;
  /**
   * Ends running handlers with `SERVER_SHUTTING_DOWN`, then closes every
   * session, within `budgetMs` when given (see SessionManager.closeAll).
   */
  close(budgetMs?: number): Promise<void>;
}

/** Wires config into the session manager, the services and the HTTP handler. */
export function createApp(config: Config, logger: Logger, options: AppOptions = {}): App {
  const http =
    options.http ?? createGuardedHttpClient(createOutboundPolicy(config.outbound), options.resolve);
  const checkCredentials = createCredentialCheck({ http, ...config.credentialCheck });
  const fetch = createGuardedFetch(mcpServersPolicy(config.mcpServers), options.resolve);
  const processes = createProcessBudget(config.limits.maxChildProcesses);
  const guardian = createProcessGuardian(logger);
  const starter = createSessionClientStarter(config.mcpServers, {
    config,
    http,
    fetch,
    logger,
    processes,
    guardian,
  });
  const processesPerStart = countProcesses(config.mcpServers);
  const audit = createAuditLog(logger, config.audit);
  const sessions = createSessionManager({
    registry: createMemorySessionRegistry(),
    checkCredentials,
    startClients: options.wrapStartClients?.(starter) ?? starter,
    logger,
    checkInitRate: createInitRateCheck(config.limits),
    maxSessions: config.limits.maxSessions,
    reserveProcesses: () => processes.reserve(processesPerStart),
    lifetime: config.sessions,
    restart: config.sessions.restart,
    audit,
  });
  const checkCaller = createCallerAuth({
    apiKeys: config.auth.apiKeys,
    requireClientCertificate: config.server.tls?.clientCaFile !== undefined,
  });
  const authenticate = (credentials: CallerCredentials): Caller => {
    try {
      return checkCaller(credentials);
    } catch (error) {
      // Failed attempts (key guessing, missing certificates) leave a trace.
      const reason = error instanceof ServiceError ? error.reason : "INTERNAL";
      audit({
        event: "auth_failed",
        reason,
        remote_address: credentials.remoteAddress ?? "unknown",
      });
      throw error;
    }
  };
  const routes = createRoutes(new SessionServiceImpl(sessions, config.tools));
  const interceptors = [createErrorInterceptor(logger), createAuthInterceptor(authenticate)];
  const shutdown = new AbortController();
  // Every running request listens to it: there is no sensible maximum.
  setMaxListeners(0, shutdown.signal);
  const adapter = connectNodeAdapter({
    routes,
    interceptors,
    readMaxBytes: config.server.maxMessageBytes,
    maxTimeoutMs: config.server.maxTimeoutMs,
    shutdownSignal: shutdown.signal,
    contextValues: (req) =>
      createContextValues().set(kCallerCredentials, connectionCredentials(req)),
  });
  const initAlias = createInitAlias(sessions, authenticate, config.server.maxMessageBytes, logger);
  return {
    handler(req, res) {
      if (req.url?.split("?", 1)[0] === initAliasPath) {
        void initAlias(req, res);
        return;
      }
      adapter(req, res);
    },
    routes,
    interceptors,
    sessions,
    drain() {
      sessions.drain();
    },
    async close(budgetMs) {
      shutdown.abort(toConnectError(shuttingDown()));
      await sessions.closeAll(budgetMs);
      guardian.close();
    },
  };
}

// The operator names the Streamable HTTP servers; those origins, and only
// those, are reachable by the MCP transport.
function mcpServersPolicy(servers: Readonly<Record<string, McpServerConfig>>): OutboundPolicy {
  const origins = Object.values(servers).flatMap((s) =>
    s.type === "http" ? [new URL(s.url).origin] : [],
  );
  return createOutboundPolicy({ profile: "production", allowedOrigins: origins });
}
