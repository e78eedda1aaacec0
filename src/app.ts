import { setMaxListeners } from "node:events";
import { type ConnectRouter, createContextValues, type Interceptor } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import type { SpanExporter } from "@opentelemetry/sdk-trace-base";
import { Health } from "../gen/grpc/health/v1/health_pb.js";
import { ServerReflection } from "../gen/grpc/reflection/v1/reflection_pb.js";
import { ServerReflection as ServerReflectionV1alpha } from "../gen/grpc/reflection/v1alpha/reflection_pb.js";
import { SessionAdminService } from "../gen/mcpclient/v1/session_admin_service_pb.js";
import { SessionService } from "../gen/mcpclient/v1/session_service_pb.js";
import { type Caller, type CallerCredentials, createCallerAuth } from "./auth/caller-auth.js";
import type { Config, McpServerConfig } from "./config/types.js";
import { createCredentialCheck } from "./credentials/credential-check.js";
import { reasonOf } from "./errors.js";
import { createHealthRegistry, overallHealth } from "./health/health-registry.js";
import { createInitRateCheck } from "./limits/init-limits.js";
import { createAuditLog } from "./log/audit.js";
import type { Logger } from "./log/logger.js";
import {
  countProcesses,
  createSessionClientStarter,
  type StartSessionClients,
} from "./mcp/start-session-clients.js";
import { createServiceMetrics } from "./metrics/metrics.js";
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
import {
  createLivenessProbe,
  createReadinessProbe,
  livenessPath,
  readinessPath,
} from "./rpc/health-probes.js";
import { HealthServiceImpl } from "./rpc/health-service.js";
import type { HttpRequest, HttpResponse, HttpRoute } from "./rpc/http-route.js";
import { createInitAlias, initAliasPath } from "./rpc/init-alias.js";
import { createMetricsEndpoint, metricsPath } from "./rpc/metrics-endpoint.js";
import { createMetricsInterceptor } from "./rpc/metrics-interceptor.js";
import { connectionCredentials } from "./rpc/node-caller.js";
import { SessionAdminServiceImpl } from "./rpc/session-admin-service.js";
import { SessionServiceImpl } from "./rpc/session-service.js";
import { toConnectError } from "./rpc/to-connect-error.js";
import { createTracingInterceptor } from "./rpc/tracing-interceptor.js";
import { shuttingDown } from "./session/session-errors.js";
import { createSessionManager, type SessionManager } from "./session/session-manager.js";
import { createMemorySessionRegistry } from "./session/session-registry.js";
import { createTracing } from "./tracing/create-tracing.js";

/** A Node request handler for HTTP/1.1 and HTTP/2 alike. */
export type RequestHandler = (req: HttpRequest, res: HttpResponse) => void;

/** Seams for tests and embedders; production uses the defaults. */
export interface AppOptions {
  /** Outbound HTTP for the credential check and the built-in server. */
  readonly http?: OutboundClient;
  /** Resolves host names for the outbound policy (tests inject hostile DNS). */
  readonly resolve?: Resolver;
  /** Wraps the MCP server starter, for example to observe starts. */
  readonly wrapStartClients?: (start: StartSessionClients) => StartSessionClients;
  /** With `tracing.enabled`, spans go to this exporter as they end, instead of OTLP/HTTP. */
  readonly spanExporter?: SpanExporter;
}

/** The wired service, independent of any listener. */
export interface App {
  /**
   * Serves Connect, gRPC and gRPC-Web, plus `POST /init`, `GET /metrics`,
   * `GET /healthz` and `GET /readyz`.
   */
  readonly handler: RequestHandler;
  /** The route registration and interceptors, for in-memory transports. */
  readonly routes: (router: ConnectRouter) => void;
  readonly interceptors: Interceptor[];
  readonly sessions: SessionManager;
  /**
   * First reports NOT_SERVING for every health name (Check, Watch, `/readyz`
   * 503), and ends health watches; then refuses new Inits and calls with
   * UNAVAILABLE `SERVER_SHUTTING_DOWN`; running calls go on.
   */
  drain(): void;
  /**
   * Reports NOT_SERVING and ends health watches (as drain() does), ends
   * running handlers with `SERVER_SHUTTING_DOWN`, then closes every
   * session, within `budgetMs` when given (see SessionManager.closeAll).
   */
  close(budgetMs?: number): Promise<void>;
}

