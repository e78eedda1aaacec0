import { setTimeout as delay } from "node:timers/promises";
import type { Tracer } from "@opentelemetry/api";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { defaultResource, resourceFromAttributes } from "@opentelemetry/resources";
import {
  BasicTracerProvider,
  BatchSpanProcessor,
  ParentBasedSampler,
  SimpleSpanProcessor,
  type SpanExporter,
  type SpanProcessor,
  TraceIdRatioBasedSampler,
} from "@opentelemetry/sdk-trace-base";
import type { Config } from "../config/types.js";
import type { Logger } from "../log/logger.js";
import { clientInfo } from "../mcp/version.js";
import type { HttpRoute } from "../rpc/http-route.js";
import { useAsyncContext } from "./context-manager.js";
import { logExportFailures } from "./log-export-failures.js";
import { noopTracer } from "./noop-tracer.js";
import { traceHttpRoute } from "./trace-http-route.js";

/** An app's tracing: its Tracer and what must be flushed at close. */
export interface Tracing {
  /** False when `tracing.enabled` is false: then `tracer` is noopTracer and nothing was started. */
  readonly enabled: boolean;
  readonly tracer: Tracer;
  /** `handler` traced as traceHttpRoute does; `handler` itself when disabled. */
  wrapHttpRoute(route: string, handler: HttpRoute): HttpRoute;
  /**
   * Exports the spans still buffered and stops the provider; waits at most
   * `waitMs` when given (the export goes on in the background). Never
   * rejects; idempotent.
   */
  shutdown(waitMs?: number): Promise<void>;
}

/** Seams of createTracing. */
export interface TracingOptions {
  readonly logger: Logger;
  /** Replaces OTLP/HTTP: each span goes to this exporter as it ends (tests). */
  readonly exporter?: SpanExporter | undefined;
}

// Bounds one OTLP request, and so what app.close() waits for an unreachable collector.
const exportTimeoutMs = 5_000;

/**
 * The tracing `config` asks for. Disabled: noopTracer, no provider, no
 * exporter. Enabled: a BasicTracerProvider of this app only (never
 * registered globally) with resource `service.name`, a
 * ParentBased(TraceIdRatio(`sampleRatio`)) sampler and a BatchSpanProcessor
 * that sends OTLP/HTTP (JSON) to `otlpEndpoint`; it also makes the API's
 * active context follow async work (see useAsyncContext).
 */
export function createTracing(config: Config["tracing"], options: TracingOptions): Tracing {
  if (!config.enabled) {
    return {
      enabled: false,
      tracer: noopTracer,
      wrapHttpRoute: (_route, handler) => handler,
      shutdown: async () => {},
    };
  }
  useAsyncContext();
  const { logger } = options;
  const processor: SpanProcessor =
    options.exporter === undefined
      ? new BatchSpanProcessor(
          logExportFailures(
            new OTLPTraceExporter({ url: config.otlpEndpoint, timeoutMillis: exportTimeoutMs }),
            logger,
          ),
          { exportTimeoutMillis: exportTimeoutMs },
        )
      : new SimpleSpanProcessor(options.exporter);
  const provider = new BasicTracerProvider({
    resource: defaultResource().merge(
      resourceFromAttributes({ "service.name": config.serviceName }),
    ),
    sampler: new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(config.sampleRatio) }),
    spanProcessors: [processor],
  });
  const tracer = provider.getTracer(clientInfo.name, clientInfo.version);
  let stopped: Promise<void> | undefined;
  return {
    enabled: true,
    tracer,
    wrapHttpRoute: (route, handler) => traceHttpRoute(tracer, route, handler),
    shutdown(waitMs) {
      stopped ??= provider.shutdown().catch((error: unknown) => {
        logger.warn({ err: error }, "tracing shutdown failed; buffered spans are lost");
      });
      if (waitMs === undefined) return stopped;
      return Promise.race([stopped, delay(Math.max(0, waitMs), undefined, { ref: false })]);
    },
  };
}