/** Wires config into the session manager, the services and the HTTP handler. */
export function createApp(config: Config, logger: Logger, options: AppOptions = {}): App {
  const tracing = createTracing(config.tracing, { logger, exporter: options.spanExporter });
  const http =
    options.http ?? createGuardedHttpClient(createOutboundPolicy(config.outbound), options.resolve);
  const metrics = createServiceMetrics({
    sessions: () => sessions.size,
    processes: () => processes.live,
    servers: Object.keys(config.mcpServers),
  });
  const checkCredentials = metrics.countCredentialChecks(
    createCredentialCheck({ http, ...config.credentialCheck }),
  );
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
    onServerStart: metrics.serverStarted,
    tracer: tracing.tracer,
  });
  const processesPerStart = countProcesses(config.mcpServers);
  const audit = metrics.observeAudit(createAuditLog(logger, config.audit));
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
    tracer: tracing.tracer,
  });
  const checkCaller = createCallerAuth({
    apiKeys: config.auth.apiKeys,
    requireClientCertificate: config.server.tls?.clientCaFile !== undefined,
    operatorCertificates: config.auth.operatorCertificates,
  });
  const authenticate = (credentials: CallerCredentials): Caller => {
    try {
      return checkCaller(credentials);
    } catch (error) {
      // Failed attempts (key guessing, missing certificates) leave a trace.
      const reason = reasonOf(error);
      audit({
        event: "auth_failed",
        reason,
        remote_address: credentials.remoteAddress ?? "unknown",
      });
      throw error;
    }
  };
  // The whole server ("") and both session services report SERVING until the drain.
  const health = createHealthRegistry([
    overallHealth,
    SessionService.typeName,
    SessionAdminService.typeName,
  ]);
  const routes = createRoutes(
    new SessionServiceImpl(sessions, config.tools),
    new HealthServiceImpl(health),
    new SessionAdminServiceImpl(sessions),
  );
  // Probes and load balancers check health without credentials; reflection only when configured.
  const anonymousServices = new Set<string>([
    Health.typeName,
    ...(config.auth.anonymous.reflection
      ? [ServerReflection.typeName, ServerReflectionV1alpha.typeName]
      : []),
  ]);
  const interceptors = [
    // Outermost: the server span covers every other interceptor and sees their codes.
    ...(tracing.enabled ? [createTracingInterceptor(tracing.tracer)] : []),
    createMetricsInterceptor(metrics.observeRpc),
    createErrorInterceptor(logger),
    createAuthInterceptor(authenticate, (name) => anonymousServices.has(name)),
  ];
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
  // Plain HTTP endpoints next to the RPCs, by exact path.
  const httpRoutes = new Map<string, HttpRoute>([
    [
      initAliasPath,
      tracing.wrapHttpRoute(
        initAliasPath,
        createInitAlias(
          sessions,
          authenticate,
          config.server.maxMessageBytes,
          logger,
          metrics.observeRpc,
        ),
      ),
    ],
    [
      metricsPath,
      createMetricsEndpoint(
        metrics.registry,
        config.auth.anonymous.metrics ? undefined : authenticate,
        logger,
      ),
    ],
    [livenessPath, createLivenessProbe()],
    [readinessPath, createReadinessProbe(health)],
  ]);
  return {
    handler(req, res) {
      const route = httpRoutes.get(pathOf(req.url));
      if (route) {
        void route(req, res);
        return;
      }
      adapter(req, res);
    },
    routes,
    interceptors,
    sessions,
    drain() {
      // Load balancers learn first, so that they stop sending before the refusals start.
      health.shutdown();
      sessions.drain();
    },
    async close(budgetMs) {
      const started = performance.now();
      health.shutdown();
      shutdown.abort(toConnectError(shuttingDown()));
      await sessions.closeAll(budgetMs);
      guardian.close();
      // Spans still queued get what is left of the budget to go out.
      const left = budgetMs === undefined ? undefined : budgetMs - (performance.now() - started);
      await tracing.shutdown(left);
    },
  };
}

// A request target's path: every RPC is looked up here, so no array is made for it.
function pathOf(url: string | undefined): string {
  if (url === undefined) return "";
  const query = url.indexOf("?");
  return query === -1 ? url : url.slice(0, query);
}

// The operator names the Streamable HTTP servers; those origins, and only
// those, are reachable by the MCP transport.
function mcpServersPolicy(servers: Readonly<Record<string, McpServerConfig>>): OutboundPolicy {
  const origins = Object.values(servers).flatMap((s) =>
    s.type === "http" ? [new URL(s.url).origin] : [],
  );
  return createOutboundPolicy({ profile: "production", allowedOrigins: origins });
}
